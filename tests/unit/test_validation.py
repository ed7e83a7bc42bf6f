"""Every bad input gets a problem naming the key, and all problems come back at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from relay_samples import AWKWARD_PASSWORD, VALID

from ocirelay.config import validate
from ocirelay.loading import read_description
from ocirelay.problems import errors


def problems_for(**overrides: Any) -> list:
    values = {**VALID, **overrides}
    return errors(validate({k: v for k, v in values.items() if v is not None}).problems)


def keys_of(problems: list) -> set[str]:
    return {p.key for p in problems}


def test_valid_description_gives_a_config_with_defaults() -> None:
    result = validate(dict(VALID))
    assert result.config is not None, [p.as_text() for p in result.problems]
    c = result.config
    assert c.smtp_host == "smtp.email.us-ashburn-1.oci.oraclecloud.com"
    assert (c.port, c.tls_level, c.unapproved_senders) == (587, "secure", "rewrite")
    assert c.default_sender == "noreply@example.com"
    assert c.messages_per_minute == 10 and c.message_size_limit == 2097152
    assert c.relay_networks == () and not c.hub_mode
    assert c.password.value == AWKWARD_PASSWORD


@pytest.mark.parametrize(
    ("overrides", "key", "words"),
    [
        ({"oci_relay_region": "us-ashburn"}, "oci_relay_region", "us-ashburn-1"),
        ({"oci_relay_region": "iad"}, "oci_relay_region", "us-ashburn-1"),
        ({"oci_relay_port": 25}, "oci_relay_port", "blocked"),
        ({"oci_relay_port": 2525}, "oci_relay_port", "587"),
        ({"oci_relay_username": None}, "oci_relay_username", "required"),
        ({"oci_relay_username": ""}, "oci_relay_username", "empty"),
        ({"oci_relay_password": None}, "oci_relay_password", "required"),
        ({"oci_relay_password": ""}, "oci_relay_password", "empty"),
        ({"oci_relay_password": "secret "}, "oci_relay_password", "white space"),
        ({"oci_relay_password": "a\nb"}, "oci_relay_password", "control character"),
        ({"oci_relay_username": "u\rser"}, "oci_relay_username", "control character"),
        ({"oci_relay_smtp_host": "smtp\x00.x.com"}, "oci_relay_smtp_host", "control character"),
        ({"oci_relay_approved_senders": ["no-at-sign"]}, "oci_relay_approved_senders", "@"),
        ({"oci_relay_approved_senders": ["a b@x.com"]}, "oci_relay_approved_senders", "local"),
        ({"oci_relay_approved_senders": ["a@nodot"]}, "oci_relay_approved_senders", "domain"),
        ({"oci_relay_approved_senders": []}, "oci_relay_approved_senders", "empty"),
        ({"oci_relay_default_sender": "ops@other.com"}, "oci_relay_default_sender", "covered"),
        ({"oci_relay_default_sender": "@example.org"}, "oci_relay_default_sender", "domain-wide"),
        ({"oci_relay_tls_level": "may"}, "oci_relay_tls_level", "clear text"),
        ({"oci_relay_tls_level": "none"}, "oci_relay_tls_level", "clear text"),
        ({"oci_relay_tls_level": "strong"}, "oci_relay_tls_level", "not a TLS level"),
        ({"oci_relay_tls_ca_file": "certs/ca.pem"}, "oci_relay_tls_ca_file", "absolute"),
        ({"oci_relay_messages_per_minute": 0}, "oci_relay_messages_per_minute", "positive"),
        ({"oci_relay_message_size_limit": -1}, "oci_relay_message_size_limit", "positive"),
        ({"oci_relay_relay_networks": ["0.0.0.0/0"]}, "oci_relay_relay_networks", "open relay"),
        ({"oci_relay_relay_networks": ["::/0"]}, "oci_relay_relay_networks", "open relay"),
        ({"oci_relay_relay_networks": ["10.0.0.0/7"]}, "oci_relay_relay_networks", "open relay"),
        ({"oci_relay_relay_networks": ["10.0.0.300/24"]}, "oci_relay_relay_networks", "not a net"),
        ({"oci_relay_relay_networks": ["10.0.0.1/24"]}, "oci_relay_relay_networks", "10.0.0.0/24"),
        ({"oci_relay_unapproved_senders": "drop"}, "oci_relay_unapproved_senders", "rewrite"),
        ({"oci_relay_smtp_host": "not a host"}, "oci_relay_smtp_host", "host name"),
        ({"oci_relay_root_alias": "two words"}, "oci_relay_root_alias", "local user"),
        ({"oci_relay_tsl_level": "secure"}, "oci_relay_tsl_level",
         "did you mean oci_relay_tls_level"),
        ({"oci_rely_region": "x"}, "oci_rely_region", "did you mean oci_relay_region"),
        ({"oci_relay_port": "587a"}, "oci_relay_port", "whole number"),
        ({"oci_relay_port": True}, "oci_relay_port", "whole number"),
        ({"oci_relay_allow_port_25": "maybe"}, "oci_relay_allow_port_25", "true or false"),
        ({"oci_relay_approved_senders": "noreply@example.com"}, "oci_relay_approved_senders",
         "list"),
        ({"oci_relay_password": 123456}, "oci_relay_password", "quote"),
        ({"oci_relay_region": ["us-ashburn-1"]}, "oci_relay_region", "string"),
    ],
)
def test_bad_input_names_the_key_and_says_what_to_do(overrides: dict, key: str,
                                                     words: str) -> None:
    problems = problems_for(**overrides)
    assert key in keys_of(problems), [p.as_text() for p in problems]
    text = "\n".join(p.as_text() for p in problems if p.key == key)
    assert words in text
    assert "fix:" in text


def test_every_problem_is_reported_at_once() -> None:
    problems = problems_for(oci_relay_region="nowhere-1", oci_relay_port=25,
                            oci_relay_password="", oci_relay_tls_level="may",
                            oci_relay_relay_networks=["0.0.0.0/0"])
    assert {"oci_relay_region", "oci_relay_port", "oci_relay_password", "oci_relay_tls_level",
            "oci_relay_relay_networks"} <= keys_of(problems)


def test_port_25_with_the_opt_in_is_accepted() -> None:
    assert problems_for(oci_relay_port=25, oci_relay_allow_port_25=True) == []


def test_keys_without_the_prefix_are_ignored() -> None:
    assert problems_for(ansible_user="opc", ntp_servers=["x"]) == []


def test_a_secret_never_appears_in_any_problem() -> None:
    secret = "Sup3r secret:pass "
    result = validate({**VALID, "oci_relay_password": secret, "oci_relay_port": 25})
    text = "\n".join(p.as_text() + repr(p.as_dict()) for p in result.problems)
    assert "oci_relay_password" in text
    assert secret.strip() not in text


def test_encrypt_is_allowed_with_a_warning() -> None:
    result = validate({**VALID, "oci_relay_tls_level": "encrypt"})
    assert result.config is not None
    assert [p.severity for p in result.problems if p.key == "oci_relay_tls_level"] == ["warning"]


def test_default_sender_defaults_to_first_full_address() -> None:
    result = validate({**VALID, "oci_relay_approved_senders": ["@example.org", "a@example.org"]})
    assert result.config is not None and result.config.default_sender == "a@example.org"
    only_domains = validate({**VALID, "oci_relay_approved_senders": ["@example.org"]})
    assert "oci_relay_default_sender" in keys_of(errors(only_domains.problems))


def test_yaml_that_does_not_parse_gives_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "broken.yml"
    path.write_text("oci_relay_region: us-ashburn-1\noci_relay_port: [587\n")
    loaded = read_description(path)
    assert len(loaded.problems) == 1
    assert loaded.problems[0].location is not None
    assert loaded.problems[0].location.startswith(f"{path}:3:")


def test_yaml_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "list.yml"
    path.write_text("- oci_relay_region: us-ashburn-1\n")
    assert "mapping" in read_description(path).problems[0].message


def test_group_vars_directory_is_merged_and_references_followed(tmp_path: Path) -> None:
    (tmp_path / "main.yml").write_text(
        "oci_relay_region: us-phoenix-1\noci_relay_username: ocid1.user.oc1..a@ocid1.tenancy."
        "oc1..b.ab.com\noci_relay_password: '{{ vault_oci_relay_password }}'\n"
        "oci_relay_approved_senders: [a@example.com]\n")
    (tmp_path / "vault.yml").write_text("vault_oci_relay_password: 'x: y'\n")
    result = validate(read_description(tmp_path).values)
    assert result.config is not None
    assert result.config.password.value == "x: y"
    assert result.config.smtp_host == "smtp.email.us-phoenix-1.oci.oraclecloud.com"
