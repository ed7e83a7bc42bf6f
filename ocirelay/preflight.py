"""Explain what the SMTP probe (ocirelay/smtp_probe.py) saw from a host, in words a person acts on.

The probe runs on the target host with the standard library only and reports raw facts (stage,
failure kind, the endpoint's reply); this module, on the controller, turns them into a verdict,
using ocirelay.replies for the endpoint's own replies.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ocirelay import host_scripts, replies


@dataclass(frozen=True)
class Verdict:
    ok: bool
    summary: str  # one line
    message: str  # what happened and what to do; empty when ok
    warnings: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {"ok": self.ok, "summary": self.summary, "message": self.message,
                "warnings": list(self.warnings)}


def probe_source() -> str:
    """The probe's source, to run on a host with `python3 -c` (nothing is written there)."""
    return host_scripts.source("smtp_probe")


def _connection_failure(kind: str, detail: str, report: dict[str, Any]) -> tuple[str, str]:
    host, port = report.get("host"), report.get("port")
    where = f"{host}:{port}"
    table: dict[str, tuple[str, str]] = {
        "no_credentials": ("the probe got no credentials", "a bug in the role: report it"),
        "resolve_failed": (
            f"the host cannot resolve {host} ({detail})",
            "check oci_relay_region (or oci_relay_smtp_host) and the host's DNS resolver"),
        "timeout": (
            f"no answer from {where}: something drops the traffic",
            "port 25 is blocked for every OCI instance: use 587; otherwise allow egress to the "
            "endpoint on this port (security list / NSG egress rules, host firewall, a route "
            "out through an internet or NAT gateway)" if port == 25 else
            "allow egress to the endpoint on this port (VCN security list / NSG egress rules, "
            "host firewall, a route out through an internet or NAT gateway)"),
        "refused": (f"{where} refused the connection",
                    "check oci_relay_port (587 or 465) and oci_relay_smtp_host"),
        "unreachable": (f"cannot reach {where}: {detail}",
                        "check the host's routes and firewall toward the endpoint"),
        "disconnected": (f"{where} closed the connection early: {detail}",
                         "retry later; if it persists something in between interferes"),
        "ca_missing": (
            f"oci_relay_tls_ca_file {detail} does not exist on the host",
            "install the CA bundle there first, or leave oci_relay_tls_ca_file unset to use "
            "the OS bundle"),
        "ca_unreadable": (f"the CA bundle cannot be read: {detail}",
                          "give a PEM file of CA certificates in oci_relay_tls_ca_file"),
        "tls_verify_failed": (
            f"the endpoint's certificate was not verified ({detail})",
            "something between this host and OCI answers with a certificate OCI did not "
            "issue (TLS interception?), or the CA bundle is outdated or wrong "
            "(oci_relay_tls_ca_file); do not lower oci_relay_tls_level to get around it"),
        "tls_too_old": (
            f"no common TLS version of 1.2 or newer with {where} ({detail})",
            "OCI requires TLS 1.2+: something in between downgrades the session, or the "
            "host's OpenSSL is too old"),
        "tls_handshake_failed": (
            f"the TLS handshake with {where} failed ({detail})",
            "check that the port matches the mode: 587 uses STARTTLS, 465 TLS from the first "
            "byte"),
        "starttls_missing": (
            f"{where} did not offer STARTTLS: something between this host and OCI strips it",
            "find the proxy or firewall that rewrites SMTP; the relay refuses to send the "
            "password in clear text"),
        "auth_plain_missing": (
            f"{where} does not offer AUTH PLAIN after TLS ({detail})",
            "this is not OCI Email Delivery's behaviour: check oci_relay_smtp_host"),
        "auth_encoding": (detail, "copy the SMTP credential again from OCI"),
        "internal": (f"the probe failed unexpectedly: {detail}",
                     "set oci_relay_preflight: false to skip it, and report the problem"),
    }
    return table.get(kind, (f"{kind}: {detail}", "see the detail"))


def verdict(report: dict[str, Any] | str, message_size_limit: int | None = None) -> Verdict:
    """Turn the probe's JSON report into a verdict."""
    if isinstance(report, str):
        try:
            report = dict(json.loads(report))
        except ValueError:
            return Verdict(False, "the preflight produced no report",
                           "the probe printed no JSON: is python3 on the host working?")
    where = f"{report.get('host')}:{report.get('port')}"
    warnings: list[str] = []
    size = report.get("size")
    if isinstance(size, int) and size and message_size_limit and message_size_limit > size:
        warnings.append(f"oci_relay_message_size_limit ({message_size_limit}) is above the "
                        f"endpoint's SIZE ({size}): messages in between are queued, then refused "
                        f"by OCI; set oci_relay_message_size_limit: {size}")
    if report.get("ok"):
        tls = " ".join(str(x) for x in (report.get("tls_version"), report.get("cipher")) if x)
        summary = (f"{where}: TLS {tls or '(none)'}, certificate "
                   f"{'verified' if report.get('certificate_verified') else 'NOT verified'}, "
                   f"AUTH PLAIN accepted; no mail sent")
        return Verdict(True, summary, "", tuple(warnings))
    kind = str(report.get("kind") or "internal")
    detail = str(report.get("detail") or "")
    stage = report.get("stage")
    if report.get("code") is not None or kind in ("auth_failed", "smtp_error", "greeting",
                                                 "starttls_refused"):
        code = report.get("code")
        explained = replies.explain(int(code) if code is not None else None,
                                    str(report.get("reply") or detail))
        summary = f"{where} answered {explained.code} {explained.reply} (at {stage})"
        message = (f"Preflight from the host to {where} failed at {stage}: the endpoint "
                   f"answered {explained.as_text()}")
        if explained.transient:
            message += "\n  (transient: running the play again later may succeed)"
        return Verdict(False, summary, message, tuple(warnings))
    cause, fix = _connection_failure(kind, detail, report)
    return Verdict(False, f"{where}: {cause}",
                   f"Preflight from the host to {where} failed at {stage}: {cause}\n  fix: {fix}",
                   tuple(warnings))
