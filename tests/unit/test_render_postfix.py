"""Rendered files go through the real Postfix from Debian: postconf, postfix check, postmap."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from postfix_tools import (
    postconf,
    postfix_check,
    postmap_query,
    require_postfix,
    run,
    settle,
)
from relay_samples import VALID

from ocirelay.cli import write_files
from ocirelay.config import RelayConfig, validate
from ocirelay.render import PostfixTarget, render_postfix

pytestmark = pytest.mark.postfix
HOST = "smtp.email.us-ashburn-1.oci.oraclecloud.com"


@pytest.fixture(autouse=True, scope="module")
def _postfix_present() -> None:
    require_postfix()


def config_of(**overrides: Any) -> RelayConfig:
    result = validate({**VALID, **overrides})
    assert result.config is not None, [p.as_text() for p in result.problems]
    return result.config


def rendered_dir(tmp_path: Path, config: RelayConfig,
                 target: PostfixTarget | None = None) -> Path:
    out = tmp_path / "postfix"
    write_files(out, render_postfix(config, target))  # type: ignore[arg-type]
    return settle(out)


MATRIX = {
    "587-secure-rewrite": {},
    "465-secure": {"oci_relay_port": 465},
    "verify": {"oci_relay_tls_level": "verify"},
    "encrypt": {"oci_relay_tls_level": "encrypt"},
    "reject": {"oci_relay_unapproved_senders": "reject"},
    "hub": {"oci_relay_relay_networks": ["10.0.0.0/16", "2001:db8::/48"]},
    "root-alias-lmdb-native": {"oci_relay_root_alias": "admin@example.com",
                               "oci_relay_map_type": "lmdb", "oci_relay_host_lookup": "native"},
    "legacy-host-custom-ca": {"oci_relay_smtp_host": "smtp.us-ashburn-1.oraclecloud.com",
                              "oci_relay_tls_ca_file": "/etc/ocirelay/ca.pem"},
    "slow-tenancy": {"oci_relay_messages_per_minute": 1},
}


@pytest.mark.parametrize("name", MATRIX)
def test_postfix_accepts_the_rendered_config(tmp_path: Path, name: str) -> None:
    config = config_of(**MATRIX[name])
    out = rendered_dir(tmp_path, config)
    main = postconf(out, "-n")
    services = postconf(out, "-P")
    postconf(out, "-M")
    postfix_check(out)

    assert main["relayhost"] == config.relayhost
    assert main["default_transport"] == "oci"
    assert main["inet_interfaces"] == ("all" if config.hub_mode else "loopback-only")
    assert main["smtpd_relay_restrictions"] == "permit_mynetworks, reject_unauth_destination"
    oci = {k.split("/", 2)[2]: v for k, v in services.items() if k.startswith("oci/unix/")}
    assert oci["smtp_sasl_mechanism_filter"] == "plain"
    assert oci["smtp_sasl_security_options"] == "noanonymous"
    assert oci["smtp_sasl_tls_security_options"] == "noanonymous"
    assert oci["smtp_tls_security_level"] == config.tls_level
    assert oci["smtp_tls_mandatory_protocols"] == ">=TLSv1.2"
    assert oci.get("smtp_tls_wrappermode") == ("yes" if config.port == 465 else None)
    assert oci["smtp_sasl_password_maps"] == \
        f"{config.map_type}:${{config_directory}}/oci_sasl_passwd"


def test_old_postfix_gets_the_old_protocol_syntax(tmp_path: Path) -> None:
    out = rendered_dir(tmp_path, config_of(), PostfixTarget.parse("3.5.9", "RedHat"))
    postfix_check(out)
    services = postconf(out, "-P")
    assert services["oci/unix/smtp_tls_mandatory_protocols"] == "!SSLv2,!SSLv3,!TLSv1,!TLSv1.1"
    assert postconf(out, "-n")["smtp_tls_CAfile"] == "/etc/pki/tls/certs/ca-bundle.crt"


def test_hub_networks_are_in_mynetworks_in_postfix_syntax(tmp_path: Path) -> None:
    out = rendered_dir(tmp_path, config_of(**MATRIX["hub"]))
    assert postconf(out, "-n")["mynetworks"] == \
        "127.0.0.0/8 [::1]/128 10.0.0.0/16 [2001:db8::]/48"


def test_password_is_only_in_the_0600_credential_map(tmp_path: Path) -> None:
    config = config_of()
    out = rendered_dir(tmp_path, config)
    holders = [p.name for p in out.iterdir() if config.password.value in p.read_text()]
    assert holders == ["oci_sasl_passwd"]
    assert stat.S_IMODE((out / "oci_sasl_passwd").stat().st_mode) == 0o600
    assert run("postmap", "-c", str(out), f"hash:{out}/oci_sasl_passwd").returncode == 0
    assert stat.S_IMODE((out / "oci_sasl_passwd.db").stat().st_mode) == 0o600


def test_senders_rewritten_to_default_and_approved_kept(tmp_path: Path) -> None:
    out = rendered_dir(tmp_path, config_of())
    table = f"regexp:{out}/oci_sender_canonical"
    assert postmap_query(out, table, "root@relay1.example.net") == "noreply@example.com"
    assert postmap_query(out, table, "www-data@relay1") == "noreply@example.com"
    assert postmap_query(out, table, "noreply@example.com") == "noreply@example.com"
    assert postmap_query(out, table, "Billing@Example.org") == "Billing@Example.org"
    assert postmap_query(out, table, "x@sub.example.org") == "noreply@example.com"
    assert postconf(out, "-n").get("recipient_canonical_maps") is None


def test_null_sender_never_goes_to_oci(tmp_path: Path) -> None:
    for mode in ("rewrite", "reject"):
        out = rendered_dir(tmp_path / mode, config_of(oci_relay_unapproved_senders=mode))
        route = postmap_query(out, f"regexp:{out}/oci_sender_transport", "<>")
        assert route is not None and route.startswith("error:5.7.1 ")


def test_reject_mode_refuses_unapproved_and_routes_approved(tmp_path: Path) -> None:
    out = rendered_dir(tmp_path, config_of(oci_relay_unapproved_senders="reject"))
    transport = f"regexp:{out}/oci_sender_transport"
    access = f"regexp:{out}/oci_sender_access"
    assert postmap_query(out, transport, "root@relay1").startswith("error:5.7.1 ")  # type: ignore[union-attr]
    assert postmap_query(out, transport, "noreply@example.com") == f"oci:[{HOST}]:587"
    assert postmap_query(out, access, "a@example.org") == "DUNNO"
    assert postmap_query(out, access, "root@relay1").startswith("REJECT 5.7.1")  # type: ignore[union-attr]
    assert not (out / "oci_sender_canonical").exists()


def test_pacing_and_connection_reuse_follow_the_rate(tmp_path: Path) -> None:
    out = rendered_dir(tmp_path, config_of(oci_relay_messages_per_minute=10))
    main, services = postconf(out, "-n"), postconf(out, "-P")
    assert main["oci_destination_rate_delay"] == "7s"
    assert main["oci_destination_concurrency_limit"] == "1"
    assert main["connection_cache_ttl_limit"] == "12s"
    assert services["oci/unix/smtp_connection_cache_time_limit"] == "12s"
    # smtp(8) matches the next hop's bare host name here (seen with -v); "[host]:587" never
    # matched, and every paced message opened its own connection.
    assert services["oci/unix/smtp_connection_cache_destinations"] == HOST
    assert services["oci/unix/smtp_tls_connection_reuse"] == "yes"
    # tlsproxy carries the reused TLS connection; it must exist and run outside a chroot.
    tlsproxy = run("postconf", "-c", str(out), "-M", "tlsproxy/unix").stdout.split()
    assert tlsproxy[:8] == ["tlsproxy", "unix", "-", "-", "n", "-", "0", "tlsproxy"]


# Characters OCI passwords hold, plus letters; no leading/trailing space (refused by validation).
_AWKWARD = st.text(alphabet=st.sampled_from(list(":;#^()'\" ") + list("aZ9\\$%!&*=-_.,@")),
                   min_size=1, max_size=40).map(str.strip).filter(bool)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(password=_AWKWARD)
def test_postmap_returns_the_exact_credential(tmp_path_factory: pytest.TempPathFactory,
                                             password: str) -> None:
    config = config_of(oci_relay_password=password)
    out = rendered_dir(tmp_path_factory.mktemp("map"), config)
    assert run("postmap", "-c", str(out), f"hash:{out}/oci_sasl_passwd").returncode == 0
    got = postmap_query(out, f"hash:{out}/oci_sasl_passwd", config.relayhost)
    assert got == f"{config.username}:{password}"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("From: root@relay1.example.net", "REPLACE From: noreply@example.com"),
        ("From: Cron Daemon <root@relay1>", "REPLACE From: Cron Daemon <noreply@example.com>"),
        ('From: "Web, Shop" <www-data@relay1>', 'REPLACE From: "Web, Shop" <noreply@example.com>'),
        ("From: root (Cron Daemon)", "REPLACE From: noreply@example.com"),
        ("From: Billing <billing@example.org>", "DUNNO"),
        ("From: noreply@example.com", "DUNNO"),
        ("From: NoReply@Example.com (Shop)", "DUNNO"),
        ("From: x@sub.example.org", "REPLACE From: noreply@example.com"),
        ("From: evil@example.org.attacker.net", "REPLACE From: noreply@example.com"),
        ("Reply-To: customer@gmail.com", None),
        ("Sender: root@relay1", None),
    ],
)
def test_only_the_from_header_is_rewritten_on_the_way_to_oci(tmp_path: Path, header: str,
                                                             expected: str | None) -> None:
    out = rendered_dir(tmp_path, config_of())
    assert postmap_query(out, f"regexp:{out}/oci_header_from", header) == expected
    main, services = postconf(out, "-n"), postconf(out, "-P")
    assert main["sender_canonical_classes"] == "envelope_sender"
    assert services["oci/unix/smtp_header_checks"] == \
        "regexp:${config_directory}/oci_header_from"
