"""Every invalid description stops playbooks/site.yml before any host is touched, with the
engine's message. The inventory's host can never be reached (its podman is /bin/false), so the
play proves it stopped before the first connection: no task ran on the host, nothing changed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import playbook_runs
import pytest
from relay_samples import AWKWARD_PASSWORD, VALID

from ocirelay.config import validate

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"

BAD_INPUTS: dict[str, tuple[dict[str, Any], str]] = {
    "unknown region": ({"oci_relay_region": "us-ashbrun-1"}, "oci_relay_region"),
    "port 25": ({"oci_relay_port": 25}, "oci_relay_port"),
    "empty password": ({"oci_relay_password": ""}, "oci_relay_password"),
    "unapproved default sender": ({"oci_relay_default_sender": "cron@other.example.net"},
                                  "oci_relay_default_sender"),
    "tls level may": ({"oci_relay_tls_level": "may"}, "oci_relay_tls_level"),
}


def run_site(tmp_path: Path, values: dict[str, Any], *extra: str
             ) -> subprocess.CompletedProcess[str]:
    return playbook_runs.run_site(playbook_runs.unreachable_inventory(tmp_path, values), *extra)


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
@pytest.mark.parametrize("mode", ["apply", "check"])
def test_bad_input_stops_before_the_host_is_touched(tmp_path: Path, case: str,
                                                   mode: str) -> None:
    overrides, key = BAD_INPUTS[case]
    values = {**VALID, **overrides}
    result = run_site(tmp_path, values, *(["--check", "--diff"] if mode == "check" else []))
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "nothing on the host was changed" in output
    problems = [p for p in validate(values).problems if p.severity == "error"]
    assert [p.key for p in problems] == [key]
    for line in problems[0].as_text().splitlines():
        assert line.strip() in output, f"engine message line missing: {line!r}"
    assert "UNREACHABLE" not in output and "unreachable=0" in output
    assert "changed=0" in output
    # No later play started: validation of every host comes first.
    assert output.count("PLAY [") == 1
    assert AWKWARD_PASSWORD not in output


def test_every_problem_is_reported_at_once_and_no_secret_even_at_vvv(tmp_path: Path) -> None:
    values = {**VALID, "oci_relay_region": "us-ashbrun-1", "oci_relay_port": 25,
              "oci_relay_tls_level": "may",
              "oci_relay_default_sender": "cron@other.example.net",
              "oci_relay_password": f" {AWKWARD_PASSWORD}"}
    result = run_site(tmp_path, values, "--check", "--diff", "-vvv")
    output = result.stdout + result.stderr
    assert result.returncode == 2
    assert "has 5 error(s)" in output
    for key in ("oci_relay_region", "oci_relay_port", "oci_relay_tls_level",
                "oci_relay_default_sender", "oci_relay_password"):
        assert f"error: {key}:" in output
    assert AWKWARD_PASSWORD not in output
    assert json.dumps(AWKWARD_PASSWORD)[1:-1] not in output


def test_a_valid_description_passes_validation_then_needs_the_host(tmp_path: Path) -> None:
    """The control: with a valid description the run goes on and tries the (absent) host."""
    result = run_site(tmp_path, VALID, "--check")
    output = result.stdout + result.stderr
    assert output.count("PLAY [") > 1 and "UNREACHABLE" in output
    assert "nothing on the host was changed" not in output
    assert AWKWARD_PASSWORD not in output
