"""The project's linters, run as tests so `make test` has one verdict: ruff, yamllint,
ansible-lint (production profile)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
YAML_DIRS = ["examples", "inventories", "playbooks", "roles", "molecule", ".yamllint",
             ".ansible-lint"]


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}", "NO_COLOR": "1"}
    return subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, env=env, check=False)


@pytest.mark.parametrize(
    "argv",
    [
        ["ruff", "check", "ocirelay", "tools", "tests", "molecule", "benchmarks"],
        ["yamllint", "-s", *YAML_DIRS],
        ["ansible-lint", "-q"],
    ],
    ids=["ruff", "yamllint", "ansible-lint"],
)
def test_linter_is_clean(argv: list[str]) -> None:
    result = run(str(BIN / argv[0]), *argv[1:])
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
