"""Running the project's playbooks against a host that can never be reached.

The host's podman is /bin/false, so any task that touches it fails as UNREACHABLE: a play that
ends with unreachable=0 provably stopped before its first connection.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"


def unreachable_inventory(tmp_path: Path, group_vars: dict[str, Any]) -> Path:
    """An inventory with one oci_relays host that cannot be reached, and these group_vars."""
    inventory = tmp_path / "inventory"
    (inventory / "group_vars").mkdir(parents=True)
    (inventory / "hosts.yml").write_text(yaml.safe_dump({"all": {"children": {"oci_relays": {
        "hosts": {"unreachable-relay": {
            "ansible_connection": "containers.podman.podman",
            "ansible_podman_executable": "/bin/false",
            "ansible_host": "ocirelay-no-such-container"}}}}}}))
    (inventory / "group_vars" / "oci_relays.yml").write_text(yaml.safe_dump(group_vars))
    return inventory


def run_site(inventory: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """playbooks/site.yml with the project's ansible.cfg."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "PATH": f"{ANSIBLE_PLAYBOOK.parent}:{os.environ.get('PATH', '')}"}
    return subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", str(inventory),
                           str(REPO / "playbooks" / "site.yml"), *extra],
                          capture_output=True, text=True, env=env, cwd=REPO, check=False,
                          timeout=300)
