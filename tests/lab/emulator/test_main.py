"""``python3 -m oci_emulator --config FILE`` as a process: exit codes, logs, no password."""

from __future__ import annotations

import signal
import smtplib
import socket
import subprocess
import sys
from base64 import b64encode
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from emu_support import (
    HERE,
    HOSTNAME,
    PASSWORD,
    PKI,
    RECIPIENT,
    SENDER,
    USERNAME,
    LoopbackSMTP,
    base_config,
    client_context,
    merged,
    message,
)
from oci_emulator.client import EmulatorClient


def write_config(folder: Path, config: dict[str, Any]) -> Path:
    path = folder / "emulator.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "oci_emulator", *args], cwd=HERE,
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("hostname: [unclosed\n", "(yaml)"),
        ("hostname: smtp.example\nbogus: 1\n", "bogus"),
        ("hostname: 42\n", "hostname"),
    ],
)
def test_invalid_config_exits_2_naming_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(text)
    result = run("--config", str(path))
    assert result.returncode == 2
    assert f"{path}: {key}: " in result.stderr


def test_wrong_type_in_a_full_config_exits_2(pki: PKI, state_dir: Path) -> None:
    path = write_config(state_dir, merged(base_config(pki, state_dir),
                                          {"limits": {"per_minute": "ten"}}))
    result = run("--config", str(path))
    assert result.returncode == 2
    assert "limits.per_minute: expected an integer" in result.stderr


def test_unreadable_certificate_exits_2_naming_the_key(pki: PKI, state_dir: Path) -> None:
    path = write_config(state_dir, merged(base_config(pki, state_dir),
                                          {"tls": {"cert": str(state_dir / "absent.crt")}}))
    result = run("--config", str(path), "--check")
    assert result.returncode == 2
    assert "tls.cert: cannot load" in result.stderr


def test_check_accepts_a_good_config(pki: PKI, state_dir: Path) -> None:
    result = run("--config", str(write_config(state_dir, base_config(pki, state_dir))), "--check")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.endswith(": ok\n")


def test_port_in_use_exits_1(pki: PKI, state_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = merged(base_config(pki, state_dir), {"listen": {"starttls_ports": [port]}})
        result = run("--config", str(write_config(state_dir, config)))
    assert result.returncode == 1
    assert "cannot start" in result.stderr and "in use" in result.stderr


@pytest.fixture
def process(pki: PKI, state_dir: Path) -> Iterator[subprocess.Popen[str]]:
    path = write_config(state_dir, base_config(pki, state_dir))
    proc = subprocess.Popen([sys.executable, "-m", "oci_emulator", "--config", str(path)],
                            cwd=HERE, stderr=subprocess.PIPE, text=True)
    yield proc
    if proc.poll() is None:
        proc.kill()
        proc.communicate(timeout=10)


def test_logs_every_event_and_never_the_password(
    process: subprocess.Popen[str], pki: PKI, state_dir: Path
) -> None:
    client = EmulatorClient(state_dir)
    client.wait_ready(timeout=15)
    port = client.port("starttls")
    for password in ("wrong " + PASSWORD, PASSWORD):
        smtp = LoopbackSMTP(HOSTNAME, port, timeout=5)
        smtp.starttls(context=client_context(pki))
        try:
            smtp.login(USERNAME, password)
            smtp.sendmail(SENDER, [RECIPIENT], message())
        except smtplib.SMTPAuthenticationError:
            pass
        smtp.quit()
    smtp = LoopbackSMTP(HOSTNAME, port, timeout=5)  # and once through a 334 challenge
    smtp.starttls(context=client_context(pki))
    smtp.ehlo()
    smtp.docmd("AUTH", "PLAIN")
    assert smtp.docmd(b64encode(f"\0{USERNAME}\0{PASSWORD}".encode()).decode())[0] == 235
    smtp.quit()
    client.wait_for_messages(1, timeout=5)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=15)
    assert process.returncode == 0
    assert "STARTTLS -> 220" in stderr
    assert " / 8BITMIME / AUTH PLAIN\n" in stderr  # EHLO after TLS, logged whole
    assert "AUTH -> 535 Authentication credentials invalid" in stderr
    assert "AUTH -> 235 Authentication successful" in stderr
    assert "AUTH -> 334" in stderr
    assert "MAIL -> 250 OK" in stderr
    assert "DATA -> 250 OK id=000001" in stderr
    assert "stored id=000001" in stderr
    assert f"login='{USERNAME}' refused" in stderr
    for secret in (PASSWORD, "wrong " + PASSWORD):
        assert secret not in stderr
        for prefix in ("", "\0"):
            blob = f"{prefix}\0{USERNAME}\0{secret}".encode()
            assert b64encode(blob).decode() not in stderr
    assert "s#s^w(o)r" not in stderr  # no fragment of it either
    assert not (state_dir / "control.sock").exists()
