"""AUTH: PLAIN only, Oracle's 501/504/535 texts, AUTH before MAIL, and the per-IP throttle."""

from __future__ import annotations

import smtplib
from base64 import b64encode
from collections.abc import Callable

import pytest
from emu_support import (
    PASSWORD,
    PKI,
    RECIPIENT,
    USERNAME,
    Running,
    command,
    implicit,
    logged_in,
    message,
    plain,
    secured,
)


def plain_blob(login: str = USERNAME, password: str = PASSWORD, authzid: str = "") -> str:
    return b64encode(f"{authzid}\0{login}\0{password}".encode()).decode()


def test_good_credentials(emu: Running, pki: PKI) -> None:
    smtp = secured(emu, pki)
    assert command(smtp, f"AUTH PLAIN {plain_blob()}") == (235, "Authentication successful")
    smtp.quit()


def test_smtplib_login_on_both_ports(emu: Running, pki: PKI) -> None:
    for smtp in (secured(emu, pki), implicit(emu, pki)):
        code, _ = smtp.login(USERNAME, PASSWORD)
        assert code == 235
        smtp.quit()


def test_plain_with_a_challenge(emu: Running, pki: PKI) -> None:
    smtp = secured(emu, pki)
    assert command(smtp, "AUTH PLAIN") == (334, "")
    assert command(smtp, plain_blob()) == (235, "Authentication successful")
    smtp.quit()


@pytest.mark.parametrize("mechanism", ["LOGIN", "CRAM-MD5", "XOAUTH2", "login"])
def test_other_mechanisms_are_not_supported(emu: Running, pki: PKI, mechanism: str) -> None:
    smtp = secured(emu, pki)
    assert command(smtp, f"AUTH {mechanism}") == (504, "Method not supported")
    smtp.quit()


def test_smtplib_forced_to_login_is_refused(emu: Running, pki: PKI) -> None:
    smtp = secured(emu, pki)
    smtp.esmtp_features["auth"] = "LOGIN"  # pretend the server offered LOGIN
    with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        smtp.login(USERNAME, PASSWORD)
    assert refused.value.smtp_code == 504
    smtp.quit()


@pytest.mark.parametrize(
    ("argument", "reply"),
    [
        ("not*base64!", "Invalid command argument, not a valid Base64 string"),
        (b64encode(b"no separators at all").decode(),
         "Invalid command argument, does not contain NUL"),
        (b64encode(b"login\0password").decode(),
         "Invalid command argument, does not contain the second NUL"),
    ],
)
def test_malformed_plain(emu: Running, pki: PKI, argument: str, reply: str) -> None:
    smtp = secured(emu, pki)
    assert command(smtp, f"AUTH PLAIN {argument}") == (501, reply)
    smtp.quit()


def test_malformed_plain_after_a_challenge(emu: Running, pki: PKI) -> None:
    smtp = secured(emu, pki)
    command(smtp, "AUTH PLAIN")
    assert command(smtp, "%%%") == (501, "Invalid command argument, not a valid Base64 string")
    smtp.quit()


@pytest.mark.parametrize(
    "blob", [plain_blob(password="console-password"), plain_blob(login="someone-else")]
)
def test_wrong_credentials(emu: Running, pki: PKI, blob: str) -> None:
    smtp = secured(emu, pki)
    assert command(smtp, f"AUTH PLAIN {blob}") == (535, "Authentication credentials invalid")
    smtp.quit()


def test_second_auth_is_refused(emu: Running, pki: PKI) -> None:
    smtp = logged_in(emu, pki)
    assert command(smtp, f"AUTH PLAIN {plain_blob()}") == (503, "Already authenticated")
    smtp.quit()


@pytest.mark.parametrize(
    "line", ["MAIL FROM:<noreply@example.com>", "RCPT TO:<someone@example.net>", "DATA"]
)
def test_commands_before_auth(emu: Running, pki: PKI, line: str) -> None:
    smtp = secured(emu, pki)
    assert command(smtp, line) == (535, "Authentication required")
    smtp.quit()


def test_sendmail_without_login_fails(emu: Running, pki: PKI) -> None:
    smtp = secured(emu, pki)
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        smtp.sendmail("noreply@example.com", [RECIPIENT], message())
    assert (refused.value.smtp_code, refused.value.smtp_error) == (535, b"Authentication required")
    assert emu.client.messages() == []


def _fail_auth(emu: Running, pki: PKI) -> tuple[int, str]:
    smtp = secured(emu, pki)
    reply = command(smtp, f"AUTH PLAIN {plain_blob(password='wrong')}")
    smtp.close()
    return reply


def test_repeated_failures_throttle_the_ip(emu: Running, pki: PKI) -> None:
    assert _fail_auth(emu, pki)[0] == 535
    assert _fail_auth(emu, pki)[0] == 535
    smtp = secured(emu, pki)
    third = command(smtp, f"AUTH PLAIN {plain_blob(password='wrong')}")
    assert third == (421, "Too many auth failures, try again later")
    with pytest.raises(smtplib.SMTPServerDisconnected):
        smtp.noop()
    # New connections from the IP are refused, good credentials or not.
    with pytest.raises(smtplib.SMTPConnectError) as refused:
        plain(emu)
    assert refused.value.smtp_code == 421
    assert refused.value.smtp_error == b"Too many auth failures, try again later"
    assert emu.client.status()["auth_failures"] == {"127.0.0.1": 3}


def test_throttle_lifts_when_failures_age_out(emu: Running, pki: PKI) -> None:
    for _ in range(3):
        _fail_auth(emu, pki)
    with pytest.raises(smtplib.SMTPConnectError):
        plain(emu)
    emu.clock.advance(299)
    with pytest.raises(smtplib.SMTPConnectError):
        plain(emu)
    emu.clock.advance(2)
    logged_in(emu, pki).quit()


def test_failures_outside_the_window_do_not_add_up(emu: Running, pki: PKI) -> None:
    _fail_auth(emu, pki)
    _fail_auth(emu, pki)
    emu.clock.advance(301)
    assert _fail_auth(emu, pki)[0] == 535
    logged_in(emu, pki).quit()


def test_non_approved_senders_count_as_failures(emu: Running, pki: PKI) -> None:
    smtp = logged_in(emu, pki)
    assert command(smtp, "MAIL FROM:<intruder@evil.example>")[0] == 535
    assert command(smtp, "MAIL FROM:<>")[0] == 535
    assert command(smtp, "MAIL FROM:<other@evil.example>") == (
        421, "Too many auth failures, try again later")
    with pytest.raises(smtplib.SMTPServerDisconnected):
        smtp.noop()


def test_throttle_can_be_disabled(start: Callable[..., Running], pki: PKI) -> None:
    emu = start(auth_throttle={"max_failures": 0})
    for _ in range(5):
        assert _fail_auth(emu, pki)[0] == 535
    logged_in(emu, pki).quit()
