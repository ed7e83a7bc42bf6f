"""Helpers for the emulator's tests: a throwaway CA, a running emulator, loopback SMTP clients.

Everything runs on 127.0.0.1 with ports chosen by the system. The SMTP client classes below
connect to 127.0.0.1 whatever host name they are given (the name is only used for TLS
verification), so no test can reach a real mail server.
"""

from __future__ import annotations

import asyncio
import smtplib
import socket
import ssl
import subprocess
import threading
import warnings
from collections.abc import Coroutine
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar

from oci_emulator.client import EmulatorClient
from oci_emulator.clock import FakeClock
from oci_emulator.emulator import Emulator
from oci_emulator.settings import Settings

HERE = Path(__file__).resolve().parent
HOSTNAME = "smtp.email.us-ashburn-1.oci.oraclecloud.com"
WRONG_HOSTNAME = "smtp.email.eu-frankfurt-1.oci.oraclecloud.com"
USERNAME = "ocid1.user.oc1..aaaaexample@ocid1.tenancy.oc1..bbbbexample.ab.com"
# Every awkward character OCI passwords may hold (oci-facts.md); ASCII, as smtplib requires.
PASSWORD = "p: a;s#s^w(o)r'd\" x"
SENDER = "noreply@example.com"
RECIPIENT = "someone@example.net"
SUPPRESSED = "bounced@example.net"
LOOPBACK = "127.0.0.1"
T = TypeVar("T")


# --- a throwaway PKI ------------------------------------------------------------------------
@dataclass(frozen=True)
class PKI:
    ca: Path
    cert: Path
    key: Path
    wrong_cert: Path
    wrong_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _issue(folder: Path, name: str, hostname: str) -> None:
    _openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={hostname}",
             cwd=folder)
    (folder / f"{name}.ext").write_text(
        f"subjectAltName=DNS:{hostname}\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
    )
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-out", f"{name}.crt", "-extfile", f"{name}.ext",
             cwd=folder)


def make_pki(folder: Path) -> PKI:
    """A lab CA, a certificate for HOSTNAME and one for WRONG_HOSTNAME (openssl CLI)."""
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=ocirelay emulator test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)
    _issue(folder, "server", HOSTNAME)
    _issue(folder, "wrong", WRONG_HOSTNAME)
    return PKI(folder / "ca.crt", folder / "server.crt", folder / "server.key",
               folder / "wrong.crt", folder / "wrong.key")


# --- configuration --------------------------------------------------------------------------
def base_config(pki: PKI, state_dir: Path) -> dict[str, Any]:
    """A valid configuration as read from YAML: loopback, ports chosen by the system."""
    return {
        "hostname": HOSTNAME,
        "listen": {"address": LOOPBACK, "starttls_ports": [0], "tls_ports": [0]},
        "tls": {"cert": str(pki.cert), "key": str(pki.key),
                "wrong_cert": str(pki.wrong_cert), "wrong_key": str(pki.wrong_key)},
        "credentials": [{"username": USERNAME, "password": PASSWORD}],
        "approved_senders": [SENDER, "@example.org"],
        "suppressed_recipients": [SUPPRESSED],
        "limits": {"max_message_bytes": 10_000, "per_minute": 5, "per_day": 20},
        "auth_throttle": {"max_failures": 3, "window_seconds": 300},
        "faults": {"slow_seconds": 0.3},
        "state_dir": str(state_dir),
    }


def merged(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` applied; nested mappings are merged one level down."""
    result = dict(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = {**result[key], **value}
        else:
            result[key] = value
    return result


# --- a running emulator ---------------------------------------------------------------------
class Running:
    """An emulator on its own event loop in a background thread."""

    def __init__(self, settings: Settings, clock: FakeClock) -> None:
        self.settings = settings
        self.clock = clock
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.emulator = self.call(self._create())
        self.call(self.emulator.start())
        self.client = EmulatorClient(settings.state_dir)

    async def _create(self) -> Emulator:
        return Emulator(self.settings, self.clock)

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=10)

    def port(self, mode: str = "starttls") -> int:
        return next(item.port for item in self.emulator.listeners.all if item.mode == mode)

    def stop(self) -> None:
        """Stop the emulator and its loop (again: a no-op)."""
        if self.loop.is_closed():
            return
        try:
            self.call(self.emulator.stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
            self.loop.close()


# --- SMTP clients that can only reach loopback ----------------------------------------------
class LoopbackSMTP(smtplib.SMTP):
    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        return socket.create_connection((LOOPBACK, port), timeout)


class LoopbackSMTP_SSL(smtplib.SMTP_SSL):
    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        sock = socket.create_connection((LOOPBACK, port), timeout)
        return self.context.wrap_socket(sock, server_hostname=host)


def client_context(pki: PKI, legacy: bool = False) -> ssl.SSLContext:
    """Verifies the lab CA and the host name; ``legacy``: TLS 1.0-1.1 only."""
    context = ssl.create_default_context(cafile=str(pki.ca))
    if legacy:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
    return context


def plain(emu: Running, port: int | None = None, timeout: float = 5) -> LoopbackSMTP:
    """Connected to the STARTTLS port, before any command."""
    return LoopbackSMTP(HOSTNAME, port or emu.port("starttls"), timeout=timeout)


def secured(emu: Running, pki: PKI, timeout: float = 5) -> LoopbackSMTP:
    """Connected, EHLO, STARTTLS (verified), EHLO again."""
    smtp = plain(emu, timeout=timeout)
    smtp.starttls(context=client_context(pki))
    smtp.ehlo()
    return smtp


def implicit(emu: Running, pki: PKI, timeout: float = 5,
             context: ssl.SSLContext | None = None) -> LoopbackSMTP_SSL:
    """Connected to the implicit-TLS port (verified unless another context is given)."""
    return LoopbackSMTP_SSL(HOSTNAME, emu.port("tls"), context=context or client_context(pki),
                            timeout=timeout)


def logged_in(emu: Running, pki: PKI) -> LoopbackSMTP:
    smtp = secured(emu, pki)
    smtp.login(USERNAME, PASSWORD)
    return smtp


def command(smtp: smtplib.SMTP, line: str) -> tuple[int, str]:
    """Send one raw command line; the reply code and text."""
    code, text = smtp.docmd(line)
    return code, text.decode()


def message(sender: str = SENDER, to: str = RECIPIENT, subject: str = "lab test",
            body: str = "Hello from the lab.\n") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = "<test@example.com>"
    msg.set_content(body)
    return msg.as_bytes(policy=policy.SMTP)
