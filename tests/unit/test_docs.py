"""The README's configuration reference is the schema's, and its example is a valid description."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ocirelay.config import validate
from ocirelay.loading import read_description

ROOT = Path(__file__).resolve().parents[2]


def test_readme_reference_is_generated_from_the_schema() -> None:
    spec = importlib.util.spec_from_file_location(
        "generate_config_reference", ROOT / "tools" / "generate_config_reference.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readme = (ROOT / "README.md").read_text()
    assert module.with_reference(readme) == readme, \
        "run: python tools/generate_config_reference.py"


def test_example_description_is_valid() -> None:
    loaded = read_description(ROOT / "examples" / "relay.yml")
    assert loaded.problems == []
    assert validate(loaded.values).config is not None
