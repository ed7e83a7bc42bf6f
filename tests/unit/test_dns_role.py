"""roles/dns_check: its argument specs match the schema, and ansible-playbook honours
oci_relay_dns_check (fail stops the play, warn goes on, off checks nothing) against Knot."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import playbook_runs
import pytest
import yaml
from dns_zones import knot
from knot_server import Knot
from relay_samples import AWKWARD_PASSWORD, VALID

from ocirelay.schema import KEYS_BY_NAME

__all__ = ["knot"]  # the session fixture, imported for this module's tests

ROOT = Path(__file__).resolve().parents[2]
ROLE = ROOT / "roles" / "dns_check"
PLAYBOOK = """\
- name: Deploy (stand-in)
  hosts: relays
  gather_facts: false
  roles:
    - dns_check
  tasks:
    - name: Deploy
      ansible.builtin.debug:
        msg: "DEPLOYED {{ inventory_hostname }}"
"""
# A vault value nobody can decrypt (no vault password is given): the play only passes if
# nothing decrypts it, i.e. the check never reads the password.
LOCKED_PASSWORD = "!vault |\n      $ANSIBLE_VAULT;1.1;AES256\n      3961333533343534653465\n"


def spec_options() -> dict[str, dict[str, object]]:
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    return specs["argument_specs"]["main"]["options"]  # type: ignore[no-any-return]


def test_argument_specs_repeat_the_schema() -> None:
    for name, option in spec_options().items():
        if not name.startswith("oci_relay_"):
            continue
        key = KEYS_BY_NAME[name]
        assert option["type"] == key.type, name
        assert " ".join(option["description"]) == key.description, name  # type: ignore[arg-type]
        assert option.get("required", False) == key.required, name
        assert option.get("default") == key.default, name
        assert option.get("elements") == key.elements, name
        assert tuple(option.get("choices") or ()) == (key.choices or ()), name  # type: ignore[arg-type]


def test_role_options_are_not_relay_keys() -> None:
    """Role settings stay out of the oci_relay_* namespace, which the validator polices."""
    own = [name for name in spec_options() if not name.startswith("oci_relay_")]
    assert own and all(name.startswith("dns_check_") for name in own)
    assert "oci_relay_password" not in spec_options()


class NoSecrets(dict[str, object]):
    """The role's variables, failing the test if anything reads the password."""

    def __getitem__(self, key: str) -> object:
        assert key != "oci_relay_password", "the DNS filter read the password"
        return super().__getitem__(key)

    def get(self, key: str, default: object = None) -> object:
        assert key != "oci_relay_password", "the DNS filter read the password"
        return super().get(key, default)


def load_filter() -> Any:
    path = ROLE / "filter_plugins" / "ocirelay_dns.py"
    spec = importlib.util.spec_from_file_location("ocirelay_dns_filter", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_filter_reads_no_credential(knot: Knot) -> None:
    plugin = load_filter()
    values = NoSecrets(oci_relay_region="us-ashburn-1", oci_relay_password="secret",
                       oci_relay_username="ocid1.user", oci_relay_approved_senders=[
                           "noreply@good.test"], oci_relay_dkim_selectors=["sel1"])
    result = plugin.FilterModule().filters()["ocirelay_dns_findings"](
        values, f"127.0.0.1:{knot.port}", 2)
    assert result["status"] == "ok"
    assert [f["check"] for f in result["findings"]] == ["spf", "dkim", "dmarc"]
    assert result["lines"][-1].startswith("0 error(s), 0 warning(s), 3 ok")


def test_filter_explains_bad_input() -> None:
    from ansible.errors import AnsibleFilterError

    plugin = load_filter()
    with pytest.raises(AnsibleFilterError, match="oci_relay_region: 'mars-1' is not a known"):
        plugin.ocirelay_dns_findings({"oci_relay_region": "mars-1",
                                      "oci_relay_approved_senders": ["a@b.test"]})
    with pytest.raises(AnsibleFilterError, match="is not an IP address"):
        plugin.ocirelay_dns_findings({"oci_relay_region": "us-ashburn-1",
                                      "oci_relay_approved_senders": ["a@b.test"]}, "dns.google")


def test_tasks_never_name_the_password() -> None:
    tasks = (ROLE / "tasks" / "main.yml").read_text(encoding="utf-8")
    assert "password" not in tasks


def write_inventory(tmp_path: Path, server: tuple[str, int],
                    hosts: dict[str, tuple[str, str]]) -> Path:
    """Two or more relays sharing region and credentials; each host its own
    (approved sender, oci_relay_dns_check)."""
    lines = ["relays:", "  hosts:"]
    for host, (sender, mode) in hosts.items():
        lines += [f"    {host}:", f"      oci_relay_approved_senders: ['{sender}']",
                  f"      oci_relay_dns_check: '{mode}'"]
    lines += ["  vars:",
              "    ansible_connection: local",
              f"    ansible_python_interpreter: {sys.executable}",
              "    oci_relay_region: us-ashburn-1",
              "    oci_relay_username: ocid1.user.oc1..aaaa@ocid1.tenancy.oc1..bbbb.ab.com",
              f"    oci_relay_password: {LOCKED_PASSWORD}"
              "    oci_relay_dkim_selectors: [sel1]",
              f"    dns_check_nameserver: '{server[0]}:{server[1]}'",
              "    dns_check_timeout: 2"]
    inventory = tmp_path / "inventory.yml"
    inventory.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return inventory


def run_play(tmp_path: Path, inventory: Path) -> subprocess.CompletedProcess[str]:
    (tmp_path / "site.yml").write_text(PLAYBOOK, encoding="utf-8")
    env = {**os.environ, "ANSIBLE_ROLES_PATH": str(ROOT / "roles"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_CONFIG": str(tmp_path / "none.cfg"), "ANSIBLE_HOME": str(tmp_path),
           "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp")}
    playbook = Path(sys.executable).with_name("ansible-playbook")
    return subprocess.run([str(playbook), "-i", str(inventory), str(tmp_path / "site.yml")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180,
                          check=False)


def play(tmp_path: Path, server: tuple[str, int], mode: str,
         sender: str) -> subprocess.CompletedProcess[str]:
    hosts = {"relay1": (sender, mode), "relay2": (sender, mode)}
    return run_play(tmp_path, write_inventory(tmp_path, server, hosts))


def test_fail_mode_stops_the_play_on_errors(tmp_path: Path, knot: Knot) -> None:
    done = play(tmp_path, knot.address, "fail", "noreply@nooracle.test")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "The sending domains have DNS errors (oci_relay_dns_check: fail)" in done.stdout
    assert "does not authorise Oracle's relays" in done.stdout
    assert "nooracle.test. 3600 IN TXT" in done.stdout
    assert "DEPLOYED" not in done.stdout


def test_fail_mode_goes_on_when_dns_is_ready(tmp_path: Path, knot: Knot) -> None:
    done = play(tmp_path, knot.address, "fail", "noreply@good.test")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 error(s), 0 warning(s), 3 ok" in done.stdout
    assert "DEPLOYED relay1" in done.stdout and "DEPLOYED relay2" in done.stdout


def test_warn_mode_prints_the_findings_and_goes_on(tmp_path: Path, knot: Knot) -> None:
    done = play(tmp_path, knot.address, "warn", "noreply@nooracle.test")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "does not authorise Oracle's relays" in done.stdout
    assert "1 error(s)" in done.stdout
    assert "DEPLOYED relay1" in done.stdout and "DEPLOYED relay2" in done.stdout
    # run_once: checked and shown once for the whole play.
    assert done.stdout.count("1 error(s)") == 1


@pytest.mark.parametrize("mode", ["off"])
def test_off_mode_checks_nothing(tmp_path: Path, mode: str) -> None:
    # Port 9 (discard) on loopback: a check would fail or time out; off must not ask at all.
    done = play(tmp_path, ("127.0.0.1", 9), mode, "noreply@nooracle.test")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "error(s)" not in done.stdout
    assert "DEPLOYED relay1" in done.stdout


def test_each_hosts_own_senders_are_checked(tmp_path: Path, knot: Knot) -> None:
    """Not just the first host's: relay2's domain lacks Oracle's SPF and is reported for it."""
    inventory = write_inventory(tmp_path, knot.address, {
        "relay1": ("noreply@good.test", "warn"), "relay2": ("noreply@nooracle.test", "warn"),
        "relay3": ("noreply@good.test", "warn")})
    done = run_play(tmp_path, inventory)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Hosts: relay1, relay3" in done.stdout  # same senders: checked once, together
    assert "Hosts: relay2" in done.stdout
    assert done.stdout.count("does not authorise Oracle's relays") == 1
    assert "DEPLOYED relay2" in done.stdout


def test_one_host_in_fail_mode_stops_the_play_for_its_errors(tmp_path: Path, knot: Knot) -> None:
    inventory = write_inventory(tmp_path, knot.address, {
        "relay1": ("noreply@good.test", "fail"), "relay2": ("noreply@nooracle.test", "fail"),
        "relay3": ("noreply@quiet.test", "off")})
    done = run_play(tmp_path, inventory)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Hosts: relay2" in done.stdout
    assert "quiet.test" not in done.stdout  # off: never asked about
    assert "DEPLOYED" not in done.stdout


def test_site_yml_stops_on_dns_errors_before_any_host_is_touched(tmp_path: Path,
                                                                 knot: Knot) -> None:
    """playbooks/site.yml: validation, then DNS; in fail mode nothing reaches the host (its
    podman is /bin/false, so any connection attempt would show as UNREACHABLE)."""
    values = {**VALID, "oci_relay_approved_senders": ["noreply@nooracle.test"],
              "oci_relay_dns_check": "fail", "dns_check_timeout": 2,
              "dns_check_nameserver": f"{knot.address[0]}:{knot.address[1]}"}
    done = playbook_runs.run_site(playbook_runs.unreachable_inventory(tmp_path, values))
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "The sending domains have DNS errors (oci_relay_dns_check: fail)" in output
    assert output.count("PLAY [") == 2  # validation, DNS; no play that reaches the host
    assert "UNREACHABLE" not in output and "unreachable=0" in output
    assert AWKWARD_PASSWORD not in output
