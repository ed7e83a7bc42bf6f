"""Listeners and TLS: STARTTLS on the submission port, TLS from the first byte on 465, TLS 1.2
or newer with Oracle's TLS 1.2 suites, and nothing but EHLO/HELO/STARTTLS/NOOP/RSET/QUIT
before TLS."""

from __future__ import annotations

import logging
import socket
import ssl
from collections.abc import Callable

import pytest
from emu_support import (
    HOSTNAME,
    PKI,
    Running,
    client_context,
    command,
    implicit,
    plain,
    secured,
)


def test_ehlo_before_tls_offers_starttls_and_no_auth(emu: Running) -> None:
    smtp = plain(emu)
    code, _ = smtp.ehlo()
    assert code == 250
    assert smtp.has_extn("starttls")
    assert not smtp.has_extn("auth")
    assert smtp.esmtp_features["size"] == "10000"
    smtp.quit()


def test_greeting_names_the_region_host(emu: Running) -> None:
    sock = socket.create_connection(("127.0.0.1", emu.port()), timeout=5)
    with sock:
        greeting = sock.recv(1024).decode()
    assert greeting.startswith(f"220 {HOSTNAME} ")


def test_starttls_verifies_against_the_lab_ca(emu: Running, pki: PKI) -> None:
    smtp = secured(emu, pki)
    assert smtp.sock.version() in ("TLSv1.2", "TLSv1.3")
    peer = smtp.sock.getpeercert()
    assert ("DNS", HOSTNAME) in peer["subjectAltName"]
    assert smtp.has_extn("auth")
    assert smtp.esmtp_features["auth"].strip() == "PLAIN"
    assert smtp.esmtp_features["size"] == "10000"
    assert not smtp.has_extn("starttls")
    smtp.quit()


def test_implicit_tls_port(emu: Running, pki: PKI) -> None:
    smtp = implicit(emu, pki)
    smtp.ehlo()
    assert smtp.sock.version() in ("TLSv1.2", "TLSv1.3")
    assert smtp.esmtp_features["auth"].strip() == "PLAIN"
    assert not smtp.has_extn("starttls")
    smtp.quit()


def test_plain_text_on_the_implicit_tls_port_gets_no_smtp(emu: Running) -> None:
    with socket.create_connection(("127.0.0.1", emu.port("tls")), timeout=5) as sock:
        sock.sendall(b"EHLO client\r\n")
        assert not sock.recv(1024).startswith(b"2")


# asyncio's TLS layer drops the connection on a failed handshake without sending the TLS alert,
# so the client sees an EOF in the handshake; the emulator's log says why (the same legacy
# client does complete a TLS 1.1 handshake with the tls_max_1_1 fault: see test_faults.py).
def test_tls_1_1_is_refused_on_starttls(
    emu: Running, pki: PKI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="oci_emulator")
    with pytest.raises(ssl.SSLError):
        plain(emu).starttls(context=client_context(pki, legacy=True))
    emu.client.status()  # a round trip through the emulator's loop: its log line is written
    assert "TLS handshake failed: [SSL: UNSUPPORTED_PROTOCOL]" in caplog.text


def test_tls_1_1_is_refused_on_implicit_tls(
    emu: Running, pki: PKI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="oci_emulator")
    with pytest.raises(ssl.SSLError):
        implicit(emu, pki, context=client_context(pki, legacy=True))
    emu.client.status()
    expected = f"port={emu.port('tls')} TLS handshake failed: [SSL: UNSUPPORTED_PROTOCOL]"
    assert expected in caplog.text
    implicit(emu, pki).quit()  # while a modern client gets through


def _tls12_with(cipher: str, pki: PKI) -> ssl.SSLContext:
    context = client_context(pki)
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers(cipher)
    return context


def test_tls12_suites_are_oracles_list(emu: Running, pki: PKI) -> None:
    good = plain(emu)
    good.starttls(context=_tls12_with("ECDHE-ECDSA-AES128-SHA256", pki))
    assert good.sock.cipher()[0] == "ECDHE-ECDSA-AES128-SHA256"
    good.quit()
    with pytest.raises(ssl.SSLError):  # CBC with SHA-1: not on Oracle's list
        plain(emu).starttls(context=_tls12_with("ECDHE-ECDSA-AES128-SHA", pki))


@pytest.mark.parametrize(
    "line",
    [
        "AUTH PLAIN AHVzZXIAcGFzcw==",
        "AUTH LOGIN",
        "MAIL FROM:<noreply@example.com>",
        "RCPT TO:<someone@example.net>",
        "DATA",
        "VRFY someone@example.net",
        "HELP",
        "XYZZY",
    ],
)
def test_commands_before_tls_get_530(emu: Running, line: str) -> None:
    smtp = plain(emu)
    smtp.ehlo()
    assert command(smtp, line) == (530, "Must issue a STARTTLS command first")
    smtp.quit()


@pytest.mark.parametrize("line", ["NOOP", "RSET", "HELO client.example", "EHLO client.example"])
def test_commands_allowed_before_tls(emu: Running, line: str) -> None:
    smtp = plain(emu)
    code, _ = command(smtp, line)
    assert code == 250
    smtp.quit()


def test_auth_before_starttls_is_counted(emu: Running) -> None:
    smtp = plain(emu)
    smtp.ehlo()
    command(smtp, "AUTH PLAIN AHVzZXIAcGFzcw==")
    smtp.quit()
    assert emu.client.status()["stats"]["cleartext_auth_attempts"] == 1


def test_second_starttls_is_refused(emu: Running, pki: PKI) -> None:
    smtp = secured(emu, pki)
    assert command(smtp, "STARTTLS") == (503, "TLS already active")
    smtp.quit()


def test_port_25_listener_behaves_like_587(start: Callable[..., Running], pki: PKI) -> None:
    emu = start(listen={"starttls_ports": [0, 0]})
    ports = [item.port for item in emu.emulator.listeners.all if item.mode == "starttls"]
    assert len(set(ports)) == 2
    for port in ports:
        smtp = plain(emu, port=port)
        smtp.ehlo()
        assert smtp.has_extn("starttls") and not smtp.has_extn("auth")
        smtp.starttls(context=client_context(pki))
        smtp.ehlo()
        assert smtp.has_extn("auth")
        smtp.quit()


def test_idle_client_gets_421_and_is_dropped(start: Callable[..., Running]) -> None:
    emu = start(session_timeout=0.2)
    with socket.create_connection(("127.0.0.1", emu.port()), timeout=5) as sock:
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"220 ")
        sock.sendall(b"EHLO client.example\r\n")
        while reader.readline().startswith(b"250-"):
            pass
        # Silence: the emulator's own timer fires (the test only waits for its reply).
        assert reader.readline() == b"421 Timeout waiting for data from client\r\n"
        assert reader.readline() == b""  # and the connection is closed
