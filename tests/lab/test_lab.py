"""The lab itself: isolation, reach through podman exec, and a tear-down that leaves no trace.

Tests marked `lab` need root and podman; they bring a lab up once for this module:
    .venv/bin/pytest tests/lab/test_lab.py -m lab
The unmarked ones check the lab's inputs (relay description, emulator config, image cache) and run
anywhere.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The tests bring up their own lab (containers ocirelay-test-*, network ocirelay-test-lab, its own
# /24), so they never disturb the lab a molecule scenario or a person is using. Set
# OCIRELAY_LAB_NAME=ocirelay to run them on the default lab instead.
os.environ.setdefault("OCIRELAY_LAB_NAME", "ocirelay-test")

from ocilab import holder, images, isolation, lab, network
from ocilab.emulator_config import emulator_config, load_relay_vars, smtp_host_names
from ocilab.errors import LabError
from ocilab.layout import (
    CLIENT,
    EMULATOR,
    EMULATOR_SOURCE,
    EMULATOR_STATE_ON_HOST,
    HOST_GUARD_TABLE,
    INSTANCE,
    MEMBER_LABEL,
    MEMBERS,
    NETWORK_NAME,
    RELAY_VARS_FILE,
    RUNTIME_DIR,
    gateway,
    lab_subnet,
)
from ocilab.podman import exec_in, podman

SMTP_HOST = "smtp.email.us-ashburn-1.oci.oraclecloud.com"
IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
OWNER = "pytest-tests/lab"
OUTSIDE = "198.51.100.7"  # TEST-NET-2: never routed anywhere, and the lab has no route at all
CONNECT = """
import errno, socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])).close()
    print("connected")
except socket.timeout:
    print("timed out")
except OSError as error:
    print(errno.errorcode.get(error.errno, str(error)))
"""


def quiet(_: str) -> None:
    """Lab progress messages are not needed in test output."""


def connect_from(container: str, host: str, port: int, timeout: float = 3.0) -> str:
    result = exec_in(container, ["python3", "-c", CONNECT, host, str(port), str(timeout)],
                     timeout=timeout + 20)
    return result.stdout.strip()


def podman_snapshot() -> tuple[list[str], list[str]]:
    """What `podman ps -a` and `podman network ls` show (ids and names)."""
    containers = podman("ps", "-a", "--format", "{{.ID}} {{.Names}}").stdout.splitlines()
    networks = podman("network", "ls", "--format", "{{.ID}} {{.Name}}").stdout.splitlines()
    return sorted(containers), sorted(networks)


def host_guard_present() -> bool:
    return network.host_guard_text() is not None


class LabSession:
    """The lab, up once for this module (down before the molecule scenarios run); tests that
    need it down say so."""

    def __init__(self) -> None:
        if lab.leftovers():
            lab.down(say=quiet, owner=OWNER)  # refused if another run uses the lab
        self.is_up = False

    def ensure_up(self) -> None:
        if not self.is_up:
            lab.up("bookworm", say=quiet, owner=OWNER)
            self.is_up = True

    def ensure_down(self) -> None:
        if self.is_up:
            lab.down(say=quiet, owner=OWNER)
            self.is_up = False


@dataclass(frozen=True)
class HostState:
    """What must be the same before up and after down."""

    containers: list[str]
    networks: list[str]
    ip_forward: str

    @classmethod
    def now(cls) -> HostState:
        containers, networks = podman_snapshot()
        return cls(containers, networks, IP_FORWARD.read_text().strip())


@pytest.fixture(scope="module")
def lab_session() -> Iterator[LabSession]:
    if os.geteuid() != 0 or shutil.which("podman") is None:
        pytest.skip("the lab needs root and podman (python3 tests/lab/labctl.py setup)")
    session = LabSession()
    yield session
    session.ensure_down()


@pytest.fixture
def running_lab(lab_session: LabSession) -> LabSession:
    lab_session.ensure_up()
    return lab_session


@pytest.fixture
def stopped_lab(lab_session: LabSession) -> LabSession:
    lab_session.ensure_down()
    return lab_session


# --- the lab's inputs (no podman needed) -----------------------------------------------------


def test_lab_relay_description_is_valid() -> None:
    from ocirelay.config import validate
    from ocirelay.loading import read_description

    loaded = read_description(RELAY_VARS_FILE)
    assert loaded.problems == []
    validated = validate(loaded.values)
    assert validated.problems == []
    assert validated.config is not None
    assert validated.config.smtp_host == SMTP_HOST
    assert validated.config.tls_ca_file == "/usr/local/share/ca-certificates/ocirelay-lab-ca.crt"


def test_lab_password_has_the_awkward_characters() -> None:
    password = load_relay_vars()["oci_relay_password"]
    assert set(":;#^()'\" ") <= set(password)


def test_emulator_config_comes_from_the_relay_description() -> None:
    relay = load_relay_vars()
    config = emulator_config(relay)
    assert config["hostname"] == SMTP_HOST == smtp_host_names("us-ashburn-1")[0]
    assert config["credentials"] == [{"username": relay["oci_relay_username"],
                                      "password": relay["oci_relay_password"]}]
    assert config["approved_senders"] == relay["oci_relay_approved_senders"]
    assert config["limits"]["per_minute"] == relay["oci_relay_messages_per_minute"]
    assert set(config["listen"]["starttls_ports"]) | set(config["listen"]["tls_ports"]) == {
        25, 465, 587}


def test_emulator_accepts_the_generated_config(tmp_path: Path) -> None:
    """The emulator's own settings loader reads what the lab writes (the shared contract)."""
    if not (EMULATOR_SOURCE / "oci_emulator" / "settings.py").exists():
        pytest.skip("the emulator's settings loader is not there yet")
    sys.path.insert(0, str(EMULATOR_SOURCE))
    from oci_emulator import settings  # type: ignore[import-not-found]

    path = tmp_path / "config.yml"
    path.write_text(yaml.safe_dump(emulator_config(load_relay_vars())))
    parsed = settings.load(path)
    assert parsed.hostname == SMTP_HOST
    assert parsed.limits.per_minute == 60


def test_members_have_fixed_distinct_addresses() -> None:
    subnet = ipaddress.IPv4Network("10.89.77.0/24")
    ips = [member.ip(subnet) for member in MEMBERS]
    macs = [member.mac(subnet) for member in MEMBERS]
    assert len(set(ips)) == len(set(macs)) == len(MEMBERS)
    assert all(ipaddress.IPv4Address(ip) in subnet for ip in ips)
    assert gateway(subnet) not in ips
    assert all(int(mac.split(":")[0], 16) & 0b10 for mac in macs)  # locally administered
    assert INSTANCE.mac(subnet) == "02:4f:0a:59:4d:14"


def test_subnet_must_be_a_private_slash_24(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCIRELAY_LAB_SUBNET", "8.8.8.0/24")
    with pytest.raises(LabError, match="private /24"):
        lab_subnet()
    monkeypatch.setenv("OCIRELAY_LAB_SUBNET", "10.89.78.0/24")
    assert str(lab_subnet()) == "10.89.78.0/24"


def test_image_inputs_hash_follows_package_lists(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    copy = tmp_path / "images"
    shutil.copytree(images.IMAGES_DIR, copy)
    monkeypatch.setattr(images, "IMAGES_DIR", copy)
    image = images.instance_image("bookworm")
    before = image.inputs_hash()
    assert image.inputs_hash() == before  # stable
    with (copy / "packages-predownload.txt").open("a") as packages:
        packages.write("swaks\n")
    assert image.inputs_hash() != before
    assert images.EMULATOR_IMAGE.inputs_hash() != images.CLIENT_IMAGE.inputs_hash()


def test_host_guard_keeps_bridge_traffic_and_drops_the_rest() -> None:
    rules = network.guard_ruleset("podman7")
    assert 'iifname "podman7" oifname != "podman7" drop' in rules
    assert 'oifname "podman7" iifname != "podman7" drop' in rules
    assert "hook input" in rules


def test_isolation_refuses_a_network_that_is_not_internal() -> None:
    subnet = ipaddress.IPv4Network("10.89.77.0/24")
    leaky = network.NetworkInfo(name=NETWORK_NAME, interface="podman9",
                                subnets=(("10.89.77.0/24", None),), internal=False,
                                dns_enabled=True, labels={})
    failed = {check.name for check in isolation.network_checks(leaky, subnet) if not check.ok}
    assert failed == {"network is internal", "network has the explicit gateway and subnet",
                      "network has no DNS forwarder", "network was made by the lab"}
    with pytest.raises(LabError, match="not isolated"):
        isolation.refuse_unless_isolated(isolation.network_checks(leaky, subnet))


# --- the running lab ------------------------------------------------------------------------

lab_test = pytest.mark.lab


@lab_test
def test_instance_is_reachable_with_podman_exec(running_lab: LabSession) -> None:
    assert exec_in(INSTANCE.name, ["hostname", "--fqdn"]).stdout.strip() == INSTANCE.hostname
    state = exec_in(INSTANCE.name, ["systemctl", "is-system-running"], check=False)
    assert state.stdout.strip() == "running"
    pid1 = exec_in(INSTANCE.name, ["cat", "/proc/1/comm"]).stdout.strip()
    assert pid1 == "systemd"


@lab_test
def test_isolation_checks_pass(running_lab: LabSession) -> None:
    failed = [check for check in lab.check() if not check.ok]
    assert failed == []


@lab_test
def test_isolation_check_catches_a_default_route(running_lab: LabSession) -> None:
    """Were a container given a way out, the check would say so (no packet is sent)."""
    exec_in(CLIENT.name, ["ip", "route", "add", "default", "via", gateway(lab_subnet())],
            privileged=True)
    try:
        failed = {check.name for check in lab.check() if not check.ok}
    finally:
        exec_in(CLIENT.name, ["ip", "route", "del", "default"], privileged=True)
    assert failed == {f"{CLIENT.name} has no IPv4 default route",
                      f"{CLIENT.name} has no route to 1.1.1.1"}
    assert all(check.ok for check in lab.check())


@lab_test
def test_port_25_is_blocked_from_the_instance(running_lab: LabSession) -> None:
    assert connect_from(INSTANCE.name, SMTP_HOST, 25) == "timed out"


@lab_test
def test_port_25_of_the_emulator_is_open_to_other_hosts(running_lab: LabSession) -> None:
    """So the block is the instance's (as on OCI), not a closed port on the emulator."""
    assert connect_from(CLIENT.name, SMTP_HOST, 25) == "connected"


@lab_test
def test_587_answers_with_a_220_greeting(running_lab: LabSession) -> None:
    greeting = exec_in(INSTANCE.name, ["python3", "-c", (
        "import socket, sys; s = socket.create_connection((sys.argv[1], 587), timeout=5); "
        "print(s.recv(512).decode().strip())"), SMTP_HOST]).stdout
    assert greeting.startswith("220 ")


@lab_test
def test_465_certificate_verifies_with_the_lab_ca(running_lab: LabSession) -> None:
    result = exec_in(INSTANCE.name, ["python3", "-c", (
        "import socket, ssl, sys\n"
        "context = ssl.create_default_context()\n"  # the OS bundle, with the lab CA added
        "raw = socket.create_connection((sys.argv[1], 465), timeout=5)\n"
        "tls = context.wrap_socket(raw, server_hostname=sys.argv[1])\n"
        "print(tls.version(), tls.recv(512).decode().strip())"), SMTP_HOST])
    version, greeting = result.stdout.split(" ", 1)
    assert version in ("TLSv1.2", "TLSv1.3")
    assert greeting.startswith("220 ")


@lab_test
def test_instance_has_no_route_out(running_lab: LabSession) -> None:
    routes = exec_in(INSTANCE.name, ["ip", "route", "show"]).stdout
    assert "default" not in routes
    lookup = exec_in(INSTANCE.name, ["ip", "route", "get", "1.1.1.1"], check=False)
    assert lookup.returncode != 0 and "unreachable" in lookup.stderr
    # One connect attempt, refused by the kernel before any packet leaves: no route.
    assert connect_from(INSTANCE.name, OUTSIDE, 587) == "ENETUNREACH"


@lab_test
def test_instance_cannot_lift_the_block_or_add_a_route(running_lab: LabSession) -> None:
    flush = exec_in(INSTANCE.name, ["nft", "flush", "ruleset"], check=False)
    assert flush.returncode != 0
    route = exec_in(INSTANCE.name, ["ip", "route", "add", "default", "via",
                                    gateway(lab_subnet())], check=False)
    assert route.returncode != 0
    assert connect_from(INSTANCE.name, SMTP_HOST, 25, timeout=2) == "timed out"


@lab_test
def test_containers_cannot_reach_the_host(running_lab: LabSession) -> None:
    """The host guard drops what the lab sends to the host (the bridge's gateway address)."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((gateway(lab_subnet()), 0))
        listener.listen()
        listener.settimeout(0.5)
        port = listener.getsockname()[1]
        assert connect_from(INSTANCE.name, gateway(lab_subnet()), port, timeout=2) == "timed out"
        with pytest.raises(TimeoutError):
            listener.accept()


@lab_test
def test_emulator_state_dir_is_shared_with_the_host(running_lab: LabSession) -> None:
    exec_in(EMULATOR.name, ["python3", "-c",
                            "open('/var/lib/oci-emulator/.lab-probe', 'w').write('ok')"])
    probe = EMULATOR_STATE_ON_HOST / ".lab-probe"
    assert probe.read_text() == "ok"
    probe.unlink()


SEND = """
import json, smtplib, ssl, sys
from email.message import EmailMessage
given = json.load(sys.stdin)
message = EmailMessage()
message["From"] = given["sender"]
message["To"] = "someone@example.net"
message["Subject"] = "lab"
message.set_content("hello from the lab")
with smtplib.SMTP(given["host"], 587, timeout=10) as smtp:
    smtp.starttls(context=ssl.create_default_context())
    smtp.login(given["username"], given["password"])
    smtp.send_message(message)
"""


def emulator_client() -> Any:
    if not (EMULATOR_SOURCE / "oci_emulator" / "client.py").exists():
        pytest.skip("the emulator's client is not there yet")
    sys.path.insert(0, str(EMULATOR_SOURCE))
    from oci_emulator.client import EmulatorClient  # type: ignore[import-not-found]

    return EmulatorClient(EMULATOR_STATE_ON_HOST)


@lab_test
def test_instance_sends_with_the_lab_relay_description(running_lab: LabSession) -> None:
    """The credentials and senders of inventories/lab reach the emulator unchanged: one source."""
    client = emulator_client()
    before = len(client.messages())
    relay = load_relay_vars()
    given = {"host": SMTP_HOST, "sender": relay["oci_relay_approved_senders"][0],
             "username": relay["oci_relay_username"], "password": relay["oci_relay_password"]}
    exec_in(INSTANCE.name, ["python3", "-c", SEND], stdin=json.dumps(given))
    record = client.wait_for_messages(before + 1, timeout=10)[-1]
    assert record["auth"] == {"mechanism": "PLAIN", "login": relay["oci_relay_username"]}
    assert record["client"]["ip"] == INSTANCE.ip(lab_subnet())
    assert record["tls"]["version"] in ("TLSv1.2", "TLSv1.3")
    assert record["envelope"]["mail_from"] == given["sender"]


@lab_test
def test_host_switches_emulator_faults_through_the_state_dir(running_lab: LabSession) -> None:
    client = emulator_client()
    ehlo = ("import smtplib, sys; s = smtplib.SMTP(sys.argv[1], 587, timeout=10); "
            "print(s.ehlo()[1].decode()); s.quit()")
    client.set_faults(starttls_stripped=True)
    try:
        stripped = exec_in(INSTANCE.name, ["python3", "-c", ehlo, SMTP_HOST]).stdout
    finally:
        client.clear_faults()
    normal = exec_in(INSTANCE.name, ["python3", "-c", ehlo, SMTP_HOST]).stdout
    assert "STARTTLS" not in stripped
    assert "STARTTLS" in normal


@lab_test
def test_status_reports_an_isolated_lab(running_lab: LabSession) -> None:
    report = lab.status()
    assert report["isolated"] is True
    assert report["systemd"] == "running"
    assert report["from_instance"]["587"].startswith("220")
    assert report["from_instance"]["25"].startswith("error: TimeoutError")
    assert {c["state"] for c in report["containers"].values()} == {"running"}


@lab_test
def test_up_again_is_a_no_op(running_lab: LabSession) -> None:
    messages: list[str] = []
    lab.up("bookworm", say=messages.append, owner=OWNER)
    assert any("already up" in message for message in messages)


@lab_test
def test_another_owners_lab_is_neither_reused_nor_removed(running_lab: LabSession) -> None:
    with pytest.raises(LabError, match=f"in use by {OWNER}"):
        lab.up("bookworm", say=quiet, owner="molecule-someone-else")
    with pytest.raises(LabError, match=f"in use by {OWNER}"):
        lab.down(say=quiet, owner="molecule-someone-else")
    assert lab.is_up("bookworm")


def ended_process_record() -> dict[str, Any]:
    """The holder record of a process that ran and has been reaped."""
    process = subprocess.Popen(["cat"], stdin=subprocess.PIPE)
    record = {"pid": process.pid, "start_time": holder.start_time(process.pid),
              "boot_id": holder.boot_id()}
    assert process.stdin is not None
    process.stdin.close()
    process.wait(timeout=10)
    return record


@lab_test
def test_an_ended_owners_lab_is_a_leftover(running_lab: LabSession) -> None:
    """A killed run (CI timeout, Ctrl-C) must not refuse every later run: its holder is gone."""
    state = lab.read_state()
    state["owner"] = "molecule-killed-run"
    state["holder"] = ended_process_record()
    lab.write_state(state)
    messages: list[str] = []
    lab.up("bookworm", say=messages.append, owner=OWNER)
    assert any("molecule-killed-run" in m and "has ended" in m for m in messages), messages
    assert not any("already up" in m for m in messages), "an ended owner's lab must be remade"
    assert lab.read_state()["owner"] == OWNER
    assert lab.is_up("bookworm")


# --- tear-down and refusals (these need the lab down) ---------------------------------------


def assert_no_trace(before: HostState) -> None:
    after = HostState.now()
    assert after.containers == before.containers, "podman ps -a changed"
    assert after.networks == before.networks, "podman network ls changed"
    assert not RUNTIME_DIR.exists()
    assert not host_guard_present(), f"nft table inet {HOST_GUARD_TABLE} left behind"
    if after.ip_forward != before.ip_forward:
        # down turns forwarding off again unless another container still runs and may need it
        assert podman("ps", "--quiet").stdout.strip(), "net.ipv4.ip_forward not restored"


@lab_test
def test_down_leaves_no_trace(stopped_lab: LabSession) -> None:
    before = HostState.now()
    lab.up("bookworm", say=quiet, owner=OWNER)
    assert podman_snapshot() != (before.containers, before.networks)
    lab.down(say=quiet, owner=OWNER)
    assert_no_trace(before)


@lab_test
def test_failed_up_removes_what_it_made(stopped_lab: LabSession,
                                        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # No emulator code: up fails after the network, host guard and runtime files exist.
    before = HostState.now()
    monkeypatch.setenv("OCIRELAY_LAB_EMULATOR_SOURCE", str(tmp_path))
    with pytest.raises(LabError, match="emulator's code is not in"):
        lab.up("bookworm", say=quiet, owner=OWNER)
    assert_no_trace(before)


@lab_test
def test_up_refuses_a_subnet_in_use(stopped_lab: LabSession) -> None:
    subnet = lab_subnet()
    podman("network", "create", "--internal", "--subnet", str(subnet), "ocirelay-test-clash")
    before = HostState.now()
    try:
        with pytest.raises(LabError, match=r"ocirelay-test-clash.*OCIRELAY_LAB_SUBNET"):
            lab.up("bookworm", say=quiet, owner=OWNER)
        assert_no_trace(before)
    finally:
        podman("network", "rm", "ocirelay-test-clash")


@lab_test
def test_up_leaves_a_foreign_container_with_a_lab_name_alone(stopped_lab: LabSession) -> None:
    podman("create", "--name", CLIENT.name, images.CLIENT_IMAGE.name)  # inherits LAB_LABEL
    before = HostState.now()
    try:
        with pytest.raises(LabError, match=rf"container {CLIENT.name} .* did not make"):
            lab.up("bookworm", say=quiet, owner=OWNER)
        lab.down(say=quiet, owner=OWNER)
        assert_no_trace(before)  # the foreign container is still there
    finally:
        podman("rm", "--force", CLIENT.name)


@lab_test
def test_nothing_labelled_by_the_lab_is_left(stopped_lab: LabSession) -> None:
    labelled = podman("ps", "-a", "--filter", f"label={MEMBER_LABEL}", "--format", "{{.Names}}")
    assert not set(labelled.stdout.split()) & {member.name for member in MEMBERS}
    assert podman("network", "exists", NETWORK_NAME, check=False).returncode != 0
