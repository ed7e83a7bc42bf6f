#!/usr/bin/env python3
"""Drive the lab's OCI Email Delivery emulator from the hestia scenario's playbooks (controller).

    emulator.py reset                     faults, limits, counters and stored messages cleared
    emulator.py faults NAME=BOOL ...      switch faults (starttls_stripped, wrong_certificate, ...)
    emulator.py clear-faults
    emulator.py messages                  every stored record, as JSON (without the raw message)
    emulator.py wait N [TIMEOUT]          block until N messages are stored (bounded), print them
    emulator.py status

Output is JSON on stdout. The emulator's state directory is the lab's (.lab/emulator-state, or
the one of the lab OCIRELAY_LAB_NAME names).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "tests" / "lab" / "emulator"), str(REPO / "tests" / "lab")]

from oci_emulator.client import EmulatorClient  # noqa: E402
from ocilab.layout import EMULATOR_STATE_ON_HOST  # noqa: E402


def summary(record: dict[str, Any]) -> dict[str, Any]:
    """A record without the raw message (the scenario asserts on envelope, headers, TLS, AUTH)."""
    return {key: value for key, value in record.items() if key != "raw"}


def boolean(text: str) -> bool:
    if text.lower() in ("true", "yes", "1", "on"):
        return True
    if text.lower() in ("false", "no", "0", "off"):
        return False
    raise SystemExit(f"not a boolean: {text!r}")


def main(argv: list[str]) -> int:
    client = EmulatorClient(EMULATOR_STATE_ON_HOST)
    command, args = (argv[0], argv[1:]) if argv else ("status", [])
    result: Any
    if command == "reset":
        client.reset()
        result = {"reset": True}
    elif command == "faults":
        result = client.set_faults(**{k: boolean(v) for k, v in (a.split("=", 1) for a in args)})
    elif command == "clear-faults":
        result = client.clear_faults()
    elif command == "messages":
        result = [summary(record) for record in client.messages()]
    elif command == "wait":
        timeout = float(args[1]) if len(args) > 1 else 30.0
        result = [summary(record) for record in client.wait_for_messages(int(args[0]), timeout)]
    elif command == "status":
        result = client.status()
    else:
        raise SystemExit(__doc__)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
