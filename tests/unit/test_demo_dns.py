"""The demo's DNS step (tools/demo_dns.py) tells the truth: the check first fails on the
example's zones, and passes once the lines it suggested are published."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_demo_dns_fails_first_then_passes_with_its_own_suggestions() -> None:
    done = subprocess.run([sys.executable, str(REPO / "tools" / "demo_dns.py"),
                           str(REPO / "examples" / "relay.yml")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    before, after = done.stdout.split("-- The suggested lines published")
    assert "(exit 1)" in before and "4 error(s)" in before
    assert 'add     example.com. 3600 IN TXT "v=spf1 mx include:rp.oracleemaildelivery.com' \
        in before
    assert "(exit 0)" in after and "0 error(s), 0 warning(s), 6 ok" in after
