"""Approved senders: envelope and header From, the null sender, suppression, parse errors."""

from __future__ import annotations

import smtplib
from collections.abc import Callable

import pytest
from emu_support import (
    PKI,
    RECIPIENT,
    SENDER,
    SUPPRESSED,
    Running,
    command,
    logged_in,
    message,
)


def send_raw(smtp: smtplib.SMTP, sender: str, raw: bytes, to: str = RECIPIENT) -> tuple[int, str]:
    """MAIL, RCPT, DATA by hand; the reply to the end of DATA."""
    assert command(smtp, f"MAIL FROM:<{sender}>") == (250, "OK")
    assert command(smtp, f"RCPT TO:<{to}>")[0] == 250
    code, text = smtp.data(raw)
    return code, text.decode()


@pytest.mark.parametrize("sender", [SENDER, "NoReply@Example.COM", "anyone@example.org"])
def test_approved_senders(emu: Running, pki: PKI, sender: str) -> None:
    smtp = logged_in(emu, pki)
    code, text = send_raw(smtp, sender, message(sender=sender))
    assert (code, text) == (250, "OK id=000001")
    smtp.quit()
    assert [m["envelope"]["mail_from"] for m in emu.client.messages()] == [sender]


@pytest.mark.parametrize(
    "sender", ["intruder@evil.example", "noreply@sub.example.org", "noreply@example.com.evil"]
)
def test_unapproved_envelope_sender(emu: Running, pki: PKI, sender: str) -> None:
    smtp = logged_in(emu, pki)
    assert command(smtp, f"MAIL FROM:<{sender}>") == (
        535, f"Authorization failed: address {sender} not authorized")
    smtp.quit()


def test_null_sender_is_refused(emu: Running, pki: PKI) -> None:
    # Bounces and autoreplies: Oracle refuses an empty envelope sender like an unapproved one.
    smtp = logged_in(emu, pki)
    assert command(smtp, "MAIL FROM:<>") == (535, "Authorization failed: address <> not authorized")
    assert emu.client.status()["auth_failures"] == {"127.0.0.1": 1}
    smtp.quit()


@pytest.mark.parametrize(
    "line", ["MAIL FROM:<not-an-address>", "MAIL FROM:<user@>", "MAIL FROM:<user@@example.com>"]
)
def test_invalid_sender_address(emu: Running, pki: PKI, line: str) -> None:
    smtp = logged_in(emu, pki)
    assert command(smtp, line) == (553, "Invalid email address")
    smtp.quit()


def test_invalid_recipient_address(emu: Running, pki: PKI) -> None:
    smtp = logged_in(emu, pki)
    command(smtp, f"MAIL FROM:<{SENDER}>")
    assert command(smtp, "RCPT TO:<nobody>") == (553, "Invalid email address")
    smtp.quit()


def test_data_without_recipients(emu: Running, pki: PKI) -> None:
    smtp = logged_in(emu, pki)
    command(smtp, f"MAIL FROM:<{SENDER}>")
    assert command(smtp, "DATA") == (503, "Need RCPT command")
    smtp.quit()


def test_header_from_must_match_the_envelope(emu: Running, pki: PKI) -> None:
    smtp = logged_in(emu, pki)
    # anyone@example.org is approved too, but it is not the envelope sender.
    code, text = send_raw(smtp, SENDER, message(sender="anyone@example.org"))
    assert (code, text) == (535, "Authorization failed: address anyone@example.org not authorized")
    smtp.quit()
    assert emu.client.messages() == []


def test_header_from_refusals_count_towards_the_throttle(emu: Running, pki: PKI) -> None:
    smtp = logged_in(emu, pki)
    foreign = message(sender="root@host.example")
    assert send_raw(smtp, SENDER, foreign)[0] == 535
    assert send_raw(smtp, SENDER, foreign)[0] == 535
    assert send_raw(smtp, SENDER, foreign) == (421, "Too many auth failures, try again later")
    with pytest.raises(smtplib.SMTPServerDisconnected):
        smtp.noop()


def test_header_from_compared_without_case(emu: Running, pki: PKI) -> None:
    smtp = logged_in(emu, pki)
    assert send_raw(smtp, SENDER, message(sender='"No Reply" <NOREPLY@example.com>'))[0] == 250
    smtp.quit()


def test_one_of_several_header_from_addresses_is_foreign(emu: Running, pki: PKI) -> None:
    smtp = logged_in(emu, pki)
    raw = message(sender=f"{SENDER}, root@host.example")
    assert send_raw(smtp, SENDER, raw) == (
        535, "Authorization failed: address root@host.example not authorized")
    smtp.quit()


def test_missing_header_from(emu: Running, pki: PKI) -> None:
    smtp = logged_in(emu, pki)
    raw = b"To: someone@example.net\r\nSubject: no From\r\n\r\nbody\r\n"
    assert send_raw(smtp, SENDER, raw) == (535, "Authorization failed: address <> not authorized")
    smtp.quit()


def test_looser_rule_accepts_any_approved_header_from(
    start: Callable[..., Running], pki: PKI
) -> None:
    emu = start(require_header_from_match=False)
    smtp = logged_in(emu, pki)
    assert send_raw(smtp, SENDER, message(sender="anyone@example.org"))[0] == 250
    assert send_raw(smtp, SENDER, message(sender="root@host.example")) == (
        535, "Authorization failed: address root@host.example not authorized")
    smtp.quit()


@pytest.mark.parametrize(
    "raw",
    [
        b"\r\njust a body, no headers\r\n",
        b"this line is not a header\r\nFrom: noreply@example.com\r\n\r\nbody\r\n",
    ],
)
def test_message_without_headers(emu: Running, pki: PKI, raw: bytes) -> None:
    smtp = logged_in(emu, pki)
    assert send_raw(smtp, SENDER, raw) == (554, "Message parse error")
    smtp.quit()


def test_header_section_over_256_kb(start: Callable[..., Running], pki: PKI) -> None:
    emu = start(limits={"max_message_bytes": 1_000_000})
    filler = b"".join(b"X-Filler-%04d: %s\r\n" % (i, b"y" * 960) for i in range(270))
    raw = f"From: {SENDER}\r\n".encode() + filler + b"\r\nbody\r\n"
    smtp = logged_in(emu, pki)
    assert send_raw(smtp, SENDER, raw) == (554, "Message parse error")
    smaller = f"From: {SENDER}\r\n".encode() + filler[: 200 * 980] + b"\r\nbody\r\n"
    assert send_raw(smtp, SENDER, smaller)[0] == 250
    smtp.quit()


def test_suppressed_recipients_are_accepted_not_delivered(emu: Running, pki: PKI) -> None:
    smtp = logged_in(emu, pki)
    refused = smtp.sendmail(SENDER, [RECIPIENT, SUPPRESSED.upper()], message())
    assert refused == {}
    smtp.quit()
    [record] = emu.client.messages()
    assert record["envelope"]["delivered"] == [RECIPIENT]
    assert record["envelope"]["suppressed"] == [SUPPRESSED.upper()]


def test_only_suppressed_recipients(emu: Running, pki: PKI) -> None:
    smtp = logged_in(emu, pki)
    assert send_raw(smtp, SENDER, message(to=SUPPRESSED), to=SUPPRESSED)[0] == 250
    smtp.quit()
    [record] = emu.client.messages()
    assert record["envelope"]["delivered"] == []
    assert record["envelope"]["suppressed"] == [SUPPRESSED]


def test_oracles_suppression_reply_can_be_chosen(start: Callable[..., Running], pki: PKI) -> None:
    emu = start(suppressed_reply="254 4.7.1 Suppression for user")
    smtp = logged_in(emu, pki)
    command(smtp, f"MAIL FROM:<{SENDER}>")
    assert command(smtp, f"RCPT TO:<{SUPPRESSED}>") == (254, "4.7.1 Suppression for user")
    assert command(smtp, f"RCPT TO:<{RECIPIENT}>") == (250, "OK")
    smtp.quit()
