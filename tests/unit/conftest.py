"""Shared fixtures: a valid relay description and a way to write variants of it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from relay_samples import VALID


@pytest.fixture
def description(tmp_path: Path) -> Callable[..., Path]:
    """Write VALID with overrides (None removes a key) to a YAML file; return its path."""

    def write(**overrides: Any) -> Path:
        values = {**VALID, **overrides}
        values = {k: v for k, v in values.items() if v is not None}
        path = tmp_path / "relay.yml"
        path.write_text(yaml.safe_dump(values, sort_keys=False), encoding="utf-8")
        return path

    return write
