"""Fixtures for the emulator's tests (helpers live in emu_support.py)."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from emu_support import PKI, Running, base_config, make_pki, merged  # noqa: E402
from oci_emulator.clock import FakeClock  # noqa: E402
from oci_emulator.settings import parse  # noqa: E402


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def state_dir() -> Iterator[Path]:
    """A short path: the control socket inside must fit in a Unix socket address."""
    path = Path(tempfile.mkdtemp(prefix="oe-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def start(pki: PKI, state_dir: Path) -> Iterator[Callable[..., Running]]:
    """``start(**overrides)`` runs an emulator with base_config + overrides; stopped after."""
    running: list[Running] = []

    def _start(**overrides: Any) -> Running:
        settings = parse(merged(base_config(pki, state_dir), overrides), HERE)
        emulator = Running(settings, FakeClock())
        running.append(emulator)
        return emulator

    yield _start
    for emulator in running:
        emulator.stop()


@pytest.fixture
def emu(start: Callable[..., Running]) -> Running:
    return start()
