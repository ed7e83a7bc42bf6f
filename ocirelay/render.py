"""Render a RelayConfig into the files of a relay-only Postfix host, from templates/postfix/.

The result maps a path relative to the Postfix config directory to its content and mode; the CLI
writes it to a directory, the roles hand it to ansible.builtin.copy. Same input, same bytes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import jinja2

from ocirelay.config import RelayConfig
from ocirelay.pacing import pacing_for

TEMPLATES_DIR = Path(os.environ.get("OCIRELAY_TEMPLATES",
                                    Path(__file__).resolve().parent.parent / "templates"))

OS_CA_BUNDLES = {
    "Debian": "/etc/ssl/certs/ca-certificates.crt",
    "RedHat": "/etc/pki/tls/certs/ca-bundle.crt",
}
OLDEST_POSTFIX = (3, 4)  # postlogd, tlsproxy connection reuse
_ERE_SPECIALS = set("\\.^$|?*+()[]{}/")


@dataclass(frozen=True)
class PostfixTarget:
    """What the rendered files must suit on the host: Postfix version and OS family."""

    version: tuple[int, int] = (3, 7)
    os_family: str = "Debian"

    @classmethod
    def parse(cls, version: str, os_family: str = "Debian") -> PostfixTarget:
        major, minor, *_ = (int(part) for part in version.strip().split("."))
        return cls((major, minor), os_family)


@dataclass(frozen=True)
class RenderedFile:
    content: str
    mode: str
    secret: bool = False
    # Lookup table type to compile it with (postmap TYPE:FILE) after it is written.
    postmap_type: str | None = None


class RenderError(Exception):
    """The engine cannot produce files for this target; the message says why."""


def ere_escape(text: str) -> str:
    """Escape text for a POSIX ERE inside a Postfix regexp: table (/.../ delimiters)."""
    return "".join(f"\\{c}" if c in _ERE_SPECIALS else c for c in text)


def sender_pattern(approved: str) -> str:
    """The anchored regexp matching one approved entry: an address or a whole @domain."""
    if approved.startswith("@"):
        return f"^[^@]+@{ere_escape(approved[1:])}$"
    return f"^{ere_escape(approved)}$"


def approved_alternation(approved: tuple[str, ...]) -> str:
    """One ERE group body matching any approved address (no anchors), for header checks."""
    return "|".join(f"[^@<>[:space:]\"]+@{ere_escape(a[1:])}" if a.startswith("@")
                    else ere_escape(a) for a in approved)


def postfix_network(cidr: str) -> str:
    """Postfix writes IPv6 networks as [addr]/len in mynetworks."""
    if ":" in cidr:
        address, length = cidr.split("/")
        return f"[{address}]/{length}"
    return cidr


def template_environment(family: str, **syntax: str) -> jinja2.Environment:
    """Jinja over templates/ for one family (postfix, exim): strict, whitespace as written."""
    if not (TEMPLATES_DIR / family).is_dir():
        raise RenderError(f"templates not found in {TEMPLATES_DIR}: install ocirelay from its "
                          "source tree (pip install -e .) or set OCIRELAY_TEMPLATES")
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        **syntax,  # type: ignore[arg-type]
    )


def _environment() -> jinja2.Environment:
    env = template_environment("postfix")
    env.filters["sender_pattern"] = sender_pattern
    env.filters["postfix_network"] = postfix_network
    env.filters["approved_alternation"] = approved_alternation
    return env


def postfix_context(config: RelayConfig, target: PostfixTarget) -> dict[str, object]:
    if target.version < OLDEST_POSTFIX:
        raise RenderError(f"Postfix {target.version[0]}.{target.version[1]} is too old: "
                          f"ocirelay needs {OLDEST_POSTFIX[0]}.{OLDEST_POSTFIX[1]} or newer")
    if target.os_family not in OS_CA_BUNDLES:
        raise RenderError(f"unknown OS family {target.os_family!r}: use one of "
                          f"{', '.join(OS_CA_BUNDLES)}")
    modern = target.version >= (3, 6)
    return {
        "c": config,
        "pacing": pacing_for(config.messages_per_minute),
        "ca_file": config.tls_ca_file or OS_CA_BUNDLES[target.os_family],
        "compatibility_level": "3.6" if modern else "2",
        "tls_protocols": ">=TLSv1.2" if modern else "!SSLv2,!SSLv3,!TLSv1,!TLSv1.1",
        # Renamed in Postfix 3.7 (3.4-3.6: tlsproxy_client_level).
        "tlsproxy_level_parameter": "tlsproxy_client_security_level"
        if target.version >= (3, 7) else "tlsproxy_client_level",
    }


def render_postfix(config: RelayConfig, target: PostfixTarget | None = None
                   ) -> dict[str, RenderedFile]:
    """Every file of the relay, keyed by its path relative to the Postfix config directory."""
    target = target or PostfixTarget()
    env = _environment()
    context = postfix_context(config, target)

    def render(name: str) -> str:
        return env.get_template(f"postfix/{name}.j2").render(context)

    files = {
        "main.cf": RenderedFile(render("main.cf"), "0644"),
        "master.cf": RenderedFile(render("master.cf"), "0644"),
        "oci_sasl_passwd": RenderedFile(render("oci_sasl_passwd"), "0600", secret=True,
                                        postmap_type=config.map_type),
        "oci_sender_transport": RenderedFile(render("oci_sender_transport"), "0644"),
    }
    if config.unapproved_senders == "rewrite":
        files["oci_sender_canonical"] = RenderedFile(render("oci_sender_canonical"), "0644")
        files["oci_header_from"] = RenderedFile(render("oci_header_from"), "0644")
    else:
        files["oci_sender_access"] = RenderedFile(render("oci_sender_access"), "0644")
    return files
