"""Print what the lab's OCI emulator recorded of the last accepted message (the demo's proof)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "lab" / "emulator"))

from oci_emulator.client import EmulatorClient  # noqa: E402


def main() -> int:
    state_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".lab" / "emulator-state"
    messages = EmulatorClient(str(state_dir)).messages()
    if not messages:
        print("the emulator recorded no message", file=sys.stderr)
        return 1
    m = messages[-1]
    rows = [
        ("accepted at", m["time"]),
        ("from client", f"{m['client']['ip']} (EHLO {m['client']['helo']})"),
        ("port", f"{m['listener']['port']} ({m['listener']['mode']})"),
        ("TLS", f"{m['tls']['version']} {m['tls']['cipher']}"),
        ("AUTH", f"{m['auth']['mechanism']} as {m['auth']['login']}"),
        ("MAIL FROM", m["envelope"]["mail_from"]),
        ("header From", ", ".join(m["headers"]["from"])),
        ("RCPT TO", ", ".join(m["envelope"]["rcpt_to"])),
        ("Subject", m["headers"]["subject"]),
    ]
    print(f"The OCI Email Delivery emulator recorded message {m['id']}:")
    for name, value in rows:
        print(f"  {name:<12} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
