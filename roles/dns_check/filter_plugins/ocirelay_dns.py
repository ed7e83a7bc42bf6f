"""The `ocirelay_dns_findings` filter: the `ocirelay dns` check, run on the controller.

It imports the installed `ocirelay` package and calls the same engine as the CLI on the role's
variables, so the role and `ocirelay dns` cannot drift. It reads only the region, the approved
senders and the DKIM selectors: no credential is passed to it or needed by it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

_INSTALL_HINT = ("the ocirelay package is not importable by the Python that runs Ansible: "
                 "install it there (from the repository: pip install -e .)")
_KEYS = ("oci_relay_region", "oci_relay_approved_senders", "oci_relay_dkim_selectors")


def _plain(value: Any) -> Any:
    """Ansible's tagged strings and lazy containers as plain Python values."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return str(value)


def ocirelay_dns_findings(values: Any, nameserver: Any = "", timeout: Any = 5) -> dict[str, Any]:
    """{status, findings, lines} for the sending domains of `values` (oci_relay_region,
    oci_relay_approved_senders, oci_relay_dkim_selectors; any other key is ignored).

    `nameserver`: IP[:PORT] to ask, or empty for the controller's resolver.
    """
    try:
        from ocirelay import dns
        from ocirelay.dns_command import render_findings, summary
    except ImportError as error:  # pragma: no cover - depends on the controller
        raise AnsibleFilterError(f"{_INSTALL_HINT} ({error.name} missing)") from None
    if not isinstance(values, Mapping):
        raise AnsibleFilterError("ocirelay_dns_findings expects a mapping of oci_relay_* "
                                 f"variables, got {type(values).__name__}")
    plain = {key: _plain(values.get(key)) for key in _KEYS}
    target, problems = dns.target_from_values(*(plain[key] for key in _KEYS))
    if target is None:
        raise AnsibleFilterError("cannot check DNS: " + "; ".join(problems))
    try:
        server = dns.parse_nameserver(str(nameserver)) if str(nameserver or "").strip() else None
        client = dns.DnsClient(server, float(timeout))
    except (dns.DnsSetupError, ValueError) as error:
        raise AnsibleFilterError(f"cannot check DNS: {error}") from None
    findings = dns.check(target, client)
    return {
        "status": dns.worst(findings),
        "findings": [finding.as_dict() for finding in findings],
        "lines": [*render_findings(findings).splitlines(), summary(findings, client.server)],
    }


class FilterModule:
    """ocirelay DNS readiness filter."""

    def filters(self) -> dict[str, Any]:
        return {"ocirelay_dns_findings": ocirelay_dns_findings}
