"""Bring the lab up, report its state, tear it down.

up: images (cached) -> runtime files (lab CA, emulator config) -> internal network -> host guard
-> containers -> isolation checks (refuse and clean up if one fails) -> tcp/25 block in the instance
-> lab CA trusted -> wait for systemd and for the emulator. Any failure removes what was made.
down: containers, network, host guard and .lab/ go; images stay (they are the cache).
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ocilab import containers, holder, images, isolation, network
from ocilab.ca import make_lab_ca
from ocilab.emulator_config import (
    emulator_config,
    load_relay_vars,
    smtp_host_names,
    write_emulator_config,
)
from ocilab.errors import LabError
from ocilab.host import ensure_host_packages, require_root
from ocilab.layout import (
    CLIENT,
    EMULATOR,
    EMULATOR_STATE_ON_HOST,
    INSTANCE,
    LAB_NAME,
    MEMBERS,
    NETWORK_NAME,
    RUNTIME_DIR,
    gateway,
    lab_subnet,
)
from ocilab.podman import container_exists, podman, require_podman

Say = Callable[[str], None]
STATE_FILE = RUNTIME_DIR / "state.json"
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
# Lab commands hold this lock (outside .lab/, which down deletes): one at a time per lab.
LOCK_FILE = Path(f"/run/lock/{LAB_NAME}-lab.lock")
LOCK_TIMEOUT = 300.0
SYSTEMD_TIMEOUT = 120.0
EMULATOR_TIMEOUT = 30.0


@contextlib.contextmanager
def lab_lock(say: Say) -> Iterator[None]:
    """Serialise up/down between processes (two molecule runs, a test session and a person)."""
    LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with LOCK_FILE.open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say(f"another lab command holds {LOCK_FILE}: waiting (at most {LOCK_TIMEOUT:.0f} s)")
            containers.wait_until(lambda: try_lock(handle), LOCK_TIMEOUT, f"the lock {LOCK_FILE}")
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def try_lock(handle: Any) -> bool | None:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return None
    return True


def read_state() -> dict[str, Any]:
    try:
        return dict(json.loads(STATE_FILE.read_text()))
    except (OSError, ValueError):
        return {}


def write_state(state: dict[str, Any]) -> None:
    RUNTIME_DIR.mkdir(parents=True, exist_ok=True)
    STATE_FILE.write_text(json.dumps(state, indent=2) + "\n")


def preflight(say: Say) -> None:
    require_root()
    ensure_host_packages(say)
    require_podman()


def is_up(suite: str) -> bool:
    """Everything the lab makes is there and running, for the requested suite and subnet."""
    state = read_state()
    return (state.get("suite") == suite
            and state.get("subnet") == str(lab_subnet())
            and network.inspect_network() is not None
            and all(containers.container_state(m.name) == "running" for m in MEMBERS))


def leftovers() -> list[str]:
    """Lab-made objects that exist although the lab is not (fully) up."""
    found = [m.name for m in MEMBERS
             if container_exists(m.name) and containers.made_by_lab(m.name)]
    info = network.inspect_network()
    if info is not None and info.made_by_lab:
        found.append(NETWORK_NAME)
    if network.host_guard_text() is not None:
        found.append("host nftables guard")
    if RUNTIME_DIR.exists():
        found.append(str(RUNTIME_DIR))
    return found


def refuse_name_clashes() -> None:
    clashes = [f"container {m.name}" for m in MEMBERS
               if container_exists(m.name) and not containers.made_by_lab(m.name)]
    info = network.inspect_network()
    if info is not None and not info.made_by_lab:
        clashes.append(f"network {NETWORK_NAME}")
    if clashes:
        raise LabError(f"{', '.join(clashes)} already exist(s) and the lab did not make them: "
                       "rename or remove them (the lab never touches what it did not make)")


def refuse_subnet_clash(subnet: ipaddress.IPv4Network) -> None:
    clashes = network.subnet_clashes(subnet)
    if clashes:
        raise LabError(f"the lab's subnet {subnet} is already in use ({'; '.join(clashes)}): "
                       "set OCIRELAY_LAB_SUBNET to another private /24, e.g. 10.89.78.0/24")


def prepare_runtime(smtp_hosts: list[str]) -> Path:
    """.lab/: the lab CA and certificates, the emulator's config and state directories."""
    RUNTIME_DIR.mkdir(parents=True, exist_ok=True)
    ca = make_lab_ca(RUNTIME_DIR / "ca", smtp_hosts)
    tls = RUNTIME_DIR / "emulator" / "tls"
    tls.mkdir(parents=True, exist_ok=True)
    for label in ("server", "wrong"):
        shutil.copy2(ca.cert(label), tls / f"{label}.crt")
        shutil.copy2(ca.key(label), tls / f"{label}.key")
    shutil.copy2(ca.ca_cert, tls / "ca.crt")
    write_emulator_config(RUNTIME_DIR / "emulator" / "config.yml",
                          emulator_config(load_relay_vars()))
    EMULATOR_STATE_ON_HOST.mkdir(exist_ok=True)
    return ca.ca_cert


def start_containers(suite: str, subnet: ipaddress.IPv4Network, smtp_hosts: list[str]) -> None:
    containers.run_emulator(subnet, images.EMULATOR_IMAGE.name, RUNTIME_DIR)
    containers.run_instance(subnet, images.instance_image(suite).name, smtp_hosts)
    containers.run_client(subnet, images.CLIENT_IMAGE.name, smtp_hosts)


def isolation_checks(subnet: ipaddress.IPv4Network) -> list[isolation.Check]:
    info = network.inspect_network()
    if info is None:
        return [isolation.Check("network exists", False, f"no network {NETWORK_NAME}")]
    checks = [*isolation.network_checks(info, subnet), isolation.host_guard_check(info),
              *isolation.host_route_checks(info, MEMBERS, subnet)]
    for member in MEMBERS:
        if containers.container_state(member.name) == "running":
            checks += isolation.container_route_checks(member)
    return checks


def bring_up(suite: str, subnet: ipaddress.IPv4Network, say: Say, owner: str | None) -> None:
    smtp_hosts = smtp_host_names(load_relay_vars()["oci_relay_region"])
    write_state({"suite": suite, "subnet": str(subnet), "owner": owner,
                 "holder": holder.holder_record() if owner else None,
                 "since": time.strftime("%Y-%m-%d %H:%M:%S"),
                 "ip_forward_before": IP_FORWARD.read_text().strip()})
    ca_cert = prepare_runtime(smtp_hosts)
    info = network.create_network(subnet)
    isolation.refuse_unless_isolated(isolation.network_checks(info, subnet))
    network.install_host_guard(info.interface)
    say(f"network {NETWORK_NAME} ({subnet}, gateway {gateway(subnet)}, bridge {info.interface})")
    start_containers(suite, subnet, smtp_hosts)
    isolation.refuse_unless_isolated(isolation_checks(subnet))
    say("isolation checked: internal network, routes via the lab bridge, no route out")
    containers.block_egress_port_25()
    isolation.refuse_unless_isolated([isolation.instance_egress_check()])
    containers.trust_lab_ca(ca_cert)
    state = containers.wait_for_systemd(SYSTEMD_TIMEOUT)
    if state == "degraded":
        say(f"warning: systemd in {INSTANCE.name} is degraded: {containers.failed_units()}")
    containers.wait_for_emulator(EMULATOR_TIMEOUT)


def refuse_foreign_owner(owner: str | None, action: str, say: Say = print) -> None:
    """A lab brought up for one user (a molecule scenario, a test session) is not another's.

    Without an owner (a person at the command line) nothing is refused: that is the way to clear
    a leftover lab. Nor is a lab whose owner's run has ended (killed, timed out): it is a leftover.
    """
    state = read_state()
    current = state.get("owner")
    if owner and current and current != owner and not holder.holder_alive(state.get("holder")):
        say(f"the lab's owner {current} (up since {state.get('since', '?')}) has ended "
            f"(process {state['holder']['pid']} is gone): treating its lab as a leftover")
        return
    if owner and current and current != owner:
        raise LabError(
            f"the lab is in use by {current} (up since {state.get('since', '?')}): not {action} "
            "it. Wait for that run to finish; if it is a leftover, tear it down with "
            "`python3 tests/lab/labctl.py down` (no --owner)")


def up(suite: str, say: Say = print, owner: str | None = None) -> None:
    """Bring the lab up with the instance on `suite`; a no-op when it already runs.

    owner names the user of the lab (e.g. molecule-<scenario>): another owner's lab is neither
    reused nor replaced.
    """
    preflight(say)
    with lab_lock(say):
        up_locked(suite, say, owner)


def up_locked(suite: str, say: Say, owner: str | None) -> None:
    started = time.monotonic()
    refuse_foreign_owner(owner, "reusing or replacing", say)
    previous_owner = read_state().get("owner")
    # An ended owner's lab may hold its half-done changes: made afresh, not reused.
    if is_up(suite) and not (owner and previous_owner and previous_owner != owner):
        say(f"the lab is already up ({suite}); `down` first to recreate it")
        return
    found = leftovers()
    if found:
        say(f"removing an earlier lab's leftovers: {', '.join(found)}")
        down_locked(say=lambda _: None)
    refuse_name_clashes()
    subnet = lab_subnet()
    refuse_subnet_clash(subnet)
    images.ensure_images(images.images_for_lab(suite), say)
    try:
        bring_up(suite, subnet, say, owner)
    except BaseException:
        say("lab up failed: removing what it made")
        down_locked(say=lambda _: None)
        raise
    state = read_state()
    state["up_seconds"] = round(time.monotonic() - started, 2)
    write_state(state)
    say(f"lab up in {state['up_seconds']} s: {INSTANCE.name} ({suite}) {INSTANCE.ip(subnet)}, "
        f"{EMULATOR.name} {EMULATOR.ip(subnet)}, {CLIENT.name} {CLIENT.ip(subnet)}")


def restore_ip_forward(before: str | None, say: Say) -> None:
    """netavark turns on the host's IPv4 forwarding; turn it off again if it was off before
    and no other container still runs (one might need it)."""
    if before != "0" or IP_FORWARD.read_text().strip() == "0":
        return
    if podman("ps", "--quiet", check=False).stdout.strip():
        say("note: net.ipv4.ip_forward left at 1 (other containers are running)")
        return
    IP_FORWARD.write_text("0\n")


def down(say: Say = print, owner: str | None = None) -> None:
    """Remove the lab's containers, network, host guard and runtime files; keep the images.

    With an owner, a lab that another owner brought up is left alone (LabError).
    """
    require_root()
    require_podman()
    with lab_lock(say):
        refuse_foreign_owner(owner, "tearing down", say)
        down_locked(say)


def down_locked(say: Say) -> None:
    started = time.monotonic()
    state = read_state()
    notes = [note for m in MEMBERS if (note := containers.remove_container(m.name))]
    if (note := network.remove_network()) is not None:
        notes.append(note)
    network.remove_host_guard()
    restore_ip_forward(state.get("ip_forward_before"), say)
    shutil.rmtree(RUNTIME_DIR, ignore_errors=True)
    for note in notes:
        say(f"note: {note}")
    say(f"lab down in {time.monotonic() - started:.2f} s")


def check() -> list[isolation.Check]:
    """The isolation checks of a running lab (reads state only, sends nothing)."""
    if network.inspect_network() is None:
        raise LabError("the lab is down: nothing to check (run `labctl.py up`)")
    subnet = ipaddress.IPv4Network(read_state().get("subnet") or str(lab_subnet()))
    checks = isolation_checks(subnet)
    if containers.container_state(INSTANCE.name) == "running":
        checks.append(isolation.instance_egress_check())
    return checks


def status() -> dict[str, Any]:
    """The lab's state as data: network, containers, isolation and what the instance sees."""
    state = read_state()
    subnet = ipaddress.IPv4Network(state.get("subnet") or str(lab_subnet()))
    info = network.inspect_network()
    report: dict[str, Any] = {
        "state": state,
        "network": asdict(info) if info else None,
        "containers": {m.name: {"state": containers.container_state(m.name),
                                "ip": m.ip(subnet), "mac": m.mac(subnet),
                                "hostname": m.hostname} for m in MEMBERS},
    }
    if info is None:
        return report
    checks = isolation_checks(subnet)
    if containers.container_state(INSTANCE.name) == "running":
        checks.append(isolation.instance_egress_check())
        report["systemd"] = containers.systemd_state() or "starting"
        report["from_instance"] = containers.probe_smtp(INSTANCE.name, EMULATOR.ip(subnet))
    report["isolation"] = [asdict(check) for check in checks]
    report["isolated"] = all(check.ok for check in checks)
    return report
