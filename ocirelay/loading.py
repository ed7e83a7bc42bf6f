"""Read a relay description from YAML: a file, or a group_vars directory of files.

Values tagged `!vault` (or whole vault-encrypted files) are decrypted with ansible-core's vault
library. Simple `{{ name }}` references to other keys of the same input are resolved, because
group_vars commonly point `oci_relay_password` at a `vault_...` variable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ocirelay.problems import Problem

VAULT_HEADER = "$ANSIBLE_VAULT;"
_REFERENCE = re.compile(r"^\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}$")
YAML_SUFFIXES = {".yml", ".yaml", ".json", ""}


@dataclass(frozen=True)
class VaultValue:
    ciphertext: str
    location: str


@dataclass(frozen=True)
class Loaded:
    values: dict[str, Any]
    problems: list[Problem]


class _Loader(yaml.SafeLoader):
    """SafeLoader that knows Ansible's !vault and !unsafe tags."""

    source = "<input>"


def _construct_vault(loader: _Loader, node: yaml.Node) -> VaultValue:
    mark = node.start_mark
    return VaultValue(str(loader.construct_scalar(node)),  # type: ignore[arg-type]
                      f"{loader.source}:{mark.line + 1}:{mark.column + 1}")


def _construct_unsafe(loader: _Loader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)  # type: ignore[arg-type]


_Loader.add_constructor("!vault", _construct_vault)
_Loader.add_constructor("!unsafe", _construct_unsafe)


def _vault_lib(password_file: Path | None) -> Any:
    if password_file is None:
        return None
    from ansible.constants import DEFAULT_VAULT_ID_MATCH
    from ansible.parsing.vault import VaultLib, VaultSecret

    secret = VaultSecret(password_file.read_bytes().rstrip(b"\r\n"))
    return VaultLib([(DEFAULT_VAULT_ID_MATCH, secret)])


def _decrypt(vault: Any, ciphertext: str) -> str:
    from ansible.errors import AnsibleError

    try:
        return vault.decrypt(ciphertext.encode()).decode()
    except AnsibleError as exc:
        raise ValueError("the vault password does not decrypt it") from exc


def _parse_file(path: Path, vault: Any) -> tuple[dict[str, Any], list[Problem]]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return {}, [Problem("file", f"cannot read {path}: {exc}", "check the path and its "
                            "permissions", location=str(path))]
    if text.lstrip().startswith(VAULT_HEADER):
        if vault is None:
            return {}, [Problem("file", "the whole file is vault-encrypted and no vault password "
                                "was given", "pass --vault-password-file FILE",
                                location=str(path))]
        try:
            text = _decrypt(vault, text)
        except ValueError as exc:
            return {}, [Problem("file", str(exc), "use the vault password this file was "
                                "encrypted with", location=str(path))]
    loader = _Loader(text)
    loader.source = str(path)
    try:
        data = loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        # Only the mark and the parser's words: the snippet of the line could hold a secret.
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        return {}, [Problem("file", f"YAML does not parse: {exc.problem or exc.context}",
                            "fix the YAML at that line and column (quote values holding : # "
                            "or leading special characters)", location=where)]
    except yaml.YAMLError as exc:
        return {}, [Problem("file", f"YAML does not parse: {type(exc).__name__}",
                            "fix the YAML", location=str(path))]
    finally:
        loader.dispose()
    if data is None:
        return {}, []
    if not isinstance(data, dict):
        return {}, [Problem("file", f"the top level is a {type(data).__name__}, not a mapping of "
                            "keys to values", "write `oci_relay_region: ...` style keys at the "
                            "top level", location=str(path))]
    return {str(k): v for k, v in data.items()}, []


def _files_of(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir()
                      if p.is_file() and p.suffix in YAML_SUFFIXES and not p.name.startswith("."))
    return [path]


def _resolve(values: dict[str, Any], vault: Any, vault_file_given: bool) -> list[Problem]:
    """Decrypt vault values and follow `{{ name }}` references, in place."""
    problems: list[Problem] = []

    def resolved(key: str, value: Any, depth: int = 0) -> Any:
        if isinstance(value, VaultValue):
            if vault is None:
                problems.append(Problem(
                    key, "the value is vault-encrypted and no vault password was given",
                    "pass --vault-password-file FILE (the file holding the vault password)",
                    location=value.location))
                return None
            try:
                return _decrypt(vault, value.ciphertext)
            except ValueError as exc:
                problems.append(Problem(key, str(exc), "use the vault password this value was "
                                        "encrypted with" if vault_file_given else "",
                                        location=value.location))
                return None
        if isinstance(value, str) and (match := _REFERENCE.match(value.strip())) and depth < 5:
            target = match.group(1)
            if target in values:
                return resolved(key, values[target], depth + 1)
        return value

    for key in [k for k in values if k.startswith("oci_relay_")]:
        values[key] = resolved(key, values[key])
    return problems


def read_description(path: Path, vault_password_file: Path | None = None) -> Loaded:
    """Read and merge the YAML at `path` (a file, or a group_vars directory, files in order)."""
    if not path.exists():
        return Loaded({}, [Problem("file", f"{path} does not exist",
                                   "give the path of a relay description (YAML)")])
    try:
        vault = _vault_lib(vault_password_file)
    except OSError as exc:
        return Loaded({}, [Problem("vault_password_file", f"cannot read it: {exc}",
                                   "give a readable file holding the vault password")])
    merged: dict[str, Any] = {}
    problems: list[Problem] = []
    for file in _files_of(path):
        values, file_problems = _parse_file(file, vault)
        merged.update(values)
        problems += file_problems
    problems += _resolve(merged, vault, vault_password_file is not None)
    return Loaded(merged, problems)
