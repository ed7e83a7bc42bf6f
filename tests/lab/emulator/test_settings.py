"""The YAML configuration: the example is valid, and every bad file is refused naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from emu_support import HERE, PKI, base_config, merged
from oci_emulator.settings import SettingsError, load, parse

EXAMPLE = HERE / "emulator.example.yml"


def test_the_example_is_valid_and_documents_every_key() -> None:
    settings = load(EXAMPLE)
    assert settings.hostname == "smtp.email.us-ashburn-1.oci.oraclecloud.com"
    assert settings.listen.starttls_ports == (587,)
    assert settings.listen.tls_ports == (465,)
    assert settings.tls.cert == (HERE / "tls/server.crt").resolve()
    assert settings.limits.per_minute == 10
    assert settings.faults.throttled_code == 421
    text = EXAMPLE.read_text()
    for key in ("hostname", "banner", "listen", "address", "starttls_ports", "tls_ports", "tls",
                "cert", "key", "wrong_cert", "wrong_key", "tls12_ciphers", "credentials",
                "username", "password", "approved_senders", "require_header_from_match",
                "suppressed_recipients", "suppressed_reply", "limits", "max_message_bytes",
                "per_minute", "per_day", "auth_throttle", "max_failures", "window_seconds",
                "faults", "down", "throttled", "throttled_code", "throttled_at",
                "starttls_stripped", "wrong_certificate", "tls_max_1_1", "slow", "slow_seconds",
                "state_dir", "session_timeout", "log_level"):
        assert f"{key}:" in text, key


def test_defaults(pki: PKI, tmp_path: Path) -> None:
    minimal = {
        "hostname": "smtp.example", "tls": {"cert": "c", "key": "k"},
        "credentials": [{"username": "u", "password": "p"}],
        "approved_senders": [], "state_dir": "state",
    }
    settings = parse(minimal, tmp_path)
    assert settings.listen.address == "0.0.0.0"
    assert settings.limits.max_message_bytes == 2_097_152
    assert (settings.limits.per_minute, settings.limits.per_day) == (10, 200)
    assert settings.auth_throttle.max_failures == 3
    assert settings.suppressed_reply == "250 OK"
    assert settings.state_dir == tmp_path / "state"
    assert settings.faults.active() == []


def test_password_is_kept_out_of_reprs(pki: PKI, tmp_path: Path) -> None:
    settings = parse(base_config(pki, tmp_path), tmp_path)
    assert settings.credentials[0].password not in repr(settings)


@pytest.mark.parametrize(
    ("overrides", "key", "message"),
    [
        ({"hostnme": "x"}, "hostnme", "unknown key"),
        ({"listen": {"adress": "0.0.0.0"}}, "listen.adress", "unknown key"),
        ({"limits": {"per_minute": "ten"}}, "limits.per_minute", "expected an integer"),
        ({"limits": {"per_day": -1}}, "limits.per_day", "expected 0 to"),
        ({"limits": {"max_message_bytes": True}}, "limits.max_message_bytes", "integer"),
        ({"listen": {"starttls_ports": [587, 70000]}}, "listen.starttls_ports[1]", "a port"),
        ({"listen": {"starttls_ports": 587}}, "listen.starttls_ports", "expected a list"),
        ({"listen": {"starttls_ports": [587], "tls_ports": [587]}}, "listen.tls_ports", "twice"),
        ({"hostname": "not a host"}, "hostname", "not a host name"),
        ({"hostname": None}, "hostname", "required key is missing"),
        ({"tls": {"cert": None}}, "tls.cert", "required key is missing"),
        ({"tls": {"wrong_key": None}}, "tls.wrong_key", "together"),
        ({"credentials": []}, "credentials", "at least one"),
        ({"credentials": [{"username": "u"}]}, "credentials[0].password", "required"),
        ({"credentials": [{"username": "u", "password": 12}]}, "credentials[0].password",
         "non-empty string"),
        ({"credentials": [{"username": "u", "password": "p", "pass": "q"}]},
         "credentials[0].pass", "unknown key"),
        ({"approved_senders": ["ok@example.com", "not-an-address"]}, "approved_senders[1]",
         "an address or @domain"),
        ({"suppressed_recipients": ["@example.com"]}, "suppressed_recipients[0]", "an address"),
        ({"suppressed_reply": "550 no"}, "suppressed_reply", "2xx"),
        ({"require_header_from_match": "yes"}, "require_header_from_match", "true or false"),
        ({"faults": {"slow": "yes"}}, "faults.slow", "true or false"),
        ({"faults": {"broken": True}}, "faults.broken", "unknown fault"),
        ({"faults": []}, "faults", "a mapping"),
        ({"auth_throttle": {"window_seconds": 0}}, "auth_throttle.window_seconds", "at least"),
        ({"state_dir": "/tmp/" + "d" * 120}, "state_dir", "too long for a Unix socket"),
        ({"log_level": "loud"}, "log_level", "one of"),
        ({"session_timeout": "forever"}, "session_timeout", "expected a number"),
        ({"session_timeout": 0}, "session_timeout", "at least 0.1"),
    ],
)
def test_invalid_settings_name_the_key(
    pki: PKI, tmp_path: Path, overrides: dict[str, Any], key: str, message: str
) -> None:
    with pytest.raises(SettingsError) as refused:
        parse(merged(base_config(pki, tmp_path), overrides), tmp_path)
    assert refused.value.key == key
    assert message in str(refused.value)
    assert str(refused.value).startswith(f"{key}: ")


def test_misspelt_key_is_reported_before_the_missing_one(pki: PKI, tmp_path: Path) -> None:
    config = base_config(pki, tmp_path)
    config["approved_sender"] = config.pop("approved_senders")
    with pytest.raises(SettingsError) as refused:
        parse(config, tmp_path)
    assert str(refused.value) == "approved_sender: unknown key (did you mean approved_senders?)"


def test_password_value_never_echoed(pki: PKI, tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as refused:
        parse(merged(base_config(pki, tmp_path),
                     {"credentials": [{"username": "u", "password": ["s3cret"]}]}), tmp_path)
    assert "s3cret" not in str(refused.value)


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("- just\n- a list\n")
    with pytest.raises(SettingsError, match="expected a mapping"):
        load(path)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("hostname: smtp.example\nlimits:\n  per_minute: 1\n bad: [\n")
    with pytest.raises(SettingsError) as refused:
        load(path)
    assert refused.value.key == "(yaml)"
    assert "line 4" in str(refused.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read"):
        load(tmp_path / "absent.yml")


def test_yaml_round_trip_of_the_test_config(pki: PKI, tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text(yaml.safe_dump(base_config(pki, tmp_path)))
    assert load(path).tls.wrong_cert == pki.wrong_cert
