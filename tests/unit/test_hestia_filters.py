"""hestia_relay's filter plugin (roles/hestia_relay/filter_plugins/ocirelay_exim.py) is the engine:
the same blocks and files as `ocirelay render-hestia`, Hestia's files read the way Hestia reads
them, and never a secret in what it raises."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest
from ansible.errors import AnsibleFilterError
from relay_samples import AWKWARD_PASSWORD, VALID

from ocirelay import render_exim
from ocirelay.config import validate

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "roles" / "hestia_relay" / "filter_plugins" / "ocirelay_exim.py"
FIXTURE = (REPO / "tests/lab/hestia_fixture/exim4.conf.template").read_text()
HOST = "smtp.email.us-ashburn-1.oci.oraclecloud.com"


@pytest.fixture(scope="module")
def filters() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ocirelay_exim_filter_plugin", PLUGIN)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_filter_is_registered(filters: ModuleType) -> None:
    registered = filters.FilterModule().filters()
    assert set(registered) == {name for name in dir(filters) if name.startswith("ocirelay_")}


def test_filters_give_the_engines_bytes(filters: ModuleType) -> None:
    config = validate(VALID).config
    assert config is not None
    blocks = filters.ocirelay_exim_blocks(VALID, "Debian")
    assert blocks == render_exim.render_blocks(config)
    applied = filters.ocirelay_exim_apply(FIXTURE, blocks)
    assert applied == render_exim.apply_blocks(FIXTURE, blocks)
    assert filters.ocirelay_exim_remove(applied) == FIXTURE
    assert filters.ocirelay_exim_managed_parts(applied) == sorted(render_exim.PARTS)
    assert filters.ocirelay_hestia_smtp_relay_conf(VALID) == (
        render_exim.render_smtp_relay_conf(config).content)
    assert filters.ocirelay_exim_template_problems(FIXTURE) == []


def test_hestia_files_are_read_as_hestia_reads_them(filters: ModuleType) -> None:
    conf = "WEB_SYSTEM='nginx'\n# comment\nMAIL_SYSTEM='exim4'\nSMTP_RELAY='true'\nEMPTY=''\n"
    assert filters.ocirelay_hestia_conf_parse(conf) == {
        "WEB_SYSTEM": "nginx", "MAIL_SYSTEM": "exim4", "SMTP_RELAY": "true", "EMPTY": ""}
    relay = f"host:{HOST}\nport:587\nuser:u@x\n"
    assert filters.ocirelay_hestia_relay_public(relay + "pass:p: x\n") == {
        "host": HOST, "port": "587", "user": "u@x"}


def test_relay_matches_only_when_hestia_has_exactly_this_relay(filters: ModuleType) -> None:
    user = VALID["oci_relay_username"]
    settings = {"SMTP_RELAY": "true", "SMTP_RELAY_HOST": HOST, "SMTP_RELAY_PORT": "587",
                "SMTP_RELAY_USER": user, "MAIL_SYSTEM": "exim4"}
    public = {"host": HOST, "port": "587", "user": user}
    assert filters.ocirelay_hestia_relay_matches(VALID, settings, public)
    assert not filters.ocirelay_hestia_relay_matches(VALID, {**settings, "SMTP_RELAY": "false"},
                                                     public)
    assert not filters.ocirelay_hestia_relay_matches(VALID, settings, {**public, "port": "465"})
    assert not filters.ocirelay_hestia_relay_matches(VALID, {}, {})


def test_errors_never_carry_the_password(filters: ModuleType) -> None:
    bad = {**VALID, "oci_relay_port": "not a port"}
    with pytest.raises(AnsibleFilterError) as raised:
        filters.ocirelay_hestia_smtp_relay_conf(bad)
    assert AWKWARD_PASSWORD not in str(raised.value)
    with pytest.raises(AnsibleFilterError) as raised:
        filters.ocirelay_exim_apply("begin routers\n", filters.ocirelay_exim_blocks(VALID))
    assert "SMTP_RELAY" in str(raised.value)
    caret = {**VALID, "oci_relay_password": "^" + AWKWARD_PASSWORD}
    problems = filters.ocirelay_exim_problems(caret)
    assert [p["key"] for p in problems] == ["oci_relay_password"]
    assert AWKWARD_PASSWORD not in problems[0]["text"]
