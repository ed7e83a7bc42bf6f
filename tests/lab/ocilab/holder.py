"""Which running process a lab's owner stands for, and whether it still runs.

A lab brought up for a molecule scenario or a test session is refused to everyone else. If that
run is killed (a CI timeout, Ctrl-C, a closed terminal), its state file would refuse every later
run forever. So the state records the process whose life bounds the use (the molecule or pytest
process above labctl, else labctl's parent) by pid, start time and boot: once that process has
ended, the owner is gone and the lab is a leftover anyone may clear.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

PROC = Path("/proc")
BOOT_ID = PROC / "sys/kernel/random/boot_id"
# Runs whose lifetime is the lab's use; the nearest such ancestor holds the lab.
HOLDER_PROGRAMS = ("molecule", "pytest", "py.test")


def boot_id() -> str:
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return ""


def start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat (clock ticks since boot), or None when the process is gone."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and ')': split after its last ')'.
    fields = stat[stat.rindex(")") + 2:].split()
    return fields[19]


def parent_of(pid: int) -> int | None:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return int(stat[stat.rindex(")") + 2:].split()[1])


def runs_program(pid: int, programs: tuple[str, ...]) -> bool:
    try:
        argv = (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    # `molecule test`, `python -m pytest`, `.venv/bin/pytest`: the program is argv[0] or argv[1..2].
    names = {os.path.basename(arg.decode(errors="replace")) for arg in argv[:3] if arg}
    return bool(names & set(programs))


def holder_pid(start: int | None = None) -> int:
    """The nearest molecule/pytest ancestor of `start` (default: this process), else its parent."""
    pid = start if start is not None else os.getpid()
    first_parent = parent_of(pid) or pid
    current: int | None = pid
    while current and current > 1:
        if runs_program(current, HOLDER_PROGRAMS):
            return current
        current = parent_of(current)
    return first_parent


def holder_record(start: int | None = None) -> dict[str, Any]:
    pid = holder_pid(start)
    return {"pid": pid, "start_time": start_time(pid), "boot_id": boot_id()}


def holder_alive(record: dict[str, Any] | None) -> bool:
    """True while the recorded process runs. A state without a record (older labs) counts as
    alive: refusing stays the safe answer when nothing says otherwise."""
    if not record or "pid" not in record:
        return True
    if record.get("boot_id") != boot_id():
        return False
    return start_time(int(record["pid"])) == record.get("start_time")
