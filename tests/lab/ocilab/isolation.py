"""Checks that the lab is isolated as it must be; the lab refuses to go on when one fails.

- the network is internal, with the explicit gateway and subnet the lab asked for, and no DNS;
- from the host, each container's address routes through that network's bridge (so nothing
  addressed to a container can leave by the host's default route);
- the host guard (nftables) is in place for that bridge;
- no container has a default route (IPv4 or IPv6) or any route to an address outside the lab;
- inside the instance, egress tcp/25 is dropped (as on OCI).

Every check reads state (podman inspect, `ip route get`, nft list): none sends a packet.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from dataclasses import dataclass

from ocilab.errors import LabError
from ocilab.layout import HOST_GUARD_TABLE, INSTANCE, INSTANCE_EGRESS_TABLE, Member, gateway
from ocilab.network import NetworkInfo, host_guard_text
from ocilab.podman import exec_in

# Any address outside the lab will do: `ip route get` only looks the route up, it sends nothing.
OUTSIDE_ADDRESS = "1.1.1.1"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def network_checks(info: NetworkInfo, subnet: ipaddress.IPv4Network) -> list[Check]:
    expected = (str(subnet), gateway(subnet))
    return [
        Check("network is internal", info.internal,
              "internal" if info.internal else f"{info.name} is not --internal"),
        Check("network has the explicit gateway and subnet", info.subnets == (expected,),
              f"subnets {list(info.subnets)}, expected [{expected}]"),
        Check("network has no DNS forwarder", not info.dns_enabled,
              "dns disabled" if not info.dns_enabled else "aardvark-dns would forward queries"),
        Check("network was made by the lab", info.made_by_lab, f"labels {info.labels}"),
    ]


def host_route_dev(address: str) -> str | None:
    result = subprocess.run(["ip", "-j", "route", "get", address], capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        return None
    routes = json.loads(result.stdout or "[]")
    return str(routes[0].get("dev")) if routes else None


def host_route_checks(info: NetworkInfo, members: tuple[Member, ...],
                      subnet: ipaddress.IPv4Network) -> list[Check]:
    checks = []
    for member in members:
        address = member.ip(subnet)
        dev = host_route_dev(address)
        checks.append(Check(f"host routes {address} ({member.name}) via the lab bridge",
                            bool(info.interface) and dev == info.interface,
                            f"ip route get {address}: dev {dev}, bridge {info.interface}"))
    return checks


def host_guard_check(info: NetworkInfo) -> Check:
    text = host_guard_text()
    ok = text is not None and f'"{info.interface}"' in text
    return Check("host guard drops forwarding to/from the lab bridge", ok,
                 f"nft table inet {HOST_GUARD_TABLE}" + ("" if ok else " missing or stale"))


# One exec per container: the default routes (IPv4, IPv6), then a route lookup outside the lab.
ROUTES_SCRIPT = f"""
echo "$(ip -j -4 route show default)"
echo "$(ip -j -6 route show default)"
echo "$(ip route get {OUTSIDE_ADDRESS} 2>&1 && echo ROUTED || echo NO-ROUTE)"
"""


def container_route_checks(member: Member) -> list[Check]:
    result = exec_in(member.name, ["sh", "-c", ROUTES_SCRIPT], check=False)
    lines = result.stdout.splitlines()
    if result.returncode != 0 or len(lines) < 3:
        raise LabError(f"cannot read the routes of {member.name}: "
                       f"{(result.stderr or result.stdout).strip()}")
    v4 = json.loads(lines[0] or "[]")
    v6 = json.loads(lines[1] or "[]")
    outside = " ".join(lines[2:])
    return [
        Check(f"{member.name} has no IPv4 default route", not v4, f"default routes: {v4}"),
        Check(f"{member.name} has no IPv6 default route", not v6, f"default routes: {v6}"),
        Check(f"{member.name} has no route to {OUTSIDE_ADDRESS}", outside.endswith("NO-ROUTE"),
              outside.removesuffix("NO-ROUTE").strip()),
    ]


def instance_egress_check() -> Check:
    result = exec_in(INSTANCE.name, ["nft", "list", "table", "inet", INSTANCE_EGRESS_TABLE],
                     privileged=True, check=False)
    ok = result.returncode == 0 and "tcp dport 25 drop" in result.stdout
    return Check(f"{INSTANCE.name} drops egress tcp/25", ok,
                 "nftables rule in place" if ok else (result.stderr or result.stdout).strip())


def refuse_unless_isolated(checks: list[Check], consequence: str = "so it will not start") -> None:
    failed = [check for check in checks if not check.ok]
    if failed:
        lines = "\n".join(f"  - {check.name}: {check.detail}" for check in failed)
        raise LabError(f"the lab is not isolated as it must be, {consequence}:\n{lines}")
