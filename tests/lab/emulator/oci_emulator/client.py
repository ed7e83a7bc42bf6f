"""Driving a running emulator from tests: fault switches, status and the message store.

Standard library only. ``state_dir`` is the emulator's state directory (bind-mounted from the
host when the emulator runs in a container): the client talks to ``control.sock`` in it and
reads the message records straight from ``messages/``.

    client = EmulatorClient("/path/to/state")
    client.set_faults(starttls_stripped=True)   # returns once in effect
    ...
    client.clear_faults()
    records = client.wait_for_messages(1, timeout=10)
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path
from typing import Any

from .store import read_records

CONTROL_SOCKET = "control.sock"
READY_POLL_SECONDS = 0.05


class EmulatorError(RuntimeError):
    """The emulator refused a request (``{"ok": false}``) or could not be reached."""


class EmulatorClient:
    def __init__(self, state_dir: str | Path, timeout: float = 10.0) -> None:
        self.state_dir = Path(state_dir)
        self.socket_path = self.state_dir / CONTROL_SOCKET
        self.timeout = timeout

    def request(self, op: str, *, wait: float | None = None, **fields: Any) -> dict[str, Any]:
        """Send one request; the reply without its "ok", or EmulatorError."""
        line = json.dumps({"op": op, **fields}).encode() + b"\n"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(self.timeout + (wait or 0.0))
            try:
                sock.connect(str(self.socket_path))
                sock.sendall(line)
                reply = _read_line(sock)
            except OSError as error:
                raise EmulatorError(f"emulator at {self.socket_path}: {error}") from error
        answer = json.loads(reply)
        if not answer.pop("ok", False):
            raise EmulatorError(answer.get("error", "request refused"))
        return answer

    def status(self) -> dict[str, Any]:
        return self.request("status")

    def set_faults(self, **flags: Any) -> dict[str, Any]:
        """Change fault switches (e.g. ``down=True``); returns the faults now in effect."""
        return self.request("set_faults", faults=flags)["faults"]

    def clear_faults(self) -> dict[str, Any]:
        """Back to the faults of the configuration file; returns them."""
        return self.request("clear_faults")["faults"]

    def set_limits(self, **limits: int) -> dict[str, int]:
        """Change the tenancy's limits (``per_minute``, ``per_day``, ``max_message_bytes``; 0 is
        unlimited for the counts); returns the limits now in effect."""
        return self.request("set_limits", limits=limits)["limits"]

    def reset(self) -> None:
        """Faults, limits, counters (sent, auth failures, statistics) and store as freshly
        started."""
        self.request("reset")

    def reset_store(self) -> None:
        self.request("reset_store")

    def messages(self) -> list[dict[str, Any]]:
        """Every stored message record, oldest first."""
        return read_records(self.state_dir)

    def wait_for_messages(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until the store holds at least ``n`` messages (the emulator answers when it
        does); TimeoutError after ``timeout`` seconds. Returns every record."""
        try:
            self.request("wait_for_messages", count=n, timeout=timeout, wait=timeout)
        except EmulatorError as error:
            if "timed out" in str(error):
                raise TimeoutError(str(error)) from error
            raise
        return self.messages()

    def wait_ready(self, timeout: float = 10.0) -> dict[str, Any]:
        """Wait for a starting emulator to answer on its control socket; returns its status.

        The socket file appears when the emulator is ready, and nothing announces it, so this
        checks for it every 50 ms until ``timeout``: a bounded wait for a condition.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.status()
            except EmulatorError:
                if time.monotonic() >= deadline:
                    raise
            time.sleep(READY_POLL_SECONDS)

    def port(self, mode: str) -> int:
        """The port of the first listener in ``mode`` ("starttls" or "tls")."""
        for listener in self.status()["listeners"]:
            if listener["mode"] == mode:
                return int(listener["port"])
        raise EmulatorError(f"no {mode} listener")


def _read_line(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            raise EmulatorError("the emulator closed the control connection without a reply")
        chunks.append(chunk)
        if chunk.endswith(b"\n"):
            return b"".join(chunks)
