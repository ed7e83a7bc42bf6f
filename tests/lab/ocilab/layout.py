"""Where the lab keeps things and how its pieces are named and addressed.

Everything the lab creates is labelled (MEMBER_LABEL on containers, LAB_LABEL on its network and
images), so tear-down removes only what the lab made, never a container or network that merely
shares a name.

The lab is "ocirelay" (containers ocirelay-instance, ..., network ocirelay-lab, runtime files in
.lab/), the one the inventory and molecule scenarios use. OCIRELAY_LAB_NAME=NAME gives a second,
independent lab on the same host (NAME-instance, ..., network NAME-lab, its own /24 and runtime
directory under /var/tmp): the lab tests use one, so they never disturb a scenario's lab.
"""

from __future__ import annotations

import ipaddress
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from ocilab.errors import LabError

DEFAULT_LAB_NAME = "ocirelay"
LAB_NAME_ENV = "OCIRELAY_LAB_NAME"


def lab_name() -> str:
    name = os.environ.get(LAB_NAME_ENV, DEFAULT_LAB_NAME)
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,23}", name):
        raise LabError(f"{LAB_NAME_ENV}={name!r}: use lower-case letters, digits and '-' "
                       "(at most 24, starting with a letter)")
    return name


LAB_NAME = lab_name()
IS_DEFAULT_LAB = LAB_NAME == DEFAULT_LAB_NAME
LAB_DIR = Path(__file__).resolve().parent.parent
REPO = LAB_DIR.parent.parent
RUNTIME_DIR = REPO / ".lab" if IS_DEFAULT_LAB else Path("/var/tmp") / f"{LAB_NAME}-lab"
# The emulator's state_dir on the host: its message store and control socket (control.sock), for
# oci_emulator.client.EmulatorClient(EMULATOR_STATE_ON_HOST).
EMULATOR_STATE_ON_HOST = RUNTIME_DIR / "emulator-state"
CONTAINERS_CONF = LAB_DIR / "containers.conf"
IMAGES_DIR = LAB_DIR / "images"
EMULATOR_SOURCE = LAB_DIR / "emulator"
INVENTORY_DIR = REPO / "inventories" / "lab"
RELAY_VARS_FILE = INVENTORY_DIR / "group_vars" / "oci_relays.yml"

LAB_LABEL = "org.ocirelay.lab"
# Containers inherit their image's labels, so a container made from a lab image by someone else
# carries LAB_LABEL too: lab containers are recognised by this label, set only by `podman run`.
MEMBER_LABEL = "org.ocirelay.lab.member"
INPUTS_LABEL = "org.ocirelay.lab.inputs"
NETWORK_NAME = f"{LAB_NAME}-lab"
# Another lab's /24 is derived from its name (10.89.78.0 to 10.89.227.0); the clash check
# refuses one already in use.
DEFAULT_SUBNET = ("10.89.77.0/24" if IS_DEFAULT_LAB
                  else f"10.89.{78 + zlib.crc32(LAB_NAME.encode()) % 150}.0/24")
SUBNET_ENV = "OCIRELAY_LAB_SUBNET"
# The host-side guard: an nftables table that drops anything forwarded to or from the lab bridge
# and anything the lab sends to the host itself.
HOST_GUARD_TABLE = f"{LAB_NAME.replace('-', '_')}_lab_guard"
# Inside the instance: OCI drops egress to tcp/25 whatever the security lists say.
INSTANCE_EGRESS_TABLE = "ocirelay_oci_egress"

INSTANCE_CA_PATH = "/usr/local/share/ca-certificates/ocirelay-lab-ca.crt"
EMULATOR_CONFIG_DIR = "/etc/oci-emulator"
EMULATOR_STATE_DIR = "/var/lib/oci-emulator"
EMULATOR_CODE_DIR = "/opt/oci-emulator"

SUITES = ("bookworm", "trixie")


@dataclass(frozen=True)
class Member:
    """One container of the lab: its name, role, host name and fixed address."""

    name: str
    role: str
    hostname: str
    host_number: int

    def ip(self, subnet: ipaddress.IPv4Network) -> str:
        return str(subnet.network_address + self.host_number)

    def mac(self, subnet: ipaddress.IPv4Network) -> str:
        """A fixed, locally administered MAC derived from the IP (no stale ARP on re-create)."""
        octets = ipaddress.IPv4Address(self.ip(subnet)).packed
        return "02:4f:" + ":".join(f"{octet:02x}" for octet in octets)


EMULATOR = Member(f"{LAB_NAME}-emulator", "emulator", "emulator.lab.internal", 10)
INSTANCE = Member(f"{LAB_NAME}-instance", "instance", "relay1.lab.internal", 20)
CLIENT = Member(f"{LAB_NAME}-client", "client", "client1.lab.internal", 30)
MEMBERS = (EMULATOR, INSTANCE, CLIENT)


def lab_subnet() -> ipaddress.IPv4Network:
    """The lab's /24: DEFAULT_SUBNET unless OCIRELAY_LAB_SUBNET names another private /24."""
    text = os.environ.get(SUBNET_ENV, DEFAULT_SUBNET)
    try:
        subnet = ipaddress.IPv4Network(text)
    except ValueError as error:
        raise LabError(f"{SUBNET_ENV}={text!r} is not a network: {error}") from error
    if subnet.prefixlen != 24 or not subnet.is_private:
        raise LabError(f"{SUBNET_ENV}={text!r}: the lab needs a private /24, e.g. 10.89.77.0/24")
    return subnet


def gateway(subnet: ipaddress.IPv4Network) -> str:
    return str(subnet.network_address + 1)
