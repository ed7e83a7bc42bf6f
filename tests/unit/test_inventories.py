"""The example and lab inventories are valid relay descriptions for the CLI and for Ansible, and
nothing secret is committed in clear."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from ocirelay.cli import main as cli_main

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "inventories" / "example"
VAULT_PASSWORD_FILE = EXAMPLE / "vault-password.txt"
VAULT_FILE = EXAMPLE / "group_vars" / "oci_relays" / "vault.yml"
BIN = Path(sys.executable).parent


def ansible_inventory(*argv: str) -> dict[str, object]:
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}
    result = subprocess.run([str(BIN / "ansible-inventory"), *argv], capture_output=True,
                            text=True, check=True, env=env, cwd=REPO, timeout=120)
    return dict(json.loads(result.stdout))


def test_example_description_is_valid_for_the_cli(capsys: object) -> None:
    assert cli_main(["validate", str(EXAMPLE / "group_vars" / "oci_relays"),
                     "--vault-password-file", str(VAULT_PASSWORD_FILE)]) == 0


def test_example_vault_is_encrypted_with_the_documented_password() -> None:
    assert VAULT_PASSWORD_FILE.read_text().strip() == "example"
    assert VAULT_FILE.read_text().startswith("$ANSIBLE_VAULT;")
    assert "`example`" in (EXAMPLE / "README.md").read_text()


def test_example_inventory_gives_each_host_its_description() -> None:
    for host in ("relay1.example.com", "relay2.example.com"):
        variables = ansible_inventory("-i", str(EXAMPLE), "--vault-password-file",
                                      str(VAULT_PASSWORD_FILE), "--host", host)
        assert variables["oci_relay_region"] == "us-ashburn-1"
        assert "NOT-a-real-password" in str(variables["vault_oci_relay_password"])
    hub = ansible_inventory("-i", str(EXAMPLE), "--vault-password-file",
                            str(VAULT_PASSWORD_FILE), "--host", "relay2.example.com")
    assert hub["oci_relay_relay_networks"] == ["10.0.1.0/24"]


def test_the_fake_password_appears_nowhere_in_clear() -> None:
    decrypted = subprocess.run([str(BIN / "ansible-vault"), "view", "--vault-password-file",
                                str(VAULT_PASSWORD_FILE), str(VAULT_FILE)], capture_output=True,
                               text=True, check=True, timeout=60).stdout
    password = yaml.safe_load(decrypted)["vault_oci_relay_password"]
    for path in (REPO / "inventories").rglob("*"):
        if path.is_file():
            assert password not in path.read_text(errors="replace"), path


def test_dynamic_inventory_is_the_oci_plugin_with_the_suffix_it_needs() -> None:
    config = yaml.safe_load((REPO / "inventories" / "relays.oci.yml").read_text())
    assert config["plugin"] == "oracle.oci.oci"
    assert set(config["groups"]) == {"oci_relays", "hestia_relays"}


def test_lab_description_is_valid_for_the_cli() -> None:
    assert cli_main(["validate", str(REPO / "inventories" / "lab" / "group_vars" /
                                     "oci_relays.yml")]) == 0
