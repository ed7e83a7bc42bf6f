"""Shared fixtures: a valid relay description and a way to write variants of it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

# Every awkward character OCI passwords may hold (oci-facts.md), in one lab-only fake.
AWKWARD_PASSWORD = "p: a;s#s^w(o)r'd\" x"

VALID: dict[str, Any] = {
    "oci_relay_region": "us-ashburn-1",
    "oci_relay_username": "ocid1.user.oc1..aaaaexample@ocid1.tenancy.oc1..bbbbexample.ab.com",
    "oci_relay_password": AWKWARD_PASSWORD,
    "oci_relay_approved_senders": ["noreply@example.com", "@example.org"],
}


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
