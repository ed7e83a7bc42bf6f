"""Run the real Postfix tools against a rendered config directory."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

POSTFIX_TOOLS = ("postconf", "postfix", "postmap")


def require_postfix() -> None:
    missing = [tool for tool in POSTFIX_TOOLS
               if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists()]
    if missing:
        pytest.fail(f"Postfix tools missing ({', '.join(missing)}): run .ci/run or "
                    "`apt-get install postfix` (No configuration)")


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False,
                          env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})


def postconf(config_dir: Path, *flags: str) -> dict[str, str]:
    """`postconf FLAGS -c DIR` as a dict; fails the test on any warning."""
    result = run("postconf", *flags, "-c", str(config_dir))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    pairs = (line.split(" = ", 1) for line in result.stdout.splitlines() if " = " in line)
    return {name: value for name, value in pairs}


def postfix_check(config_dir: Path) -> None:
    result = run("postfix", "-c", str(config_dir), "check")
    assert result.returncode == 0 and result.stderr == "", result.stderr


def postmap_query(config_dir: Path, table: str, key: str) -> str | None:
    result = run("postmap", "-c", str(config_dir), "-q", key, table)
    if result.returncode == 1:
        return None
    assert result.returncode == 0, result.stderr
    return result.stdout.removesuffix("\n")


def settle(config_dir: Path) -> Path:
    """Backdate freshly written files: Postfix re-reads a file whose mtime is under two seconds
    old (a guard against half-written files), which costs each tool call up to 2 s."""
    past = time.time() - 10
    for path in config_dir.iterdir():
        os.utime(path, (past, past))
    return config_dir
