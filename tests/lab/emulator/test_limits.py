"""The tenancy's limits: message size (EHLO SIZE, 552) and messages per minute and per day (455).

Time is the emulator's fake clock: tests move it instead of waiting.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable

import pytest
from emu_support import PKI, RECIPIENT, SENDER, Running, command, logged_in, message

PER_MINUTE = "Maximum messages sent per minute reached : limit is {}"
PER_DAY = "Maximum messages sent per day reached : limit is {}"


def send(smtp: smtplib.SMTP) -> None:
    smtp.sendmail(SENDER, [RECIPIENT], message())


def mail_reply(smtp: smtplib.SMTP) -> tuple[int, str]:
    reply = command(smtp, f"MAIL FROM:<{SENDER}>")
    command(smtp, "RSET")
    return reply


def test_size_is_advertised(emu: Running, pki: PKI) -> None:
    smtp = logged_in(emu, pki)
    assert smtp.esmtp_features["size"] == "10000"
    smtp.quit()


def test_declared_size_over_the_limit(emu: Running, pki: PKI) -> None:
    smtp = logged_in(emu, pki)
    assert command(smtp, f"MAIL FROM:<{SENDER}> SIZE=10001") == (552, "Exceeds byte limit")
    assert command(smtp, f"MAIL FROM:<{SENDER}> SIZE=10000") == (250, "OK")
    smtp.quit()


def test_data_over_the_limit(emu: Running, pki: PKI) -> None:
    smtp = logged_in(emu, pki)
    big = message(body=("x" * 70 + "\n") * 150)
    assert len(big) > 10_000
    command(smtp, f"MAIL FROM:<{SENDER}>")  # no SIZE declared: caught on the data itself
    command(smtp, f"RCPT TO:<{RECIPIENT}>")
    code, text = smtp.data(big)
    assert (code, text) == (552, b"Exceeds byte limit")
    assert emu.client.messages() == []
    smtp.quit()


def test_smtplib_declares_the_size_and_is_refused(emu: Running, pki: PKI) -> None:
    smtp = logged_in(emu, pki)
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        smtp.sendmail(SENDER, [RECIPIENT], message(body="y" * 11_000))
    assert (refused.value.smtp_code, refused.value.smtp_error) == (552, b"Exceeds byte limit")


def test_per_minute_limit(emu: Running, pki: PKI) -> None:
    smtp = logged_in(emu, pki)
    for _ in range(5):
        send(smtp)
    assert mail_reply(smtp) == (455, PER_MINUTE.format(5))
    emu.clock.advance(59.9)
    assert mail_reply(smtp) == (455, PER_MINUTE.format(5))
    emu.clock.advance(0.2)
    send(smtp)
    smtp.quit()
    assert len(emu.client.messages()) == 6


def test_per_minute_window_slides(emu: Running, pki: PKI) -> None:
    smtp = logged_in(emu, pki)
    for _ in range(4):
        send(smtp)
    emu.clock.advance(30)
    send(smtp)  # the fifth, 30 s after the first four
    assert mail_reply(smtp)[0] == 455
    emu.clock.advance(31)  # the first four leave the window; the fifth stays
    for _ in range(4):
        send(smtp)
    assert mail_reply(smtp) == (455, PER_MINUTE.format(5))
    smtp.quit()


def test_limit_checked_again_at_end_of_data(emu: Running, pki: PKI) -> None:
    """Two sessions pass MAIL together; the one finishing after the limit is full gets 455."""
    first, second = logged_in(emu, pki), logged_in(emu, pki)
    for _ in range(4):
        send(first)
    for smtp in (first, second):
        assert command(smtp, f"MAIL FROM:<{SENDER}>") == (250, "OK")
        assert command(smtp, f"RCPT TO:<{RECIPIENT}>")[0] == 250
    assert first.data(message())[0] == 250
    assert second.data(message()) == (455, PER_MINUTE.format(5).encode())
    first.quit()
    second.quit()


def test_per_day_limit(start: Callable[..., Running], pki: PKI) -> None:
    emu = start(limits={"per_minute": 0, "per_day": 3})
    smtp = logged_in(emu, pki)
    for _ in range(3):
        send(smtp)
        emu.clock.advance(3600)
    assert mail_reply(smtp) == (455, PER_DAY.format(3))
    emu.clock.advance(86_400 - 3 * 3600 + 1)  # the first leaves the 24-hour window
    send(smtp)
    assert mail_reply(smtp) == (455, PER_DAY.format(3))
    smtp.quit()


def test_refused_messages_do_not_count(emu: Running, pki: PKI) -> None:
    smtp = logged_in(emu, pki)
    for _ in range(6):
        command(smtp, f"MAIL FROM:<{SENDER}>")
        command(smtp, f"RCPT TO:<{RECIPIENT}>")
        assert smtp.data(b"\r\nno headers\r\n")[0] == 554
    send(smtp)
    smtp.quit()
    assert emu.client.status()["limits"]["per_minute"] == {"limit": 5, "used": 1}


def test_no_limits(start: Callable[..., Running], pki: PKI) -> None:
    emu = start(limits={"per_minute": 0, "per_day": 0})
    smtp = logged_in(emu, pki)
    for _ in range(12):
        send(smtp)
    smtp.quit()
    assert len(emu.client.messages()) == 12
