"""The relay roles' meta/argument_specs.yml and defaults/main.yml agree with ocirelay/schema.py."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ocirelay.render import OS_CA_BUNDLES
from ocirelay.schema import KEYS, PREFIX

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

import generate_argument_specs as generator  # noqa: E402

ROLES = sorted(generator.ROLES)


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_file_is_generated_from_the_schema(role: str) -> None:
    path = generator.spec_path(role)
    assert path.read_text(encoding="utf-8") == generator.render(role), (
        f"{path.relative_to(REPO)} differs from ocirelay/schema.py: run "
        "python tools/generate_argument_specs.py")


@pytest.mark.parametrize("role", ROLES)
def test_every_schema_key_is_documented_with_its_rules(role: str) -> None:
    options = load(generator.spec_path(role))["argument_specs"]["main"]["options"]
    for key in KEYS:
        spec = options[key.name]
        assert spec["type"] == key.type
        assert spec.get("elements") == key.elements
        assert spec.get("required", False) == key.required
        assert spec.get("choices") == (list(key.choices) if key.choices else None)
        assert spec.get("no_log", False) == key.secret
        assert spec["description"][0] == key.description
        if key.default is not None and not key.default_text:
            assert spec["default"] == key.default
        else:
            assert "default" not in spec
        if key.default_text:
            assert any(key.default_text in line for line in spec["description"])
    unknown = {name for name in options if name.startswith(PREFIX)} - {k.name for k in KEYS}
    assert not unknown, f"argument specs document keys the schema does not have: {unknown}"


@pytest.mark.parametrize("role", ROLES)
def test_role_defaults_match_the_schema_and_the_specs(role: str) -> None:
    defaults_file = REPO / "roles" / role / "defaults" / "main.yml"
    defaults: dict[str, Any] = (load(defaults_file) or {}) if defaults_file.exists() else {}
    by_name = {key.name: key for key in KEYS}
    for name, value in defaults.items():
        if name.startswith(PREFIX):
            key = by_name.get(name)
            assert key is not None, f"{name} in {defaults_file} is not a schema key"
            assert not key.required and not key.default_text, (
                f"{name} is required or computed by the engine: no role default")
            assert value == key.default, f"{name}: role default {value!r}, schema {key.default!r}"
    own = generator.ROLES[role].options
    role_defaults = {k: v for k, v in defaults.items() if not k.startswith(PREFIX)}
    assert set(role_defaults) == set(own), "defaults/main.yml and the generator's role options"
    for name, value in role_defaults.items():
        assert own[name].get("default") == value, name


def test_role_ca_bundles_match_the_engine() -> None:
    for family, bundle in OS_CA_BUNDLES.items():
        family_vars = load(REPO / "roles" / "postfix_relay" / "vars" / f"{family}.yml")
        assert family_vars["postfix_relay_ca_bundle"] == bundle


def test_check_mode_of_the_generator_passes() -> None:
    assert generator.main(["--check"]) == 0
