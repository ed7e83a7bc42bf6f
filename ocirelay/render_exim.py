"""Render the Exim side of a HestiaCP host, from templates/exim/.

HestiaCP runs Exim4 with its own /etc/exim4/exim4.conf.template: macros that read the relay from
SMTP_RELAY_FILE (smtp_relay.conf, written by v-add-sys-smtp-relay), relay routers, a transport and
a LOGIN client authenticator. OCI Email Delivery accepts AUTH PLAIN only, so the relay never logs
in. ocirelay leaves Hestia's parts alone and adds four marked blocks that take over the mail whose
Hestia relay host is the OCI endpoint:

- macros (main section): the endpoint, the approved senders, the sender rules;
- authenticator: a PLAIN client authenticator used only toward the endpoint;
- routers (before Hestia's relay routers): empty senders and unapproved senders are stopped here,
  the rest goes to the ocirelay transport;
- transport: TLS 1.2+ required and verified, AUTH required, envelope sender and From aligned.

`apply_blocks` puts them into a template (replacing earlier copies, so a re-run is a no-op and a
re-run after a Hestia upgrade restores them); `remove_blocks` takes them out again. Both are pure
text functions: the role and the CLI call them with the same input and get the same bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import jinja2

from ocirelay.config import RelayConfig
from ocirelay.problems import SECRET_SHOWN_AS, Problem
from ocirelay.render import OS_CA_BUNDLES, RenderedFile, RenderError, template_environment

PARTS = ("macros", "authenticator", "routers", "transport")
MARKER = "ocirelay hestia_relay"
BEGIN_TEXT = f"# BEGIN {MARKER}: {{part}}"
END_TEXT = f"# END {MARKER}: {{part}}"
_MARKER_LINE = re.compile(rf"^# (BEGIN|END) {re.escape(MARKER)}: (\w+)\s*$")

# What the blocks rely on in Hestia's template (its relay support, Hestia 1.2 and newer).
HESTIA_RELAY_MACROS = ("SMTP_RELAY_FILE", "SMTP_RELAY_HOST", "SMTP_RELAY_PORT",
                       "SMTP_RELAY_USER", "SMTP_RELAY_PASS")
HESTIA_RELAY_ROUTERS = ("send_via_unauthenticated_smtp_relay", "send_via_smtp_relay")
# Driver instances the blocks define (routers, transport, authenticator).
INSTANCE_NAMES = ("ocirelay_oci_null_sender", "ocirelay_oci_unapproved", "ocirelay_oci",
                  "ocirelay_oci_smtp", "ocirelay_oci_plain")

# Hestia's files (facts: oci-facts.md, "HestiaCP facts").
HESTIA_DIR = "/usr/local/hestia"
HESTIA_CONF = f"{HESTIA_DIR}/conf/hestia.conf"
EXIM_TEMPLATE = "/etc/exim4/exim4.conf.template"
SMTP_RELAY_CONF = "/etc/exim4/smtp_relay.conf"
SMTP_RELAY_CONF_MODE = "0640"  # root:Debian-exim: Exim reads it, nobody else

_BEGIN_SECTION = re.compile(r"^\s*begin\s+(\w+)\s*$")
_INSTANCE_START = re.compile(r"^([A-Za-z0-9_]+)\s*:")
_ROUTE_OPTIONS = {"dns": "", "dns, native": "", "native": " byname", "native, dns": " byname"}


class TemplateError(Exception):
    """The template is not one these blocks fit; the message says what is missing."""


@dataclass(frozen=True)
class EximTarget:
    """What the rendered blocks must suit on the host: its OS family (the CA bundle's path)."""

    os_family: str = "Debian"


# --- checks that only matter for Exim --------------------------------------------------------


def exim_problems(config: RelayConfig) -> list[Problem]:
    """What the engine's validation accepts but a Hestia (Exim) host cannot do, or ignores.

    Postfix sends any password; Exim's plaintext client authenticator builds AUTH PLAIN from a
    string where ^ is the NUL separator and ^^ a literal ^. The separator before the password
    and a doubled ^ at its start make ^^^, which Exim reads as a literal ^ then NUL: the login
    sent would be wrong. A user name starting with ^ has the same problem (OCI's never do).
    """
    problems: list[Problem] = []
    why = ("Exim builds AUTH PLAIN from ^user^password, where ^ stands for the NUL separator and "
           "^^ for a literal ^; a leading ^ right after a separator reads as ^^^ (a literal ^ "
           "then NUL), so Exim would send a wrong login")
    if config.password.value.startswith("^"):
        problems.append(Problem(
            "oci_relay_password", f"starts with ^, which a HestiaCP (Exim) host cannot send: {why}",
            "generate a new SMTP credential in OCI (Identity > Users > SMTP credentials) until its "
            "password does not start with ^ (Postfix hosts are not affected)",
            value=SECRET_SHOWN_AS))
    if config.username.startswith("^"):
        problems.append(Problem(
            "oci_relay_username", f"starts with ^, which a HestiaCP (Exim) host cannot send: {why}",
            "check the user name: OCI SMTP user names start with ocid1.user",
            value=config.username))
    if config.root_alias:
        problems.append(Problem(
            "oci_relay_root_alias", "is not used on HestiaCP hosts: Hestia keeps aliases per mail "
            "domain", "set the alias in Hestia (mail domain > aliases), or leave the key unset "
            "for Hestia hosts", value=config.root_alias, severity="warning"))
    if config.relay_networks:
        problems.append(Problem(
            "oci_relay_relay_networks", "is not used on HestiaCP hosts: Hestia's Exim decides who "
            "may relay (authenticated mail accounts and relay_from_hosts)", "leave it unset for "
            "Hestia hosts", value=list(config.relay_networks), severity="warning"))
    return problems


# --- rendering -------------------------------------------------------------------------------


def _environment() -> jinja2.Environment:
    """Jinja with delimiters Exim never uses, so {{ }} and ${...} in the templates stay literal."""
    return template_environment(
        "exim",
        block_start_string="<%",
        block_end_string="%>",
        variable_start_string="<@",
        variable_end_string="@>",
        comment_start_string="<#",
        comment_end_string="#>",
    )


def exim_context(config: RelayConfig, target: EximTarget) -> dict[str, Any]:
    if target.os_family not in OS_CA_BUNDLES:
        raise RenderError(f"unknown OS family {target.os_family!r}: use one of "
                          f"{', '.join(OS_CA_BUNDLES)}")
    return {
        "c": config,
        "addresses": config.approved_addresses,
        "domains": config.approved_domains,
        "ca_file": config.tls_ca_file or OS_CA_BUNDLES[target.os_family],
        "verify": config.tls_level in ("secure", "verify"),
        "route_option": _ROUTE_OPTIONS[config.host_lookup],
    }


def wrap(part: str, body: str) -> str:
    """A block as it stands in the template: markers around the body, one line each."""
    body = body if body.endswith("\n") else body + "\n"
    return f"{BEGIN_TEXT.format(part=part)}\n{body}{END_TEXT.format(part=part)}\n"


def render_blocks(config: RelayConfig, target: EximTarget | None = None) -> dict[str, str]:
    """The four marked blocks, keyed by part (PARTS). No secret is in any of them."""
    env = _environment()
    context = exim_context(config, target or EximTarget())
    templates = {"macros": "hestia_macros", "authenticator": "hestia_authenticator",
                 "routers": "hestia_routers", "transport": "hestia_transport"}
    return {part: wrap(part, env.get_template(f"exim/{name}.j2").render(context))
            for part, name in templates.items()}


def render_smtp_relay_conf(config: RelayConfig) -> RenderedFile:
    """Hestia's smtp_relay.conf (lsearch: host, port, user, pass), exactly as its CLI writes it.

    Exim's lsearch keeps the rest of the line as it is (quotes, #, ;, : and ^ included); the
    engine refuses leading and trailing white space, which lsearch would strip.
    """
    content = _environment().get_template("exim/smtp_relay.conf.j2").render({"c": config})
    return RenderedFile(content, SMTP_RELAY_CONF_MODE, secret=True)


def hestia_conf_values(config: RelayConfig) -> dict[str, str]:
    """The keys v-add-sys-smtp-relay sets in hestia.conf (never the password)."""
    return {"SMTP_RELAY": "true", "SMTP_RELAY_HOST": config.smtp_host,
            "SMTP_RELAY_PORT": str(config.port), "SMTP_RELAY_USER": config.username}


# --- the template, as text -------------------------------------------------------------------


@dataclass(frozen=True)
class _Line:
    section: str  # "main" before the first `begin`
    logical_start: bool  # not a continuation of the previous line
    comment: bool
    begin: str | None  # the section this line begins
    instance: str | None  # the driver instance (or ACL) this line starts


def _scan(lines: list[str]) -> list[_Line]:
    scanned: list[_Line] = []
    section = "main"
    continued = False
    for raw in lines:
        text = raw.rstrip("\n")
        stripped = text.strip()
        comment = stripped.startswith("#")
        begin = instance = None
        if not continued and not comment:
            if match := _BEGIN_SECTION.match(text):
                begin = section = match.group(1)
            elif section != "main" and (match := _INSTANCE_START.match(text)):
                instance = match.group(1)
        scanned.append(_Line(section, not continued, comment or not stripped, begin, instance))
        if not comment:
            continued = text.rstrip().endswith("\\")
    return scanned


def _split(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return lines


def managed_blocks(text: str) -> dict[str, str]:
    """The marked blocks present in a template, keyed by part (markers included)."""
    lines = _split(text)
    return {part: "".join(lines[start:end + 1]) for part, start, end in _block_spans(lines)}


def _block_spans(lines: list[str]) -> list[tuple[str, int, int]]:
    spans: list[tuple[str, int, int]] = []
    open_part: tuple[str, int] | None = None
    for index, line in enumerate(lines):
        match = _MARKER_LINE.match(line.rstrip("\n"))
        if not match:
            continue
        kind, part = match.groups()
        if kind == "BEGIN":
            if open_part is not None:
                raise TemplateError(f"line {index + 1}: a block of {MARKER} ({part}) starts "
                                    f"inside the {open_part[0]} block (line {open_part[1] + 1}) "
                                    "that never ended: repair the markers by hand")
            open_part = (part, index)
        else:
            if open_part is None or open_part[0] != part:
                raise TemplateError(f"line {index + 1}: end of a {MARKER} {part} block that "
                                    "never began: repair the markers by hand")
            spans.append((part, open_part[1], index))
            open_part = None
    if open_part is not None:
        raise TemplateError(f"line {open_part[1] + 1}: the {MARKER} {open_part[0]} block never "
                            "ends: repair the markers by hand")
    return spans


def remove_blocks(text: str) -> str:
    """The template without ocirelay's blocks (and the blank line each one adds)."""
    lines = _split(text)
    drop: set[int] = set()
    for _part, start, end in _block_spans(lines):
        drop.update(range(start, end + 1))
        if end + 1 < len(lines) and not lines[end + 1].strip():
            drop.add(end + 1)
    return "".join(line for index, line in enumerate(lines) if index not in drop)


def hestia_template_problems(text: str) -> list[str]:
    """What the template lacks for the blocks to fit: empty when it is Hestia's kind."""
    lines = _split(remove_blocks(text))
    scanned = _scan(lines)
    sections = {line.begin for line in scanned if line.begin}
    problems = [f"no `begin {name}` section" for name in ("authenticators", "routers",
                                                          "transports") if name not in sections]
    defined = {m.group(1) for line, info in zip(lines, scanned, strict=True)
               if info.logical_start and (m := re.match(r"^\s*(SMTP_RELAY_\w+)\s*=", line))}
    missing = [name for name in HESTIA_RELAY_MACROS if name not in defined]
    if missing:
        problems.append(f"no {', '.join(missing)} macro(s): Hestia's SMTP relay support (Hestia "
                        "1.2 or newer) is not in this template")
    routers = {line.instance for line in scanned if line.section == "routers" and line.instance}
    if not routers & set(HESTIA_RELAY_ROUTERS):
        problems.append(f"no Hestia relay router ({' or '.join(HESTIA_RELAY_ROUTERS)}) in the "
                        "routers section")
    return problems


def _above_comments(lines: list[str], scanned: list[_Line], index: int) -> int:
    """Move an insertion point up over the comment lines directly above it (no blank line)."""
    while index > 0 and scanned[index - 1].comment and lines[index - 1].strip() \
            and scanned[index - 1].logical_start:
        index -= 1
    return index


def _anchors(lines: list[str]) -> dict[str, int]:
    scanned = _scan(lines)

    def first(predicate: Any) -> int | None:
        return next((i for i, line in enumerate(scanned) if predicate(line)), None)

    def section_start(name: str) -> int:
        """First driver instance of the section, else where the next section begins."""
        begin = first(lambda line: line.begin == name)
        assert begin is not None  # hestia_template_problems checked
        for index in range(begin + 1, len(scanned)):
            if scanned[index].instance or scanned[index].begin:
                return index
        return len(lines)

    macros = first(lambda line: line.begin is not None)
    routers = first(lambda line: line.section == "routers"
                    and line.instance in HESTIA_RELAY_ROUTERS)
    assert macros is not None and routers is not None
    return {part: _above_comments(lines, scanned, index) if index < len(lines) else index
            for part, index in (("macros", macros),
                                ("authenticator", section_start("authenticators")),
                                ("routers", routers),
                                ("transport", section_start("transports")))}


def apply_blocks(text: str, blocks: dict[str, str]) -> str:
    """The template with exactly these blocks in place: earlier copies go, new ones are put
    where they belong (macros before the first section, the authenticator and the transport
    first in their sections, the routers right before Hestia's relay routers)."""
    if set(blocks) - set(PARTS):
        raise ValueError(f"unknown parts {sorted(set(blocks) - set(PARTS))}")
    clean = remove_blocks(text)
    problems = hestia_template_problems(clean)
    if problems:
        raise TemplateError("this is not a HestiaCP Exim template the relay blocks fit: "
                            + "; ".join(problems))
    lines = _split(clean)
    anchors = _anchors(lines)
    for part in sorted(blocks, key=lambda p: anchors[p], reverse=True):
        lines[anchors[part]:anchors[part]] = [*_split(blocks[part]), "\n"]
    return "".join(lines)


# --- what the user still has to do -----------------------------------------------------------


def next_steps(config: RelayConfig, hestia_mail_domains: list[str] | tuple[str, ...] = ()
               ) -> list[str]:
    """What the role cannot do from the host, in the order the user does it."""
    from ocirelay.config import covered_by
    from ocirelay.dns import spf_include

    steps = [f"OCI (region {config.region.name}): the approved senders "
             f"{', '.join(config.approved_senders)} must exist as approved senders in this "
             "region, in a compartment the SMTP user's group may use (policy: use email-family). "
             "Any other sender is refused by OCI.",
             ]
    include = spf_include(config.region)
    for domain in config.sender_domains:
        if include:
            steps.append(f"DNS: the SPF record of {domain} must contain include:{include} before "
                         "its all term. Hestia's default SPF (v=spf1 a mx ip4:%ip% -all) lacks "
                         "it: edit the record (DNS > domain > TXT) and, for new domains, the SPF "
                         "line of the DNS template in /usr/local/hestia/data/templates/dns/.")
        else:
            steps.append(f"DNS: Oracle publishes no SPF include we know of for "
                         f"{config.region.name}; ask Oracle which include authorises its relays, "
                         f"and add it to the SPF record of {domain}.")
    steps.append("DKIM: Hestia's relay does not sign relayed mail with its own keys; create a "
                 "DKIM key for each sender domain in OCI (Email Delivery > Email Domains) and "
                 "publish the CNAME OCI shows.")
    uncovered = [d for d in hestia_mail_domains if not covered_by(f"x@{d}",
                                                                  config.approved_senders)]
    if uncovered:
        fate = ("sent as " + config.default_sender if config.unapproved_senders == "rewrite"
                else "refused (oci_relay_unapproved_senders: reject)")
        steps.append(f"Hestia mail domains without an approved sender: {', '.join(uncovered)}. "
                     f"Their mail is {fate} unless its From address is approved: add "
                     "@domain entries to oci_relay_approved_senders (and in OCI) if they should "
                     "send as themselves.")
    steps.append("Check the DNS side with: ocirelay dns <relay description>")
    return steps
