"""Fault switches, flipped through the control socket: each takes effect before the ack."""

from __future__ import annotations

import smtplib
import socket
import ssl
import time
from collections.abc import Callable

import pytest
from emu_support import (
    HOSTNAME,
    PKI,
    RECIPIENT,
    SENDER,
    WRONG_HOSTNAME,
    LoopbackSMTP,
    Running,
    client_context,
    command,
    implicit,
    logged_in,
    message,
    plain,
    secured,
)
from oci_emulator.client import EmulatorError


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except ConnectionRefusedError:
        return True
    return False


# --- down ----------------------------------------------------------------------------------
def test_down_refuses_connections_and_up_listens_again(emu: Running, pki: PKI) -> None:
    ports = emu.port("starttls"), emu.port("tls")
    assert emu.client.set_faults(down=True)["down"] is True
    assert all(refused(port) for port in ports)
    assert [item["listening"] for item in emu.client.status()["listeners"]] == [False, False]
    emu.client.set_faults(down=False)
    assert (emu.port("starttls"), emu.port("tls")) == ports
    logged_in(emu, pki).quit()
    implicit(emu, pki).quit()


def test_down_drops_live_sessions(emu: Running, pki: PKI) -> None:
    smtp = logged_in(emu, pki)
    emu.client.set_faults(down=True)
    assert emu.client.status()["sessions"] == 0
    with pytest.raises(smtplib.SMTPServerDisconnected):
        smtp.sendmail(SENDER, [RECIPIENT], message())


def test_configured_down_starts_without_listening(start: Callable[..., Running],
                                                  pki: PKI) -> None:
    emu = start(faults={"down": True})
    assert not any(item["listening"] for item in emu.client.status()["listeners"])
    emu.client.clear_faults()  # back to the configuration: still down
    assert not any(item["listening"] for item in emu.client.status()["listeners"])
    emu.client.set_faults(down=False)
    logged_in(emu, pki).quit()


# --- throttled -----------------------------------------------------------------------------
@pytest.mark.parametrize(("code", "text"), [(421, b"Too many connections, try again later"),
                                            (451, b"Server error")])
def test_throttled_at_connect(emu: Running, pki: PKI, code: int, text: bytes) -> None:
    emu.client.set_faults(throttled=True, throttled_code=code, throttled_at="connect")
    with pytest.raises(smtplib.SMTPConnectError) as refusal:
        plain(emu)
    assert (refusal.value.smtp_code, refusal.value.smtp_error) == (code, text)
    with pytest.raises(smtplib.SMTPConnectError):
        implicit(emu, pki)  # after the TLS handshake, in place of the greeting
    emu.client.set_faults(throttled=False)
    logged_in(emu, pki).quit()


def test_throttled_421_at_mail_closes(emu: Running, pki: PKI) -> None:
    emu.client.set_faults(throttled=True, throttled_code=421, throttled_at="mail")
    smtp = logged_in(emu, pki)  # connect, TLS and AUTH are untouched
    assert command(smtp, f"MAIL FROM:<{SENDER}>") == (421, "Too many connections, try again later")
    with pytest.raises(smtplib.SMTPServerDisconnected):
        smtp.noop()


def test_throttled_451_at_mail_keeps_the_session(emu: Running, pki: PKI) -> None:
    emu.client.set_faults(throttled=True, throttled_code=451, throttled_at="mail")
    smtp = logged_in(emu, pki)
    assert command(smtp, f"MAIL FROM:<{SENDER}>") == (451, "Server error")
    emu.client.set_faults(throttled=False)
    assert command(smtp, f"MAIL FROM:<{SENDER}>") == (250, "OK")
    smtp.quit()


# --- STARTTLS stripped ---------------------------------------------------------------------
def test_starttls_stripped(emu: Running, pki: PKI) -> None:
    emu.client.set_faults(starttls_stripped=True)
    smtp = plain(emu)
    smtp.ehlo()
    assert not smtp.has_extn("starttls")
    with pytest.raises(smtplib.SMTPNotSupportedError):
        smtp.starttls(context=client_context(pki))
    assert command(smtp, "STARTTLS") == (454, "TLS not available due to temporary reason")
    assert command(smtp, f"MAIL FROM:<{SENDER}>") == (530, "Must issue a STARTTLS command first")
    smtp.quit()
    emu.client.clear_faults()
    secured(emu, pki).quit()


# --- certificates --------------------------------------------------------------------------
def test_wrong_certificate_fails_host_name_verification(emu: Running, pki: PKI) -> None:
    emu.client.set_faults(wrong_certificate=True)
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        plain(emu).starttls(context=client_context(pki))
    with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
        implicit(emu, pki)


@pytest.mark.parametrize("mode", ["starttls", "tls"])
def test_wrong_certificate_is_for_another_name_from_the_lab_ca(
    emu: Running, pki: PKI, mode: str
) -> None:
    emu.client.set_faults(wrong_certificate=True)
    trusting = client_context(pki)
    trusting.check_hostname = False  # chain still verified against the lab CA
    smtp = plain(emu) if mode == "starttls" else implicit(emu, pki, context=trusting)
    if mode == "starttls":
        smtp.starttls(context=trusting)
    assert ("DNS", WRONG_HOSTNAME) in smtp.sock.getpeercert()["subjectAltName"]
    smtp.quit()
    emu.client.set_faults(wrong_certificate=False)
    verified = secured(emu, pki)
    assert ("DNS", HOSTNAME) in verified.sock.getpeercert()["subjectAltName"]
    verified.quit()


def test_wrong_certificate_needs_one_configured(start: Callable[..., Running]) -> None:
    emu = start(tls={"wrong_cert": None, "wrong_key": None})
    with pytest.raises(EmulatorError, match="wrong_cert"):
        emu.client.set_faults(wrong_certificate=True)
    assert emu.client.status()["faults"]["wrong_certificate"] is False


# --- TLS 1.1 only ---------------------------------------------------------------------------
def test_tls_max_1_1_fails_modern_clients(emu: Running, pki: PKI) -> None:
    emu.client.set_faults(tls_max_1_1=True)
    with pytest.raises(ssl.SSLError):
        plain(emu).starttls(context=client_context(pki))
    with pytest.raises(ssl.SSLError):
        implicit(emu, pki)


def test_tls_max_1_1_speaks_tls_1_1(emu: Running, pki: PKI) -> None:
    """The local OpenSSL can do TLS 1.1 at security level 0: the fault really serves it."""
    emu.client.set_faults(tls_max_1_1=True)
    legacy = client_context(pki, legacy=True)
    smtp = plain(emu)
    smtp.starttls(context=legacy)
    assert smtp.sock.version() == "TLSv1.1"
    smtp.quit()
    smtp = implicit(emu, pki, context=legacy)
    assert smtp.sock.version() == "TLSv1.1"
    smtp.quit()
    emu.client.set_faults(tls_max_1_1=False)
    secured(emu, pki).quit()


# --- slow -----------------------------------------------------------------------------------
def test_slow_delays_every_reply(emu: Running, pki: PKI) -> None:
    smtp = logged_in(emu, pki)
    emu.client.set_faults(slow=True, slow_seconds=0.3)
    began = time.monotonic()
    assert smtp.noop()[0] == 250
    assert command(smtp, "RSET")[0] == 250
    assert time.monotonic() - began >= 0.6
    emu.client.set_faults(slow=False)
    began = time.monotonic()
    smtp.noop()
    assert time.monotonic() - began < 0.3
    smtp.quit()


def test_slow_greeting_outlasts_a_short_client_timeout(emu: Running) -> None:
    emu.client.set_faults(slow=True, slow_seconds=1.0)
    with pytest.raises(smtplib.SMTPServerDisconnected, match="timed out"):
        LoopbackSMTP(HOSTNAME, emu.port(), timeout=0.2)


# --- changing faults ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("flags", "key"),
    [
        ({"dowm": True}, "faults.dowm"),
        ({"down": "yes"}, "faults.down"),
        ({"throttled_code": 500}, "faults.throttled_code"),
        ({"throttled_at": "rcpt"}, "faults.throttled_at"),
        ({"slow_seconds": -1}, "faults.slow_seconds"),
        ({"slow": True, "slow_seconds": "fast"}, "faults.slow_seconds"),
    ],
)
def test_invalid_fault_changes_are_refused_whole(
    emu: Running, flags: dict[str, object], key: str
) -> None:
    before = emu.client.status()["faults"]
    with pytest.raises(EmulatorError, match=f"^{key}: "):
        emu.client.set_faults(**flags)
    assert emu.client.status()["faults"] == before


def test_status_lists_active_faults(emu: Running) -> None:
    emu.client.set_faults(starttls_stripped=True, slow=True)
    assert emu.client.status()["active_faults"] == ["starttls_stripped", "slow"]
    emu.client.clear_faults()
    assert emu.client.status()["active_faults"] == []


def test_coming_back_up_on_a_taken_port_is_reported(emu: Running) -> None:
    port = emu.port("starttls")
    emu.client.set_faults(down=True)
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        with pytest.raises(EmulatorError, match="in use"):
            emu.client.set_faults(down=False)
    emu.client.set_faults(down=False)  # the port is free again
    assert all(item["listening"] for item in emu.client.status()["listeners"])
