"""The demo's DNS step: `ocirelay dns` against a real Knot server on loopback.

The example's domains (example.com, alerts.example.com) are served the way a new user's zones
usually look: an SPF record without Oracle, no DMARC, no DKIM for the selector. The check names
each problem and the zone-file lines to publish; those lines are then added to the zones, Knot
reloads them, and the same check passes. Nothing leaves loopback.

    .venv/bin/python tools/demo_dns.py examples/relay.yml
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "unit"))

from dns_zones import MX, ORACLE_ZONE, txt  # noqa: E402  (the tests' zones and server)
from knot_server import Knot, Record  # noqa: E402

SELECTOR = "demo1"
BEFORE: dict[str, list[Record]] = {
    "example.com": [MX, txt("@", "v=spf1 mx -all")],
    "alerts.example.com": [MX],
}


def check(description: Path, knot: Knot) -> tuple[int, dict[str, Any]]:
    """`ocirelay dns` as a user runs it: shown, then read again as JSON."""
    command = [str(Path(sys.executable).with_name("ocirelay")), "dns", str(description),
               "--nameserver", f"{knot.address[0]}:{knot.address[1]}", "--timeout", "2"]
    shown = subprocess.run(command, check=False)
    as_json = subprocess.run([*command, "--json"], capture_output=True, text=True, check=False)
    return shown.returncode, json.loads(as_json.stdout)


def with_suggestions(records: list[Record], origin: str,
                     findings: list[dict[str, Any]]) -> list[str]:
    """The zone without the records the findings replace, plus the lines they publish."""
    mine = [f for f in findings if f["domain"] == origin]
    replaced = [line for f in mine for line in f["replaces"]]
    kept = [r.line() for r in records if not any(r.matches(origin, line) for line in replaced)]
    return kept + [f["publish"] for f in mine if f["publish"]]


def main(argv: list[str]) -> int:
    source = Path(argv[1] if len(argv) > 1 else REPO / "examples" / "relay.yml")
    with tempfile.TemporaryDirectory(prefix="ocirelay-demo-dns-") as workdir:
        description = Path(workdir) / "relay.yml"
        description.write_text(source.read_text(encoding="utf-8")
                               + f"oci_relay_dkim_selectors: [{SELECTOR}]\n", encoding="utf-8")
        zones = {origin: [r.line() for r in records] for origin, records in BEFORE.items()}
        zones["oracleemaildelivery.com"] = [r.line() for r in ORACLE_ZONE]
        knot = Knot(Path(workdir) / "knot", zones)
        knot.start()
        try:
            print(f"-- Knot serves {', '.join(BEFORE)} on {knot.address[0]}:{knot.address[1]}, "
                  "as a new user's zones often are")
            code, report = check(description, knot)
            print(f"(exit {code})")
            for origin, records in BEFORE.items():
                knot.replace_zone(origin, with_suggestions(records, origin, report["findings"]))
            print("\n-- The suggested lines published (Knot reloaded); the same check again")
            code, report = check(description, knot)
            print(f"(exit {code})")
            return 0 if report["status"] != "error" else 1
        finally:
            knot.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
