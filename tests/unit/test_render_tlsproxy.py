"""Regression: with smtp_tls_connection_reuse, tlsproxy needs a client TLS level of its own.

Seen in the lab (Postfix 3.7, Debian 12): without it tlsproxy logged 'service role "client" is
not available', died with signal 11, and every message deferred with "Cannot start TLS:
handshake failure" although the preflight login had worked. Its log level must also match the
oci transport's smtp_tls_loglevel, or each reused connection logs "unexpected settings".
"""

from __future__ import annotations

import pytest
from relay_samples import VALID

from ocirelay.config import validate
from ocirelay.render import PostfixTarget, render_postfix


def main_cf(version: str, **overrides: object) -> dict[str, str]:
    config = validate({**VALID, **overrides}).config
    assert config is not None
    text = render_postfix(config, PostfixTarget.parse(version)).get("main.cf")
    assert text is not None
    pairs = (line.split(" = ", 1) for line in text.content.splitlines()
             if " = " in line and not line.startswith("#"))
    return dict(pairs)


@pytest.mark.parametrize(("version", "parameter"), [
    ("3.5", "tlsproxy_client_level"), ("3.6", "tlsproxy_client_level"),
    ("3.7", "tlsproxy_client_security_level"), ("3.10", "tlsproxy_client_security_level")])
@pytest.mark.parametrize("level", ["secure", "verify", "encrypt"])
def test_tlsproxy_client_role_has_the_relays_level(version: str, parameter: str,
                                                   level: str) -> None:
    settings = main_cf(version, oci_relay_tls_level=level)
    assert settings[parameter] == level
    other = ({"tlsproxy_client_level", "tlsproxy_client_security_level"} - {parameter}).pop()
    assert other not in settings


def test_tlsproxy_log_level_matches_the_oci_transport() -> None:
    config = validate(VALID).config
    assert config is not None
    files = render_postfix(config, PostfixTarget.parse("3.7"))
    assert "-o smtp_tls_loglevel=1" in files["master.cf"].content
    assert main_cf("3.7")["tlsproxy_client_loglevel"] == "1"
