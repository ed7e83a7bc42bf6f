"""The lab's internal podman network, and the host-side guard around its bridge."""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from ocilab.errors import LabError
from ocilab.layout import HOST_GUARD_TABLE, LAB_LABEL, NETWORK_NAME, gateway
from ocilab.podman import network_exists, podman, podman_json


@dataclass(frozen=True)
class NetworkInfo:
    name: str
    interface: str
    subnets: tuple[tuple[str, str | None], ...]  # (subnet, gateway)
    internal: bool
    dns_enabled: bool
    labels: dict[str, str]

    @property
    def made_by_lab(self) -> bool:
        return LAB_LABEL in self.labels


def network_info(data: dict[str, Any]) -> NetworkInfo:
    subnets = tuple((str(s.get("subnet")), s.get("gateway")) for s in data.get("subnets") or [])
    return NetworkInfo(
        name=str(data.get("name")),
        interface=str(data.get("network_interface") or ""),
        subnets=subnets,
        internal=bool(data.get("internal")),
        dns_enabled=bool(data.get("dns_enabled")),
        labels=dict(data.get("labels") or {}),
    )


def inspect_network(name: str = NETWORK_NAME) -> NetworkInfo | None:
    if not network_exists(name):
        return None
    return network_info(podman_json("network", "inspect", name)[0])


def all_networks() -> list[NetworkInfo]:
    names = podman("network", "ls", "--format", "{{.Name}}").stdout.split()
    return [network_info(podman_json("network", "inspect", name)[0]) for name in names]


def host_routes() -> list[dict[str, Any]]:
    result = subprocess.run(["ip", "-j", "route", "show", "table", "all"], capture_output=True,
                            text=True, check=False)
    return json.loads(result.stdout or "[]") if result.returncode == 0 else []


def overlaps(subnet: ipaddress.IPv4Network, text: str) -> bool:
    try:
        other = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return other.version == 4 and subnet.overlaps(other) and other.prefixlen > 0


def subnet_clashes(subnet: ipaddress.IPv4Network) -> list[str]:
    """What already uses the lab's subnet: another podman network, or a route on the host."""
    clashes = [f"podman network {net.name} uses {cidr}"
               for net in all_networks() if net.name != NETWORK_NAME
               for cidr, _ in net.subnets if overlaps(subnet, cidr)]
    clashes += [f"host route {route.get('dst')} dev {route.get('dev')}"
                for route in host_routes()
                if route.get("dst") not in (None, "default")
                and route.get("type", "unicast") in ("unicast", "blackhole", "unreachable")
                and overlaps(subnet, str(route.get("dst")))]
    return clashes


def create_network(subnet: ipaddress.IPv4Network) -> NetworkInfo:
    """An internal network (no NAT, no default route) with an explicit gateway and no DNS."""
    podman("network", "create", "--internal", "--disable-dns",
           "--subnet", str(subnet), "--gateway", gateway(subnet),
           "--label", f"{LAB_LABEL}=network", NETWORK_NAME)
    info = inspect_network()
    if info is None:
        raise LabError(f"podman network create {NETWORK_NAME} succeeded, but no such network")
    return info


def remove_network() -> str | None:
    """Remove the lab's network; a same-named network the lab did not make is left alone."""
    info = inspect_network()
    if info is None:
        return None
    if not info.made_by_lab:
        return f"network {NETWORK_NAME} was not made by the lab: left alone"
    podman("network", "rm", "--force", NETWORK_NAME)
    return None


# --- the host-side guard -------------------------------------------------------------------------
# Defence in depth on the host: whatever a container does to its routes, nothing is forwarded
# between the lab bridge and any other interface, and the lab cannot open connections to the host.
# Traffic between lab containers stays on the bridge and is untouched.


def guard_ruleset(interface: str) -> str:
    return f"""table inet {HOST_GUARD_TABLE}
delete table inet {HOST_GUARD_TABLE}
table inet {HOST_GUARD_TABLE} {{
    chain forward {{
        type filter hook forward priority -10; policy accept;
        iifname "{interface}" oifname != "{interface}" drop
        oifname "{interface}" iifname != "{interface}" drop
    }}
    chain input {{
        type filter hook input priority -10; policy accept;
        iifname "{interface}" drop
    }}
}}
"""


def nft(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    if shutil.which("nft") is None:
        raise LabError("nft is missing: run `python3 tests/lab/labctl.py setup`")
    return subprocess.run(["nft", *args], input=stdin, capture_output=True, text=True,
                          check=False, timeout=30)


def install_host_guard(interface: str) -> None:
    if not interface:
        raise LabError(f"podman did not name the bridge of {NETWORK_NAME}: cannot guard it")
    result = nft("-f", "-", stdin=guard_ruleset(interface))
    if result.returncode != 0:
        raise LabError(f"cannot install the host's nftables guard for {interface}: "
                       f"{result.stderr.strip()}")


def host_guard_text() -> str | None:
    result = nft("list", "table", "inet", HOST_GUARD_TABLE)
    return result.stdout if result.returncode == 0 else None


def remove_host_guard() -> None:
    if host_guard_text() is not None:
        nft("delete", "table", "inet", HOST_GUARD_TABLE)
