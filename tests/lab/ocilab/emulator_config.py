"""The emulator's YAML, generated from the lab's relay description (one source of truth).

The credentials, approved senders and per-minute limit the emulator enforces are read from
inventories/lab/group_vars/oci_relays.yml, so the relay and the emulator cannot disagree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ocilab.errors import LabError
from ocilab.layout import EMULATOR_CONFIG_DIR, EMULATOR_STATE_DIR, RELAY_VARS_FILE

# Names older documentation gives for two regions; the lab answers to them as well.
LEGACY_HOSTS = {
    "us-ashburn-1": "smtp.us-ashburn-1.oraclecloud.com",
    "us-phoenix-1": "smtp.us-phoenix-1.oraclecloud.com",
}
# Port 25 answers like 587 (STARTTLS offered): the instance's nftables drop is what stops it.
STARTTLS_PORTS = (587, 25)
TLS_PORTS = (465,)
MESSAGES_PER_DAY = 10_000  # high enough for benchmarks; daily-limit tests lower it at run time
DEFAULT_MESSAGE_SIZE = 2_097_152
TLS_DIR = f"{EMULATOR_CONFIG_DIR}/tls"


def load_relay_vars(path: Path = RELAY_VARS_FILE) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise LabError(f"cannot read the lab's relay description {path}: {error}") from error
    missing = [key for key in ("oci_relay_region", "oci_relay_username", "oci_relay_password",
                               "oci_relay_approved_senders") if not (data or {}).get(key)]
    if missing:
        raise LabError(f"{path} lacks {', '.join(missing)}: the emulator is configured from it")
    return dict(data)


def smtp_host_names(region_name: str) -> list[str]:
    """The region's SMTP endpoint (as the engine derives it), then any legacy alias."""
    from ocirelay import regions  # the engine: the lab must use the very name the relay uses

    region = regions.lookup(region_name)
    if region is None:
        raise LabError(f"oci_relay_region {region_name!r} is not an OCI region")
    names = [region.smtp_host]
    if region_name in LEGACY_HOSTS:
        names.append(LEGACY_HOSTS[region_name])
    return names


def emulator_config(relay: dict[str, Any]) -> dict[str, Any]:
    """The emulator's configuration mapping for a relay description."""
    hostname = smtp_host_names(relay["oci_relay_region"])[0]
    return {
        "hostname": hostname,
        "listen": {
            "address": "0.0.0.0",
            "starttls_ports": list(STARTTLS_PORTS),
            "tls_ports": list(TLS_PORTS),
        },
        "tls": {
            "cert": f"{TLS_DIR}/server.crt",
            "key": f"{TLS_DIR}/server.key",
            "wrong_cert": f"{TLS_DIR}/wrong.crt",
            "wrong_key": f"{TLS_DIR}/wrong.key",
        },
        "credentials": [
            {"username": relay["oci_relay_username"], "password": relay["oci_relay_password"]},
        ],
        "approved_senders": list(relay["oci_relay_approved_senders"]),
        "limits": {
            "max_message_bytes": int(relay.get("oci_relay_message_size_limit",
                                               DEFAULT_MESSAGE_SIZE)),
            "per_minute": int(relay.get("oci_relay_messages_per_minute", 10)),
            "per_day": MESSAGES_PER_DAY,
        },
        "state_dir": EMULATOR_STATE_DIR,
    }


def write_emulator_config(path: Path, config: dict[str, Any]) -> None:
    header = ("# Written by tests/lab/ocilab/emulator_config.py from "
              "inventories/lab/group_vars/oci_relays.yml at `labctl.py up`; do not edit.\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    path.chmod(0o600)
