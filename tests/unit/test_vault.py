"""Vault-encrypted values decrypt with ansible-core's vault library; without a password, a clear
problem instead of a traceback."""

from __future__ import annotations

from pathlib import Path

from ansible.constants import DEFAULT_VAULT_ID_MATCH
from ansible.parsing.vault import VaultLib, VaultSecret
from relay_samples import VALID

from ocirelay.config import validate
from ocirelay.loading import read_description

VAULT_PASSWORD = b"lab-vault-password"


def encrypt(text: str, password: bytes = VAULT_PASSWORD) -> str:
    vault = VaultLib([(DEFAULT_VAULT_ID_MATCH, VaultSecret(password))])
    return vault.encrypt(text.encode()).decode()


def write_with_vaulted_password(tmp_path: Path, secret: str) -> Path:
    body = "\n".join("  " + line for line in encrypt(secret).splitlines())
    path = tmp_path / "relay.yml"
    path.write_text(
        f"oci_relay_region: {VALID['oci_relay_region']}\n"
        f"oci_relay_username: {VALID['oci_relay_username']}\n"
        f"oci_relay_approved_senders: [noreply@example.com]\n"
        f"oci_relay_password: !vault |\n{body}\n")
    return path


def password_file(tmp_path: Path, password: bytes = VAULT_PASSWORD) -> Path:
    path = tmp_path / "vault-pass"
    path.write_bytes(password + b"\n")
    return path


def test_vault_value_decrypts_with_the_password_file(tmp_path: Path) -> None:
    path = write_with_vaulted_password(tmp_path, "s3cret: ^x")
    loaded = read_description(path, password_file(tmp_path))
    assert loaded.problems == []
    config = validate(loaded.values).config
    assert config is not None and config.password.value == "s3cret: ^x"


def test_vault_value_without_password_is_a_clear_problem(tmp_path: Path) -> None:
    loaded = read_description(write_with_vaulted_password(tmp_path, "s3cret"))
    [problem] = loaded.problems
    assert problem.key == "oci_relay_password"
    assert "--vault-password-file" in problem.fix
    assert problem.location and problem.location.endswith(":4:21")


def test_wrong_vault_password_is_a_clear_problem(tmp_path: Path) -> None:
    path = write_with_vaulted_password(tmp_path, "s3cret")
    loaded = read_description(path, password_file(tmp_path, b"wrong"))
    [problem] = loaded.problems
    assert problem.key == "oci_relay_password" and "does not decrypt" in problem.message


def test_whole_file_vault(tmp_path: Path) -> None:
    path = tmp_path / "vault.yml"
    path.write_text(encrypt("oci_relay_region: eu-frankfurt-1\n"))
    assert read_description(path).problems[0].message.startswith("the whole file")
    loaded = read_description(path, password_file(tmp_path))
    assert loaded.values == {"oci_relay_region": "eu-frankfurt-1"}
