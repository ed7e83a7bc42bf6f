"""The roles' filter plugin (roles/oci_relay_common/filter_plugins/ocirelay.py) is the engine:
same problems and same bytes as the CLI, and never a secret in what it returns or raises."""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError
from relay_samples import AWKWARD_PASSWORD, VALID

from ocirelay import host_scripts, render
from ocirelay.cli import main as cli_main
from ocirelay.config import validate

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "roles" / "oci_relay_common" / "filter_plugins" / "ocirelay.py"


@pytest.fixture(scope="module")
def filters() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ocirelay_filter_plugin", PLUGIN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_filter_is_registered(filters: ModuleType) -> None:
    registered = filters.FilterModule().filters()
    assert set(registered) == {name for name in dir(filters) if name.startswith("ocirelay_")}


def test_problems_are_the_engines(filters: ModuleType) -> None:
    bad = {**VALID, "oci_relay_region": "us-ashbrun-1", "oci_relay_port": 25,
           "oci_relay_tls_level": "may", "oci_relay_default_sender": "x@other.net"}
    expected = [p.as_text() for p in validate(bad).problems]
    got = filters.ocirelay_problems(bad)
    assert [p["text"] for p in got] == expected
    assert {p["key"] for p in got} == {"oci_relay_region", "oci_relay_port",
                                       "oci_relay_tls_level", "oci_relay_default_sender"}


@pytest.mark.parametrize(("version", "family"), [("3.7.11", "Debian"), ("3.5.25", "RedHat"),
                                                 ("3.10.1", "Debian"), ("3.6.4", "Debian")])
def test_rendered_files_are_byte_identical_to_the_cli(filters: ModuleType, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str],
                                                      version: str, family: str) -> None:
    source = tmp_path / "relay.yml"
    source.write_text(json.dumps({**VALID, "oci_relay_relay_networks": ["10.0.0.0/16"]}))
    out = tmp_path / "out"
    assert cli_main(["render", str(source), "--out", str(out), "--postfix-version",
                     version.rsplit(".", 1)[0], "--os-family", family]) == 0
    capsys.readouterr()
    files = filters.ocirelay_render_postfix({**VALID, "oci_relay_relay_networks":
                                             ["10.0.0.0/16"]}, version, family)
    assert sorted(files) == sorted(p.name for p in out.iterdir())
    for name, rendered in files.items():
        assert (out / name).read_text() == rendered["content"], name
        assert f"{(out / name).stat().st_mode & 0o7777:04o}" == rendered["mode"], name
    secret = [name for name, f in files.items() if f["secret"]]
    assert secret == ["oci_sasl_passwd"]
    assert files["oci_sasl_passwd"]["postmap_type"] == "hash"
    assert all(AWKWARD_PASSWORD not in f["content"] for n, f in files.items() if n not in secret)


def test_config_has_the_resolved_values_and_no_secret(filters: ModuleType) -> None:
    config = filters.ocirelay_config(VALID)
    assert config["smtp_host"] == "smtp.email.us-ashburn-1.oci.oraclecloud.com"
    assert config["default_sender"] == "noreply@example.com"
    assert (config["preflight"], config["tls_level"], config["hub_mode"]) == (True, "secure",
                                                                               False)
    assert AWKWARD_PASSWORD not in json.dumps(config)
    assert "password" not in json.dumps(config).lower()


def test_invalid_description_raises_the_engines_text_without_the_password(
        filters: ModuleType) -> None:
    bad = {**VALID, "oci_relay_password": f" {AWKWARD_PASSWORD} ", "oci_relay_port": 25}
    with pytest.raises(AnsibleFilterError) as raised:
        filters.ocirelay_config(bad)
    text = str(raised.value)
    assert "oci_relay_port: port 25 is blocked" in text
    assert "oci_relay_password: starts or ends with white space" in text
    assert AWKWARD_PASSWORD not in text and "(hidden: secret)" in text


def test_unexpected_errors_are_withheld(filters: ModuleType,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def leaky(*_: Any, **__: Any) -> None:
        raise KeyError(f"oops {AWKWARD_PASSWORD}")

    monkeypatch.setattr(render, "render_postfix", leaky)
    with pytest.raises(AnsibleFilterError) as raised:
        filters.ocirelay_render_postfix(VALID, "3.7", "Debian")
    assert AWKWARD_PASSWORD not in str(raised.value) and "KeyError" in str(raised.value)


def test_render_refuses_an_old_postfix(filters: ModuleType) -> None:
    with pytest.raises(AnsibleFilterError, match="too old"):
        filters.ocirelay_render_postfix(VALID, "3.3.0", "Debian")
    with pytest.raises(AnsibleFilterError, match="Postfix version"):
        filters.ocirelay_render_postfix(VALID, "three", "Debian")


def test_pending_files(filters: ModuleType) -> None:
    files = {"main.cf": {"content": "a = b\n", "mode": "0644"},
             "secret": {"content": "x\n", "mode": "0600"}}
    digest = hashlib.sha1(b"a = b\n").hexdigest()
    same = {"exists": True, "checksum": digest, "mode": "0644", "owner": "root",
            "group": "root"}
    state = {"/etc/postfix/main.cf": same, "/etc/postfix/secret": {"exists": False}}
    assert filters.ocirelay_pending_files(files, json.dumps(state), "/etc/postfix") == ["secret"]
    for change in ({"mode": "0666"}, {"owner": "nobody"}, {"checksum": "0" * 40}):
        state["/etc/postfix/main.cf"] = {**same, **change}
        assert "main.cf" in filters.ocirelay_pending_files(files, state, "/etc/postfix/")


def test_explain_reply_and_host_scripts(filters: ModuleType) -> None:
    assert filters.ocirelay_explain_reply("535 Authentication credentials invalid")["code"] == 535
    assert "def main" in filters.ocirelay_host_script("smtp_probe")
    with pytest.raises(AnsibleFilterError, match="unknown host script"):
        filters.ocirelay_host_script("rm -rf")


@pytest.mark.parametrize("name", sorted(host_scripts.HOST_SCRIPTS))
def test_host_scripts_run_on_python_3_6(name: str) -> None:
    """Oracle Linux 8's platform-python is 3.6: no newer syntax, standard library only."""
    tree = ast.parse(host_scripts.source(name), feature_version=(3, 6))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree)
                if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert "__future__" not in imported
    assert imported <= sys.stdlib_module_names, imported - sys.stdlib_module_names
