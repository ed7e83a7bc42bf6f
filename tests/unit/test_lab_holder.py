"""The lab's owner record: a run that has ended no longer holds the lab."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab"))

from ocilab import holder


def test_this_pytest_run_holds_and_is_alive() -> None:
    record = holder.holder_record()
    assert holder.runs_program(record["pid"], holder.HOLDER_PROGRAMS)
    assert holder.holder_alive(record)


def test_a_reaped_process_is_not_alive() -> None:
    process = subprocess.Popen(["cat"], stdin=subprocess.PIPE)
    record = {"pid": process.pid, "start_time": holder.start_time(process.pid),
              "boot_id": holder.boot_id()}
    assert holder.holder_alive(record)
    assert process.stdin is not None
    process.stdin.close()
    process.wait(timeout=10)
    assert not holder.holder_alive(record)


def test_a_reused_pid_is_not_the_holder() -> None:
    record = holder.holder_record()
    record["start_time"] = str(int(record["start_time"]) + 1)
    assert not holder.holder_alive(record)


def test_another_boot_is_not_alive() -> None:
    record = holder.holder_record()
    record["boot_id"] = "00000000-0000-0000-0000-000000000000"
    assert not holder.holder_alive(record)


def test_without_a_record_the_owner_counts_as_alive() -> None:
    assert holder.holder_alive(None)
    assert holder.holder_alive({})


def test_a_molecule_process_holds_the_lab_for_its_children() -> None:
    """labctl runs under ansible under molecule: the molecule process is the one that holds."""
    lab_dir = str(Path(__file__).resolve().parents[1] / "lab")
    child = ("import os, sys; sys.path.insert(0, sys.argv[1]); from ocilab import holder; "
             "print(holder.holder_pid(), os.getppid())")
    # (argv[0] "molecule" leaves sys.executable empty: the interpreter comes as an argument)
    parent = "import subprocess, sys; subprocess.run([sys.argv[1], '-c', *sys.argv[2:]])"
    # argv[0] "molecule": the parent looks like molecule to /proc; its child asks who holds
    out = subprocess.run(["molecule", "-c", parent, sys.executable, child, lab_dir],
                         executable=sys.executable, capture_output=True, text=True,
                         check=True).stdout.split()
    holder_pid, parent_pid = out
    assert holder_pid == parent_pid
    assert holder_pid != str(os.getpid())
