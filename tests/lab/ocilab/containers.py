"""The lab's three containers: the emulator, the OCI-shaped instance and a plain client."""

from __future__ import annotations

import ipaddress
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from ocilab.errors import LabError
from ocilab.layout import (
    CLIENT,
    EMULATOR,
    EMULATOR_CODE_DIR,
    EMULATOR_CONFIG_DIR,
    EMULATOR_SOURCE,
    EMULATOR_STATE_DIR,
    EMULATOR_STATE_ON_HOST,
    INSTANCE,
    INSTANCE_CA_PATH,
    INSTANCE_EGRESS_TABLE,
    MEMBER_LABEL,
    MEMBERS,
    NETWORK_NAME,
    Member,
)
from ocilab.podman import container_exists, exec_in, labels_of, podman, podman_json

T = TypeVar("T")
POLL_INTERVAL = 0.2


class WaitTimeout(LabError):
    """A condition did not come true in time."""


def wait_until(condition: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll condition until it returns something other than None; LabError after timeout s."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value is not None:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(POLL_INTERVAL)


def emulator_source() -> Path:
    """The emulator's code, bind-mounted read-only (OCIRELAY_LAB_EMULATOR_SOURCE overrides)."""
    return Path(os.environ.get("OCIRELAY_LAB_EMULATOR_SOURCE", EMULATOR_SOURCE)).resolve()


def emulator_pythonpath(source: Path) -> str:
    """Where `python3 -m oci_emulator` finds the package inside the container."""
    for relative in ("", "src"):
        if (source / relative / "oci_emulator").is_dir():
            return f"{EMULATOR_CODE_DIR}/{relative}".rstrip("/")
    raise LabError(f"the emulator's code is not in {source} (no oci_emulator package there or "
                   "under src/): it is built in tests/lab/emulator/")


def common_run_args(member: Member, subnet: ipaddress.IPv4Network,
                    hosts: dict[str, str]) -> list[str]:
    args = ["run", "--detach", "--name", member.name, "--label", f"{MEMBER_LABEL}={member.role}",
            "--network", NETWORK_NAME, "--ip", member.ip(subnet),
            "--mac-address", member.mac(subnet), "--hostname", member.hostname]
    for name, address in hosts.items():
        args += ["--add-host", f"{name}:{address}"]
    return args


def run_emulator(subnet: ipaddress.IPv4Network, image: str, runtime: Path) -> None:
    source = emulator_source()
    pythonpath = emulator_pythonpath(source)
    podman(*common_run_args(EMULATOR, subnet, {INSTANCE.hostname: INSTANCE.ip(subnet),
                                               CLIENT.hostname: CLIENT.ip(subnet)}),
           "--volume", f"{source}:{EMULATOR_CODE_DIR}:ro",
           "--volume", f"{runtime / 'emulator'}:{EMULATOR_CONFIG_DIR}:ro",
           "--volume", f"{EMULATOR_STATE_ON_HOST}:{EMULATOR_STATE_DIR}",
           "--env", f"PYTHONPATH={pythonpath}",
           image)


def run_instance(subnet: ipaddress.IPv4Network, image: str, smtp_hosts: list[str]) -> None:
    hosts = dict.fromkeys(smtp_hosts, EMULATOR.ip(subnet))
    hosts[CLIENT.hostname] = CLIENT.ip(subnet)
    podman(*common_run_args(INSTANCE, subnet, hosts), "--systemd=always", image, "/sbin/init")


def run_client(subnet: ipaddress.IPv4Network, image: str, smtp_hosts: list[str]) -> None:
    hosts = dict.fromkeys(smtp_hosts, EMULATOR.ip(subnet))
    hosts[INSTANCE.hostname] = INSTANCE.ip(subnet)
    podman(*common_run_args(CLIENT, subnet, hosts), image)


def container_state(name: str) -> str | None:
    if not container_exists(name):
        return None
    return str(podman_json("container", "inspect", name)[0]["State"]["Status"])


def made_by_lab(name: str) -> bool:
    """A lab container: started by the lab with its member label (not merely from a lab image)."""
    roles = {member.role for member in MEMBERS}
    return labels_of("container", name).get(MEMBER_LABEL) in roles


def remove_container(name: str) -> str | None:
    """Remove a lab container; one with the same name that the lab did not make is left alone."""
    if not container_exists(name):
        return None
    if not made_by_lab(name):
        return f"container {name} was not made by the lab: left alone"
    podman("rm", "--force", "--time", "0", name, timeout=60)
    return None


def logs_tail(name: str, lines: int = 30) -> str:
    result = podman("logs", "--tail", str(lines), name, check=False)
    return (result.stdout + result.stderr).strip()


# --- inside the instance -----------------------------------------------------------------------

EGRESS_RULESET = f"""table inet {INSTANCE_EGRESS_TABLE}
delete table inet {INSTANCE_EGRESS_TABLE}
table inet {INSTANCE_EGRESS_TABLE} {{
    chain output {{
        type filter hook output priority 0; policy accept;
        oifname "lo" accept
        tcp dport 25 drop
    }}
}}
"""


def block_egress_port_25() -> None:
    """OCI drops every outbound tcp/25: so does the instance (dropped, so connects time out).

    Applied with a privileged exec: the instance itself has no CAP_NET_ADMIN, so nothing running
    in it (a converge included) can lift the block or add a route out.
    """
    result = exec_in(INSTANCE.name, ["nft", "-f", "-"], privileged=True, check=False,
                     stdin=EGRESS_RULESET)
    if result.returncode != 0:
        raise LabError(f"cannot apply the tcp/25 egress block in {INSTANCE.name}: "
                       f"{result.stderr.strip()}")


def trust_lab_ca(ca_cert: Path) -> None:
    podman("cp", str(ca_cert), f"{INSTANCE.name}:{INSTANCE_CA_PATH}")
    exec_in(INSTANCE.name, ["chmod", "0644", INSTANCE_CA_PATH])
    result = exec_in(INSTANCE.name, ["update-ca-certificates"], check=False, timeout=120)
    if result.returncode != 0:
        raise LabError(f"update-ca-certificates failed in {INSTANCE.name}: "
                       f"{(result.stderr or result.stdout).strip()}")


def systemd_state() -> str | None:
    """running/degraded once boot finished; None while starting (or systemd not reachable yet)."""
    result = exec_in(INSTANCE.name, ["timeout", "20", "systemctl", "is-system-running", "--wait"],
                     check=False, timeout=30)
    state = result.stdout.strip()
    return state if state in ("running", "degraded") else None


def failed_units() -> list[str]:
    result = exec_in(INSTANCE.name, ["systemctl", "--failed", "--plain", "--no-legend"],
                     check=False)
    return [line.split()[0] for line in result.stdout.splitlines() if line.strip()]


def wait_for_systemd(timeout: float) -> str:
    def booted() -> str | None:
        if container_state(INSTANCE.name) != "running":
            raise LabError(f"{INSTANCE.name} stopped while booting:\n{logs_tail(INSTANCE.name)}")
        return systemd_state()

    return wait_until(booted, timeout, f"systemd in {INSTANCE.name} to finish booting")


# The emulator answers when each port gives a 220 greeting (465 after the TLS handshake).
PROBE = """
import json, socket, ssl, sys
def greeting(port, tls):
    try:
        sock = socket.create_connection((sys.argv[1], port), timeout=float(sys.argv[2]))
        if tls:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            sock = context.wrap_socket(sock)
        sock.settimeout(float(sys.argv[2]))
        line = sock.recv(512).decode("ascii", "replace").strip()
        sock.close()
        return line
    except Exception as error:
        return "error: %s: %s" % (type(error).__name__, error)
print(json.dumps({str(p): greeting(p, p == 465) for p in (587, 465, 25)}))
"""


def probe_smtp(container: str, address: str, timeout: float = 2.0) -> dict[str, str]:
    """Greeting lines of the emulator's ports 587, 465 and 25, as seen from container."""
    result = exec_in(container, ["python3", "-c", PROBE, address, str(timeout)], check=False,
                     timeout=timeout * 3 + 10)
    if result.returncode != 0:
        return {"error": (result.stderr or result.stdout).strip()}
    return dict(json.loads(result.stdout))


def wait_for_emulator(timeout: float) -> dict[str, str]:
    def answering() -> dict[str, str] | None:
        if container_state(EMULATOR.name) != "running":
            raise LabError(f"the emulator stopped (bad config? port clash?):\n"
                           f"{logs_tail(EMULATOR.name)}")
        greetings = probe_smtp(EMULATOR.name, "127.0.0.1", timeout=1.0)
        return greetings if all(g.startswith("220") for g in greetings.values()) else None

    try:
        return wait_until(answering, timeout, "the emulator to greet on 587, 465 and 25")
    except WaitTimeout as error:
        raise LabError(f"{error}\nemulator log:\n{logs_tail(EMULATOR.name)}") from None
