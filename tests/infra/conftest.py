"""What a deployed relay should look like, per host, from the same engine that deployed it.

The expectation is the host's relay description rendered by ocirelay for the host's own Postfix
version and OS family. The description comes from the inventory (testinfra's ansible backend:
`--hosts=ansible://all --ansible-inventory=inventories/example`) or from a file
(`--relay-description inventories/lab/group_vars/oci_relays.yml`, needed with other backends
such as the fast `--hosts=podman://ocirelay-instance`). The suite never needs the SMTP password:
it checks where the password lives and how it is protected, never what it is.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ocirelay.config import RelayConfig, validate
from ocirelay.loading import read_description
from ocirelay.problems import errors
from ocirelay.render import PostfixTarget, RenderedFile, render_postfix

# Stands in for the password: the suite never reads or needs the real one.
PASSWORD_PLACEHOLDER = "not-needed-by-the-tests"
REDHAT_LIKE = {"ol", "oracle", "oraclelinux", "rhel", "redhat", "centos", "rocky", "almalinux"}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("ocirelay", "ocirelay relay checks")
    group.addoption("--relay-description", metavar="FILE", default=None,
                    help="relay description (YAML file or group_vars directory) to expect; "
                    "default: each host's oci_relay_* variables from the ansible inventory")
    group.addoption("--vault-password-file", metavar="FILE", default=None,
                    help="vault password for a --relay-description with !vault values")
    group.addoption("--send-to", metavar="ADDRESS", default=None,
                    help="also send one real message through each relay to ADDRESS and "
                    "expect OCI to accept it (off by default: it sends mail)")
    group.addoption("--send-from", metavar="ADDRESS", default=None,
                    help="sender of the --send-to message (default: root, like cron)")
    group.addoption("--max-queue-age", metavar="SECONDS", type=int, default=900,
                    help="deferred mail older than this means the relay is stuck (900)")


def pytest_configure(config: pytest.Config) -> None:
    """testinfra's ansible backend runs ansible-inventory and ansible from PATH: use the ones
    installed next to this Python (the project's venv) even when it is not activated."""
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without --hosts testinfra would check the machine running pytest: refuse that."""
    if config.getoption("hosts", None) or config.getoption("ansible_inventory", None):
        return
    skip = pytest.mark.skip(reason="name the relays to check: --hosts=ansible://all "
                            "--ansible-inventory=INVENTORY, or --hosts=podman://NAME "
                            "--relay-description FILE")
    for item in items:
        if Path(str(item.fspath)).parent == Path(__file__).parent:
            item.add_marker(skip)


@dataclass(frozen=True)
class Expected:
    config: RelayConfig
    files: dict[str, RenderedFile]
    family: str
    postfix_version: str

    @property
    def secret_files(self) -> list[str]:
        return [name for name, f in self.files.items() if f.secret]

    @property
    def compiled_suffix(self) -> str:
        return {"hash": ".db", "lmdb": ".lmdb", "cdb": ".cdb"}[self.config.map_type]


def _description_from_inventory(host: Any) -> dict[str, Any]:
    if host.backend.NAME != "ansible":
        pytest.fail(f"backend {host.backend.NAME!r} knows no inventory: give "
                    "--relay-description FILE (e.g. inventories/lab/group_vars/oci_relays.yml)")
    variables = host.ansible.get_variables()
    return {k: v for k, v in variables.items() if k.startswith("oci_")}


def _family(host: Any) -> str:
    distribution = (host.system_info.distribution or "").lower()
    return "RedHat" if distribution in REDHAT_LIKE else "Debian"


@pytest.fixture(scope="module")
def expected(host: Any, request: pytest.FixtureRequest) -> Expected:
    path = request.config.getoption("relay_description")
    if path:
        vault = request.config.getoption("vault_password_file")
        loaded = read_description(Path(path), Path(vault) if vault else None)
        problems = [p for p in loaded.problems if p.key != "oci_relay_password"]
        if errors(problems):
            pytest.fail("\n".join(p.as_text() for p in problems))
        values = loaded.values
    else:
        values = _description_from_inventory(host)
    values = {**values, "oci_relay_password": PASSWORD_PLACEHOLDER}
    unresolved = [k for k, v in values.items() if isinstance(v, dict) or
                  (isinstance(v, str) and "{{" in v)]
    if unresolved:
        pytest.fail(f"cannot read {', '.join(unresolved)} from the inventory (templated or "
                    "vault-encrypted): give --relay-description FILE")
    validated = validate(values)
    if validated.config is None:
        pytest.fail("the relay description is invalid:\n" +
                    "\n".join(p.as_text() for p in validated.problems))
    version = host.run("postconf -dh mail_version").stdout.strip()
    if not version:
        pytest.fail("Postfix is not installed (postconf -dh mail_version gave nothing)")
    family = _family(host)
    files = render_postfix(validated.config, PostfixTarget.parse(version, family))
    return Expected(validated.config, files, family, version)
