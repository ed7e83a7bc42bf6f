"""The Exim side of HestiaCP hosts: the marked blocks, Hestia's relay file, the text surgery.

Pure text tests; the blocks go through the real Exim 4.96 in the lab (molecule/hestia).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from relay_samples import AWKWARD_PASSWORD, VALID

from ocirelay.config import RelayConfig, validate
from ocirelay.problems import SECRET_SHOWN_AS, errors
from ocirelay.render_exim import (
    PARTS,
    TemplateError,
    apply_blocks,
    exim_problems,
    hestia_conf_values,
    hestia_template_problems,
    managed_blocks,
    next_steps,
    remove_blocks,
    render_blocks,
    render_smtp_relay_conf,
)

REPO = Path(__file__).resolve().parent.parent.parent
FIXTURE = (REPO / "tests/lab/hestia_fixture/exim4.conf.template").read_text()
HOST = "smtp.email.us-ashburn-1.oci.oraclecloud.com"


def config_of(**overrides: Any) -> RelayConfig:
    result = validate({**VALID, **overrides})
    assert result.config is not None, [p.as_text() for p in result.problems]
    return result.config


MATRIX = {
    "587-secure-rewrite": {},
    "465": {"oci_relay_port": 465},
    "verify": {"oci_relay_tls_level": "verify"},
    "encrypt": {"oci_relay_tls_level": "encrypt"},
    "reject": {"oci_relay_unapproved_senders": "reject"},
    "native-custom-ca": {"oci_relay_host_lookup": "native",
                         "oci_relay_tls_ca_file": "/etc/ocirelay/ca.pem"},
    "addresses-only": {"oci_relay_approved_senders": ["noreply@example.com"]},
    "domains-only": {"oci_relay_approved_senders": ["@example.org"],
                     "oci_relay_default_sender": "noreply@example.org"},
    "legacy-host": {"oci_relay_smtp_host": "smtp.us-ashburn-1.oraclecloud.com"},
}


def lines_of(block: str) -> list[str]:
    return [line.strip() for line in block.splitlines()]


def option(block: str, name: str) -> str | None:
    """The value of an option line `name = value` in a block (None when absent)."""
    for line in block.splitlines():
        if match := re.match(rf"^\s+(?:hide\s+)?{re.escape(name)}\s*=\s?(.*)$", line):
            return match.group(1)
    return None


@pytest.mark.parametrize("name", MATRIX)
def test_blocks_are_marked_and_hold_no_secret(name: str) -> None:
    config = config_of(**MATRIX[name])
    blocks = render_blocks(config)
    assert list(blocks) == list(PARTS)
    for part, block in blocks.items():
        lines = block.splitlines()
        assert lines[0] == f"# BEGIN ocirelay hestia_relay: {part}"
        assert lines[-1] == f"# END ocirelay hestia_relay: {part}"
        assert block.endswith("\n")
        assert config.password.value not in block
        assert config.username not in block, "the user name lives in Hestia's smtp_relay.conf"
        assert "\t" not in block
    assert f"OCIRELAY_HOST = {config.smtp_host}" in lines_of(blocks["macros"])


@pytest.mark.parametrize("name", MATRIX)
def test_transport_requires_tls_auth_and_verifies_as_asked(name: str) -> None:
    config = config_of(**MATRIX[name])
    transport = render_blocks(config)["transport"]
    assert option(transport, "driver") == "smtp"
    assert option(transport, "hosts_require_tls") == "*"
    assert option(transport, "hosts_require_auth") == "*"
    assert option(transport, "protocol") == ("smtps" if config.port == 465 else None)
    assert option(transport, "message_size_limit") == str(config.message_size_limit)
    assert option(transport, "return_path") == "OCIRELAY_RETURN_PATH"
    assert "+VERS-TLS1.2" in transport and "-VERS-ALL" in transport
    if config.tls_level == "encrypt":
        assert option(transport, "tls_verify_hosts") == ""
        assert option(transport, "tls_verify_certificates") is None
    else:
        assert option(transport, "tls_verify_hosts") == "*"
        assert option(transport, "tls_verify_cert_hostnames") == "*"
        ca = config.tls_ca_file or "/etc/ssl/certs/ca-certificates.crt"
        assert option(transport, "tls_verify_certificates") == ca


def test_authenticator_is_plain_with_doubled_carets_only_toward_oci() -> None:
    block = render_blocks(config_of())["authenticator"]
    assert option(block, "driver") == "plaintext"
    assert option(block, "public_name") == "PLAIN"
    assert option(block, "client_condition") == "${if eqi{$host}{OCIRELAY_HOST}}"
    assert option(block, "client_send") == (
        r"^${sg{SMTP_RELAY_USER}{\N\^\N}{^^}}^${sg{SMTP_RELAY_PASS}{\N\^\N}{^^}}")
    assert re.search(r"^\s+hide client_send", block, re.M), "hidden from exim -bP"
    # The list separator of client_send is ':': one item (no colon) is one AUTH PLAIN string.
    assert ":" not in option(block, "client_send")  # type: ignore[operator]


@pytest.mark.parametrize("action", ["rewrite", "reject"])
def test_routers_stop_null_senders_and_only_take_oci_bound_mail(action: str) -> None:
    config = config_of(oci_relay_unapproved_senders=action)
    routers = render_blocks(config)["routers"]
    names = re.findall(r"^(\w+):\s*$", routers, re.M)
    expected = ["ocirelay_oci_null_sender", "ocirelay_oci"]
    if action == "reject":
        expected.insert(1, "ocirelay_oci_unapproved")
    assert names == expected
    assert routers.count("condition = ${if OCIRELAY_TO_OCI}") == 2
    assert routers.count("require_files = SMTP_RELAY_FILE") == len(expected)
    assert "senders = :" in routers
    assert "transport = ocirelay_oci_smtp" in routers


@pytest.mark.parametrize(("lookup", "suffix"), [
    ("dns", "}}"), ("native", "}} byname"), ("dns, native", "}}"), ("native, dns", "}} byname")])
def test_route_lookup_follows_host_lookup(lookup: str, suffix: str) -> None:
    routers = render_blocks(config_of(oci_relay_host_lookup=lookup))["routers"]
    route = option(routers, "route_list")
    assert route is not None and route.endswith(suffix)


def test_macro_names_are_not_substrings_of_later_ones() -> None:
    """Exim refuses a macro whose name contains an earlier macro's name."""
    macros = render_blocks(config_of())["macros"]
    names = re.findall(r"^([A-Z][A-Z0-9_]*)\s*=", macros, re.M)
    assert len(names) == len(set(names)) >= 8
    hestia = ["SMTP_RELAY_FILE", "SMTP_RELAY_HOST", "SMTP_RELAY_PORT", "SMTP_RELAY_USER",
              "SMTP_RELAY_PASS", "DKIM_DOMAIN", "DKIM_FILE", "DKIM_PRIVATE_KEY", "OUTGOING_IP",
              "SRS_SECRET", "SPAMASSASSIN", "SPAM_SCORE", "SPAM_REJECT_SCORE", "CLAMD"]
    defined = [*hestia, *names]
    for index, name in enumerate(defined):
        for earlier in defined[:index]:
            assert earlier not in name, f"{name} contains the earlier macro {earlier}"


def test_approved_lists_have_no_colon_for_headers_rewrite() -> None:
    """headers_rewrite is a colon-separated rule list: the macros it uses must hold no colon."""
    macros = render_blocks(config_of())["macros"]
    for name in ("OCIRELAY_ADDRESSES", "OCIRELAY_DOMAINS", "OCIRELAY_DEFAULT_SENDER"):
        line = next(line for line in macros.splitlines() if line.startswith(name))
        assert ":" not in line
    assert "OCIRELAY_ADDRESSES = <; noreply@example.com" in macros
    assert "OCIRELAY_DOMAINS = <; example.org" in macros
    transport = render_blocks(config_of())["transport"]
    rule = option(transport, "headers_rewrite")
    assert rule is not None and ":" not in rule and rule.endswith('" f')


def test_smtp_relay_conf_is_hestias_format_with_the_password_verbatim() -> None:
    config = config_of()
    rendered = render_smtp_relay_conf(config)
    assert rendered.content == (f"host:{HOST}\nport:587\nuser:{config.username}\n"
                                f"pass:{AWKWARD_PASSWORD}\n")
    assert rendered.mode == "0640" and rendered.secret
    assert hestia_conf_values(config) == {
        "SMTP_RELAY": "true", "SMTP_RELAY_HOST": HOST, "SMTP_RELAY_PORT": "587",
        "SMTP_RELAY_USER": config.username}


# --- Exim's ^ handling, modelled to justify the one rule validation adds -----------------------


def exim_caret_decode(text: str) -> str:
    """What Exim's plaintext client sends for an expanded client_send string: a single ^ is a
    NUL, ^^ a literal ^ (auths/get_data.c, auth_client_item), scanning left to right."""
    out: list[str] = []
    index = 0
    while index < len(text):
        if text[index] == "^":
            if index + 1 < len(text) and text[index + 1] == "^":
                out.append("^")
                # Exim keeps the first ^ and moves on past it; the second one is dropped.
                index += 2
                continue
            out.append("\0")
        else:
            out.append(text[index])
        index += 1
    return "".join(out)


def client_send(user: str, password: str) -> str:
    """The expansion of the authenticator's client_send: ^ doubled by ${sg{...}{\\N\\^\\N}{^^}}."""
    return "^" + user.replace("^", "^^") + "^" + password.replace("^", "^^")


@given(password=st.text(alphabet=st.sampled_from("ab^:;# '\"()"), min_size=1, max_size=12)
       .filter(lambda p: p == p.strip()))
@settings(max_examples=300)
def test_doubling_sends_the_password_exactly_unless_it_starts_with_a_caret(password: str) -> None:
    user = "ocid1.user.oc1..x@ocid1.tenancy.oc1..y.ab.com"
    sent = exim_caret_decode(client_send(user, password))
    if password.startswith("^"):
        assert sent != f"\0{user}\0{password}"
        config = config_of(oci_relay_password=password)
        problems = exim_problems(config)
        assert [p.key for p in errors(problems)] == ["oci_relay_password"]
    else:
        assert sent == f"\0{user}\0{password}"
        assert not errors(exim_problems(config_of(oci_relay_password=password)))


def test_caret_password_problem_explains_and_never_shows_the_password() -> None:
    secret = "^starts-with-caret: x"
    problems = exim_problems(config_of(oci_relay_password=secret))
    assert len(problems) == 1 and problems[0].severity == "error"
    text = problems[0].as_text()
    assert secret not in text and SECRET_SHOWN_AS in text
    assert "NUL" in text and "new SMTP credential" in text and "Postfix" in text


def test_keys_hestia_ignores_are_warnings() -> None:
    problems = exim_problems(config_of(oci_relay_root_alias="ops@example.com",
                                       oci_relay_relay_networks=["10.0.0.0/16"]))
    assert sorted(p.key for p in problems) == ["oci_relay_relay_networks", "oci_relay_root_alias"]
    assert all(p.severity == "warning" for p in problems)


# --- the template surgery ------------------------------------------------------------------


def section_of(text: str, line_no: int) -> str:
    section = "main"
    for line in text.splitlines()[:line_no]:
        if match := re.match(r"^\s*begin\s+(\w+)\s*$", line):
            section = match.group(1)
    return section


def first_line(text: str, pattern: str) -> int:
    return next(i for i, line in enumerate(text.splitlines()) if re.match(pattern, line))


def test_fixture_blocks_land_where_exim_needs_them() -> None:
    applied = apply_blocks(FIXTURE, render_blocks(config_of()))
    begin = {part: first_line(applied, f"# BEGIN ocirelay hestia_relay: {part}$")
             for part in PARTS}
    assert section_of(applied, begin["macros"]) == "main"
    assert begin["macros"] > first_line(applied, r"SMTP_RELAY_PASS\s*=")
    assert section_of(applied, begin["authenticator"]) == "authenticators"
    assert begin["authenticator"] < first_line(applied, "smtp_relay_login:")
    assert section_of(applied, begin["routers"]) == "routers"
    assert begin["routers"] < first_line(applied, "send_via_unauthenticated_smtp_relay:")
    assert section_of(applied, begin["transport"]) == "transports"
    assert begin["transport"] < first_line(applied, "smtp_relay_smtp:")
    # Hestia's own parts are all still there, unchanged.
    for line in FIXTURE.splitlines():
        assert line in applied.splitlines()


def test_apply_is_idempotent_and_remove_restores_the_original_exactly() -> None:
    blocks = render_blocks(config_of())
    once = apply_blocks(FIXTURE, blocks)
    assert apply_blocks(once, blocks) == once
    assert remove_blocks(once) == FIXTURE
    assert remove_blocks(FIXTURE) == FIXTURE
    assert set(managed_blocks(once)) == set(PARTS)
    assert managed_blocks(once) == blocks


def test_a_changed_description_replaces_the_blocks_in_place() -> None:
    first = apply_blocks(FIXTURE, render_blocks(config_of()))
    changed = render_blocks(config_of(oci_relay_unapproved_senders="reject", oci_relay_port=465))
    second = apply_blocks(first, changed)
    assert second == apply_blocks(FIXTURE, changed)
    assert second.count("# BEGIN ocirelay") == 4 and second.count("# END ocirelay") == 4
    assert "ocirelay_oci_unapproved:" in second and "protocol = smtps" in second


def test_an_upgrade_that_restores_the_stock_template_is_undone_by_a_rerun() -> None:
    blocks = render_blocks(config_of())
    applied = apply_blocks(FIXTURE, blocks)
    upgraded = FIXTURE  # Hestia's upgrade copies its template over ours
    assert "# BEGIN ocirelay" not in upgraded
    assert apply_blocks(upgraded, blocks) == applied


def test_an_upgrade_that_patches_around_the_blocks_keeps_working() -> None:
    """Hestia patches in place: lines added around (even between) our blocks stay, and a re-run
    moves nothing of theirs."""
    blocks = render_blocks(config_of())
    applied = apply_blocks(FIXTURE, blocks)
    patched = applied.replace("dnslookup:\n", "new_hestia_router:\n  driver = accept\n"
                              "  transport = remote_smtp\n\ndnslookup:\n")
    patched = patched.replace("# END ocirelay hestia_relay: macros\n",
                              "# END ocirelay hestia_relay: macros\nNEW_HESTIA_MACRO = 1\n")
    again = apply_blocks(patched, blocks)
    assert "new_hestia_router:" in again and "NEW_HESTIA_MACRO = 1" in again
    assert apply_blocks(again, blocks) == again
    assert managed_blocks(again) == blocks


SURROUNDINGS = [
    "# a comment\n",
    "\n",
    "other_router:\n  driver = accept\n  transport = remote_smtp\n",
    ".ifdef SOMETHING\nsome_router:\n  driver = accept\n.endif\n",
    "MACRO_X = ${if eq{a}{b}\\\n  {yes}{no}}\n",
]


@given(st.lists(st.tuples(st.integers(min_value=0, max_value=400),
                          st.sampled_from(SURROUNDINGS)), max_size=6))
@settings(max_examples=150)
def test_any_surroundings_round_trip(insertions: list[tuple[int, str]]) -> None:
    """Whatever sits between Hestia's lines, apply is idempotent and remove undoes it."""
    lines = FIXTURE.splitlines(keepends=True)
    for position, text in insertions:
        # never split an instance's option lines from its name: insert before blank lines only
        blanks = [i for i, line in enumerate(lines) if not line.strip()]
        at = blanks[position % len(blanks)]
        lines[at:at] = [text]
    template = "".join(lines)
    blocks = render_blocks(config_of())
    once = apply_blocks(template, blocks)
    assert apply_blocks(once, blocks) == once
    assert remove_blocks(once) == template
    assert managed_blocks(once) == blocks


def without(text: str, pattern: str) -> str:
    return re.sub(pattern, "", text, flags=re.M | re.S)


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: without(t, r"^SMTP_RELAY_PASS = .*?\n"), "SMTP_RELAY_PASS"),
    (lambda t: without(t, r"^begin authenticators\n"), "begin authenticators"),
    (lambda t: without(t, r"^begin transports\n"), "begin transports"),
    (lambda t: t.replace("send_via_smtp_relay:", "via_relay:").replace(
        "send_via_unauthenticated_smtp_relay:", "via_unauth:"), "relay router"),
])
def test_a_template_without_hestias_relay_is_refused(change: Any, message: str) -> None:
    template = change(FIXTURE)
    assert any(message in problem for problem in hestia_template_problems(template))
    with pytest.raises(TemplateError, match=message):
        apply_blocks(template, render_blocks(config_of()))


def test_the_fixture_is_hestia_shaped() -> None:
    assert hestia_template_problems(FIXTURE) == []


@pytest.mark.parametrize("damage", [
    lambda t: t.replace("# END ocirelay hestia_relay: routers\n", ""),
    lambda t: t.replace("# BEGIN ocirelay hestia_relay: transport\n", ""),
    lambda t: t.replace("# END ocirelay hestia_relay: macros\n",
                        "# END ocirelay hestia_relay: routers\n"),
])
def test_damaged_markers_are_refused_not_guessed(damage: Any) -> None:
    applied = apply_blocks(FIXTURE, render_blocks(config_of()))
    with pytest.raises(TemplateError, match="markers by hand"):
        apply_blocks(damage(applied), render_blocks(config_of()))
    with pytest.raises(TemplateError):
        remove_blocks(damage(applied))


# --- what the user does outside the host -------------------------------------------------------


@pytest.mark.parametrize(("region", "include"), [
    ("us-ashburn-1", "include:rp.oracleemaildelivery.com"),
    ("eu-frankfurt-1", "include:eu.rp.oracleemaildelivery.com"),
    ("ap-tokyo-1", "include:ap.rp.oracleemaildelivery.com"),
])
def test_next_steps_name_the_spf_include_of_the_region(region: str, include: str) -> None:
    steps = next_steps(config_of(oci_relay_region=region))
    spf = [step for step in steps if step.startswith("DNS:")]
    assert len(spf) == 2 and all(include in step for step in spf)
    assert "example.com" in spf[0] and "example.org" in spf[1]
    assert steps[0].startswith(f"OCI (region {region})")


def test_next_steps_name_hestia_domains_without_an_approved_sender() -> None:
    steps = next_steps(config_of(), ["example.org", "shop.example.net"])
    uncovered = [step for step in steps if "without an approved sender" in step]
    assert len(uncovered) == 1 and "shop.example.net" in uncovered[0]
    assert "example.org," not in uncovered[0] and "sent as noreply@example.com" in uncovered[0]
    steps = next_steps(config_of(oci_relay_unapproved_senders="reject"), ["shop.example.net"])
    assert any("refused" in step for step in steps)
    for step in next_steps(config_of(), ["shop.example.net"]):
        assert AWKWARD_PASSWORD not in step


# --- the CLI: the same engine as the role ------------------------------------------------------


def test_cli_renders_the_blocks_the_template_and_the_relay_file(
        tmp_path: Path, description: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from ocirelay.cli import main

    relay = description()
    assert main(["render-hestia", str(relay)]) == 0
    blocks = render_blocks(config_of())
    assert capsys.readouterr().out == "".join(f"{blocks[part]}\n" for part in PARTS)

    template = tmp_path / "exim4.conf.template"
    template.write_text(FIXTURE, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["render-hestia", str(relay), "--template", str(template),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert AWKWARD_PASSWORD not in printed and "include:rp.oracleemaildelivery.com" in printed
    assert (out / "exim4.conf.template").read_text() == apply_blocks(FIXTURE, blocks)
    relay_file = out / "smtp_relay.conf"
    assert relay_file.read_text() == render_smtp_relay_conf(config_of()).content
    assert relay_file.stat().st_mode & 0o777 == 0o600

    removed = tmp_path / "removed"
    assert main(["render-hestia", str(relay), "--template", str(out / "exim4.conf.template"),
                 "--remove", "--out", str(removed)]) == 0
    assert (removed / "exim4.conf.template").read_text() == FIXTURE
    assert not (removed / "smtp_relay.conf").exists()


def test_cli_refuses_a_caret_password_and_a_foreign_template(
        tmp_path: Path, description: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from ocirelay.cli import main

    assert main(["render-hestia", str(description(oci_relay_password="^abc: x"))]) == 2
    err = capsys.readouterr().err
    assert "^abc" not in err and "starts with ^" in err and "nothing was written" in err

    debian = tmp_path / "debian.template"
    debian.write_text("begin acl\nbegin routers\nbegin transports\n", encoding="utf-8")
    assert main(["render-hestia", str(description()), "--template", str(debian)]) == 2
    assert "SMTP_RELAY_FILE" in capsys.readouterr().err
