"""The DNS filters: the `ocirelay dns` check, run on the controller.

They import the installed `ocirelay` package and call the same engine as the CLI on the role's
variables, so the role and `ocirelay dns` cannot drift. They read only the region, the approved
senders, the DKIM selectors and oci_relay_dns_check: no credential is passed to them or needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Needs the ocirelay package where ansible-playbook runs (pip install -e . in this repository);
# without it Ansible skips this plugin and says: No module named 'ocirelay'.
from ocirelay.ansible_support import AnsibleFilterError, guarded, plain

_KEYS = ("oci_relay_region", "oci_relay_approved_senders", "oci_relay_dkim_selectors")
_MODES = ("warn", "fail", "off")


@guarded
def ocirelay_dns_findings(values: Any, nameserver: Any = "", timeout: Any = 5) -> dict[str, Any]:
    """{status, findings, lines} for the sending domains of `values` (oci_relay_region,
    oci_relay_approved_senders, oci_relay_dkim_selectors; any other key is ignored).

    `nameserver`: IP[:PORT] to ask, or empty for the controller's resolver.
    """
    from ocirelay import dns
    from ocirelay.dns_command import render_findings, summary

    if not isinstance(values, Mapping):
        raise AnsibleFilterError("ocirelay_dns_findings expects a mapping of oci_relay_* "
                                 f"variables, got {type(values).__name__}")
    wanted = {key: plain(values.get(key)) for key in _KEYS}
    target, problems = dns.target_from_values(*(wanted[key] for key in _KEYS))
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


def _mode(host: str, values: Mapping[str, Any]) -> str:
    mode = str(plain(values.get("oci_relay_dns_check")) or "warn")
    if mode not in _MODES:
        raise AnsibleFilterError(f"{host}: oci_relay_dns_check: {mode!r} is not one of "
                                 f"{', '.join(_MODES)}")
    return mode


@guarded
def ocirelay_dns_check_hosts(hosts_values: Any, nameserver: Any = "",
                             timeout: Any = 5) -> list[dict[str, Any]]:
    """The DNS check for every distinct sending setup of the play's hosts (hostvars of each).

    Hosts with the same region, approved senders and DKIM selectors are checked once, together;
    hosts with oci_relay_dns_check off are left out. Each entry: {hosts, mode, status, findings,
    lines}; mode is fail when any of its hosts asks for fail.
    """
    groups: dict[str, dict[str, Any]] = {}
    for values in hosts_values or []:
        host = str(plain(values.get("inventory_hostname")))
        mode = _mode(host, values)
        if mode == "off":
            continue
        wanted = {key: plain(values.get(key)) for key in _KEYS}
        key = repr(sorted(wanted.items()))
        group = groups.setdefault(key, {"values": wanted, "hosts": [], "mode": "warn"})
        group["hosts"].append(host)
        if mode == "fail":
            group["mode"] = "fail"
    return [{"hosts": group["hosts"], "mode": group["mode"],
             **ocirelay_dns_findings(group["values"], nameserver, timeout)}
            for group in groups.values()]


class FilterModule:
    """ocirelay DNS readiness filters."""

    def filters(self) -> dict[str, Any]:
        return {"ocirelay_dns_findings": ocirelay_dns_findings,
                "ocirelay_dns_check_hosts": ocirelay_dns_check_hosts}
