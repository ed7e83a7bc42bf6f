"""Every molecule scenario on the lab, create → converge → idempotence → verify → destroy.

One test per scenario folder, so `make test` reports them with the rest; the lab's lock keeps
them one at a time. The last lines of molecule's output are shown when one fails.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))

pytestmark = pytest.mark.lab


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario: str) -> None:
    bin_dir = Path(sys.executable).parent
    # The scenarios run on the tests' own lab (containers ocirelay-test-*), so a person's lab
    # (ocirelay-*) is never reused or torn down by `make test`.
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
           "OCIRELAY_LAB_NAME": os.environ.get("OCIRELAY_LAB_NAME", "ocirelay-test"),
           "ANSIBLE_FORCE_COLOR": "0", "PY_COLORS": "0"}
    started = time.monotonic()
    result = subprocess.run([str(bin_dir / "molecule"), "test", "-s", scenario], cwd=ROOT,
                            env=env, capture_output=True, text=True, check=False)
    print(f"molecule test -s {scenario}: exit {result.returncode} in "
          f"{time.monotonic() - started:.0f} s")
    assert result.returncode == 0, (result.stdout + result.stderr)[-6000:]
