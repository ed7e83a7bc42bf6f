"""The control channel: JSON lines over the Unix socket, and the client on top of it."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from emu_support import PKI, RECIPIENT, SENDER, Running, command, logged_in, message
from oci_emulator.client import EmulatorClient, EmulatorError


def exchange(emu: Running, *lines: bytes) -> list[dict[str, Any]]:
    """Send raw lines on one connection; one decoded reply per line."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(str(emu.settings.control_socket))
        reader = sock.makefile("rb")
        replies = []
        for line in lines:
            sock.sendall(line + b"\n")
            replies.append(json.loads(reader.readline()))
        return replies


def test_several_requests_on_one_connection(emu: Running) -> None:
    replies = exchange(
        emu,
        b'{"op": "set_faults", "faults": {"slow": true}}',
        b'{"op": "status"}',
        b'{"op": "clear_faults"}',
    )
    assert [reply["ok"] for reply in replies] == [True, True, True]
    assert replies[0]["faults"]["slow"] is True
    assert replies[1]["active_faults"] == ["slow"]
    assert replies[2]["faults"]["slow"] is False


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b"not json", "Expecting value"),
        (b"[1, 2]", 'a JSON object with a string "op"'),
        (b'{"op": "explode"}', "unknown op 'explode'"),
        (b'{"op": "set_faults"}', 'needs "faults"'),
        (b'{"op": "set_limits", "limits": {"per_hour": 1}}', "limits.per_hour: unknown limit"),
        (b'{"op": "wait_for_messages"}', 'needs "count"'),
        (b'{"op": "wait_for_messages", "count": 1, "timeout": -1}', '"timeout" must be'),
    ],
)
def test_bad_requests_get_an_error_and_the_connection_stays(
    emu: Running, line: bytes, error: str
) -> None:
    bad, good = exchange(emu, line, b'{"op": "status"}')
    assert bad["ok"] is False
    assert error in bad["error"]
    assert good["ok"] is True


def test_status(emu: Running, pki: PKI) -> None:
    smtp = logged_in(emu, pki)
    smtp.sendmail(SENDER, [RECIPIENT], message())
    smtp.quit()
    status = emu.client.status()
    assert status["hostname"] == emu.settings.hostname
    assert status["messages"] == 1
    assert status["limits"] == {"per_minute": {"limit": 5, "used": 1},
                                "per_day": {"limit": 20, "used": 1},
                                "max_message_bytes": 10_000}
    assert status["stats"]["connections"] == 1
    assert status["stats"]["tls_handshakes"] == 1
    assert status["stats"]["replies"]["235"] == 1
    assert status["clock"] == emu.clock.now()


def test_wait_for_messages_returns_when_they_arrive(emu: Running, pki: PKI) -> None:
    result: dict[str, Any] = {}
    waiting = threading.Thread(
        target=lambda: result.update(records=emu.client.wait_for_messages(2, timeout=10))
    )
    waiting.start()
    smtp = logged_in(emu, pki)
    smtp.sendmail(SENDER, [RECIPIENT], message(subject="one"))
    smtp.sendmail(SENDER, [RECIPIENT], message(subject="two"))
    smtp.quit()
    waiting.join(timeout=10)
    assert [r["headers"]["subject"] for r in result["records"]] == ["one", "two"]


def test_wait_for_messages_already_there(emu: Running, pki: PKI) -> None:
    smtp = logged_in(emu, pki)
    smtp.sendmail(SENDER, [RECIPIENT], message())
    smtp.quit()
    assert len(emu.client.wait_for_messages(1, timeout=0)) == 1


def test_wait_for_messages_times_out(emu: Running) -> None:
    with pytest.raises(TimeoutError, match="0 of 1 messages"):
        emu.client.wait_for_messages(1, timeout=0.1)


def test_set_limits_at_run_time(emu: Running, pki: PKI) -> None:
    assert emu.client.set_limits(per_day=1, max_message_bytes=5_000) == {
        "max_message_bytes": 5_000, "per_minute": 5, "per_day": 1}
    smtp = logged_in(emu, pki)  # a new session sees the new size
    assert smtp.esmtp_features["size"] == "5000"
    smtp.sendmail(SENDER, [RECIPIENT], message())
    assert command(smtp, f"MAIL FROM:<{SENDER}>") == (
        455, "Maximum messages sent per day reached : limit is 1")
    smtp.quit()


def test_reset_returns_to_the_configuration(emu: Running, pki: PKI) -> None:
    smtp = logged_in(emu, pki)
    smtp.sendmail(SENDER, [RECIPIENT], message())
    command(smtp, "MAIL FROM:<intruder@evil.example>")
    smtp.quit()
    emu.client.set_limits(per_minute=1)
    emu.client.set_faults(slow=True)
    emu.client.reset()
    status = emu.client.status()
    assert status["messages"] == 0 and emu.client.messages() == []
    assert status["active_faults"] == []
    assert status["auth_failures"] == {}
    assert status["limits"]["per_minute"] == {"limit": 5, "used": 0}
    assert status["stats"]["connections"] == 0


def test_client_without_an_emulator(tmp_path: Path) -> None:
    client = EmulatorClient(tmp_path, timeout=1)
    with pytest.raises(EmulatorError, match=r"control\.sock"):
        client.status()
    with pytest.raises(EmulatorError):
        client.wait_ready(timeout=0.1)
    assert client.messages() == []


def test_wait_ready_on_a_running_emulator(emu: Running) -> None:
    assert emu.client.wait_ready(timeout=1)["hostname"] == emu.settings.hostname
    assert emu.client.port("tls") == emu.port("tls")


def test_control_socket_removed_on_stop(start: Callable[..., Running]) -> None:
    emu = start()
    assert emu.settings.control_socket.is_socket()
    emu.stop()
    assert not emu.settings.control_socket.exists()
