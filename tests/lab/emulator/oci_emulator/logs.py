"""Logging to stderr: one line per SMTP event, never a password.

The emulator logs each command it answers (verb and reply, never the command's argument, so
never an AUTH response), connections, TLS handshakes, logins by name, stored messages and
control requests. aiosmtpd's own logger is held at WARNING: its lower levels echo client input.
"""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup(level: str, stream: object = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.setFormatter(logging.Formatter(FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("oci_emulator").setLevel(level.upper())
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    logging.getLogger("asyncio").setLevel(logging.WARNING)
