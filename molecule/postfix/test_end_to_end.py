"""End to end in the lab, after molecule converged playbooks/site.yml on the instance.

What crossed the wire is read from the OCI Email Delivery emulator's store (TLS version, AUTH
mechanism and login, envelope, From header); mail is submitted inside the containers with
`podman exec` (the only way in: the lab network is internal). The tests run in file order: the
last ones re-converge the instance (hub + reject mode, then back to the lab's description).

    .venv/bin/pytest molecule/postfix/test_end_to_end.py   (with the lab up and converged)
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "tests" / "lab"), str(REPO / "tests" / "lab" / "emulator")]

from oci_emulator.client import EmulatorClient  # noqa: E402
from ocilab import layout  # noqa: E402  (honours OCIRELAY_LAB_NAME, like molecule/resources)

from ocirelay import host_scripts  # noqa: E402

pytestmark = pytest.mark.lab

PODMAN = REPO / "tests" / "lab" / "bin" / "podman"
ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
STATE_DIR = layout.EMULATOR_STATE_ON_HOST
LAB_INVENTORY = REPO / "inventories" / "lab"
RELAY = yaml.safe_load((LAB_INVENTORY / "group_vars" / "oci_relays.yml").read_text())
INSTANCE, CLIENT, EMULATOR = layout.INSTANCE.name, layout.CLIENT.name, layout.EMULATOR.name
APPROVED = "noreply@example.com"  # the lab description's default sender
RECIPIENT = "someone@example.net"
WAIT = 60.0  # seconds to wait for a message to reach the emulator (the relay paces at 2 s)
MANAGED = ("main.cf", "master.cf", "oci_sasl_passwd", "oci_sasl_passwd.db",
           "oci_sender_transport", "oci_sender_canonical", "oci_header_from")


def exec_in(container: str, *argv: str, stdin: str | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PODMAN), "exec", "-i", container, *argv], input=stdin,
                          capture_output=True, text=True, timeout=timeout, check=False)


def lab_ip(container: str) -> str:
    result = subprocess.run([str(PODMAN), "inspect", container], capture_output=True,
                            text=True, check=True, timeout=60)
    networks = json.loads(result.stdout)[0]["NetworkSettings"]["Networks"]
    return str(next(iter(networks.values()))["IPAddress"])


def site(*extra: str, playbook: str = "site.yml", extra_vars: dict[str, Any] | None = None,
         tmp_path: Path | None = None) -> subprocess.CompletedProcess[str]:
    """ansible-playbook against the lab inventory (the lab has no package mirror)."""
    argv = [str(ANSIBLE_PLAYBOOK), "-i", str(LAB_INVENTORY), str(REPO / "playbooks" / playbook),
            "-e", "postfix_relay_update_cache=false", "-e", f"ansible_host={INSTANCE}", *extra]
    if extra_vars:
        assert tmp_path is not None
        path = tmp_path / f"vars-{uuid.uuid4().hex}.json"
        path.write_text(json.dumps(extra_vars))
        argv += ["-e", f"@{path}"]
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_FORCE_COLOR": "0",
           "CONTAINERS_CONF": str(REPO / "tests" / "lab" / "containers.conf"),
           "PATH": f"{ANSIBLE_PLAYBOOK.parent}:{os.environ.get('PATH', '')}"}
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=REPO, timeout=900,
                          check=False)


def fingerprint() -> dict[str, str]:
    """sha256 of every file the role manages in /etc/postfix (the password is never shown)."""
    result = exec_in(INSTANCE, "sh", "-c", "cd /etc/postfix && sha256sum " + " ".join(MANAGED))
    return dict(reversed(line.split()) for line in result.stdout.splitlines())


def message(sender_header: str | None, subject: str, size: int = 0) -> str:
    headers = [f"To: {RECIPIENT}", f"Subject: {subject}",
               f"Message-ID: <{uuid.uuid4().hex}@e2e.lab>"]
    if sender_header:
        headers.insert(0, f"From: {sender_header}")
    body = "end-to-end test\n" + ("x" * 76 + "\n") * (size // 77)
    return "\n".join(headers) + "\n\n" + body


def sendmail(*args: str, text: str) -> subprocess.CompletedProcess[str]:
    return exec_in(INSTANCE, "/usr/sbin/sendmail", "-i", *args, RECIPIENT, stdin=text)


def queue(container: str = INSTANCE) -> list[dict[str, Any]]:
    result = exec_in(container, "postqueue", "-j")
    return [json.loads(line) for line in result.stdout.splitlines()]


SMTP_CLIENT = r"""
import json, smtplib, sys
host, port, sender, recipient = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
size = int(sys.argv[5])
body = "From: %s\nTo: %s\nSubject: via smtp\n\n" % (sender, recipient)
body += ("y" * 76 + "\n") * (size // 77)
def refused(code, reply):
    return {"result": "refused", "code": code, "reply": reply.decode(errors="replace")}
try:
    with smtplib.SMTP(host, port, timeout=20) as smtp:
        answer = {"result": "accepted", "refused": smtp.sendmail(sender, [recipient], body)}
except smtplib.SMTPResponseException as error:
    answer = refused(error.smtp_code, error.smtp_error)
except smtplib.SMTPRecipientsRefused as error:
    answer = refused(*list(error.recipients.values())[0])
except (OSError, smtplib.SMTPException) as error:
    answer = {"result": type(error).__name__, "reply": str(error)}
print(json.dumps(answer))
"""


def smtp_from(container: str, host: str, sender: str, size: int = 0,
              port: int = 25) -> dict[str, Any]:
    result = exec_in(container, "python3", "-c", SMTP_CLIENT, host, str(port), sender,
                     RECIPIENT, str(size))
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout))


@pytest.fixture
def emulator() -> Iterator[EmulatorClient]:
    """The emulator as freshly started: no faults, counters and store empty."""
    client = EmulatorClient(STATE_DIR)
    client.reset()
    yield client
    client.reset()


def only_message(emulator: EmulatorClient) -> dict[str, Any]:
    records = emulator.wait_for_messages(1, timeout=WAIT)
    assert len(records) == 1, [r["envelope"] for r in records]
    return records[0]


# --- the converged relay ------------------------------------------------------------------


def test_approved_sender_arrives_with_auth_plain_over_tls12(emulator: EmulatorClient) -> None:
    sent = sendmail("-f", APPROVED, text=message(f"Alerts <{APPROVED}>", "approved"))
    assert sent.returncode == 0, sent.stderr
    record = only_message(emulator)
    assert record["auth"] == {"mechanism": "PLAIN", "login": RELAY["oci_relay_username"]}
    assert record["tls"]["version"] in ("TLSv1.2", "TLSv1.3")
    assert record["listener"] == {"mode": "starttls", "port": 587}
    assert record["envelope"]["mail_from"] == APPROVED
    assert record["headers"]["from"] == [APPROVED]
    assert record["envelope"]["rcpt_to"] == [RECIPIENT]


def test_a_burst_is_paced_over_one_tls_connection(emulator: EmulatorClient) -> None:
    """Three messages at once leave one rate delay apart (the lab's 60/min: 2 s), all over the
    same connection (one client port at the emulator)."""
    for n in range(3):
        sent = sendmail("-f", APPROVED, text=message(APPROVED, f"burst {n}"))
        assert sent.returncode == 0, sent.stderr
    records = emulator.wait_for_messages(3, timeout=WAIT)
    times = sorted(datetime.fromisoformat(r["time"]).timestamp() for r in records)
    gaps = [later - earlier for earlier, later in pairwise(times)]
    # Postfix spaces the starts of deliveries 2 s apart; the first one also sets up TLS and
    # AUTH, so only the later gaps (both over the reused connection) show the full delay.
    assert min(gaps) >= 0.5 and all(gap >= 1.5 for gap in gaps[1:]), gaps
    assert len({r["client"]["port"] for r in records}) == 1, [r["client"] for r in records]
    assert emulator.status()["stats"]["tls_handshakes"] <= 1


def deferred_reason(subject_id: str, timeout: float = WAIT) -> str:
    """The delay reason Postfix gives for the queued message with this Message-ID part, once it
    has tried (bounded polling of `postqueue -j`: nothing announces a deferral)."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while time.monotonic() < deadline:
        for entry in queue():
            reason = entry["recipients"][0].get("delay_reason", "")
            if entry["queue_name"] == "deferred" and reason:
                return str(reason)
        pause.wait(0.2)
    raise AssertionError(f"no deferred message for {subject_id} within {timeout} s: {queue()}")


@pytest.mark.parametrize(("fault", "words", "cause"), [
    ("wrong_certificate", "Server certificate not verified", "certificate was not verified"),
    ("starttls_stripped", "TLS is required, but was not offered", "did not offer STARTTLS"),
])
def test_credentials_go_only_over_verified_tls(emulator: EmulatorClient, fault: str,
                                               words: str, cause: str) -> None:
    """The running relay, not only the preflight: a wrong certificate or a stripped STARTTLS
    keeps the message queued and the password unsent; it leaves once the fault is gone."""
    assert queue() == [], "the queue must be empty before this test"
    emulator.set_faults(down=True)  # drops the connection Postfix may have cached
    emulator.set_faults(down=False, **{fault: True})
    try:
        sent = sendmail("-f", APPROVED, text=message(APPROVED, f"under {fault}"))
        assert sent.returncode == 0, sent.stderr
        assert words in deferred_reason(fault)
        stats = emulator.status()["stats"]
        assert stats["replies"].get("235", 0) == 0, stats  # no successful AUTH
        assert stats["cleartext_auth_attempts"] == 0, stats
        assert emulator.messages() == []
        # The instance's real journal, explained the way an operator would at 2 a.m.
        journal = exec_in(INSTANCE, "journalctl", "--no-pager", "-q", "--since", "-5min")
        explained = subprocess.run([sys.executable, "-m", "ocirelay.cli", "explain"],
                                   input=journal.stdout, capture_output=True, text=True,
                                   timeout=60, check=False)
        assert explained.returncode == 1 and cause in explained.stdout, explained.stdout
        stuck = exec_in(INSTANCE, "postqueue", "-j")  # and what is stuck right now
        explained = subprocess.run([sys.executable, "-m", "ocirelay.cli", "explain"],
                                   input=stuck.stdout, capture_output=True, text=True,
                                   timeout=60, check=False)
        assert explained.returncode == 1 and cause in explained.stdout, explained.stdout
    finally:
        emulator.clear_faults()
        exec_in(INSTANCE, "postqueue", "-f")
    assert only_message(emulator)["headers"]["subject"] == f"under {fault}"


def test_roots_cron_mail_arrives_rewritten_to_the_default_sender(
        emulator: EmulatorClient) -> None:
    # What cron hands to sendmail: no envelope sender (root), "From: root (Cron Daemon)".
    sent = sendmail(text=message("root (Cron Daemon)", "Cron <root@relay1> run-parts"))
    assert sent.returncode == 0, sent.stderr
    record = only_message(emulator)
    assert record["envelope"]["mail_from"] == APPROVED
    assert record["headers"]["from"] == [APPROVED]
    assert record["headers"]["subject"] == "Cron <root@relay1> run-parts"
    assert record["auth"]["mechanism"] == "PLAIN"


def test_port_25_stays_blocked_while_mail_flows(emulator: EmulatorClient) -> None:
    probe = ("import socket, sys\n"
             "for port in (25, 587):\n"
             "    try:\n"
             "        socket.create_connection((sys.argv[1], port), timeout=3).close()\n"
             "        print(port, 'open')\n"
             "    except OSError as error:\n"
             "        print(port, type(error).__name__)\n")
    host = "smtp.email.us-ashburn-1.oci.oraclecloud.com"
    result = exec_in(INSTANCE, "python3", "-c", probe, host)
    assert result.stdout.split("\n")[:2] == ["25 TimeoutError", "587 open"], result.stdout
    sent = sendmail("-f", APPROVED, text=message(APPROVED, "while 25 is blocked"))
    assert sent.returncode == 0
    assert only_message(emulator)["listener"]["port"] == 587


def test_not_an_open_relay(emulator: EmulatorClient) -> None:
    answer = smtp_from(CLIENT, lab_ip(INSTANCE), APPROVED)
    assert answer["result"] == "ConnectionRefusedError", answer  # loopback-only
    assert queue() == []
    assert emulator.messages() == []


def test_oversize_message_is_refused_at_submission(emulator: EmulatorClient) -> None:
    limit = 2097152  # the schema's default oci_relay_message_size_limit
    big = message(APPROVED, "too big", size=limit + 200_000)
    sent = sendmail("-f", APPROVED, text=big)
    assert sent.returncode != 0 and "too big" in sent.stderr.lower(), sent.stderr
    answer = smtp_from(INSTANCE, "127.0.0.1", APPROVED, size=limit + 200_000)
    assert (answer["result"], answer.get("code")) == ("refused", 552), answer
    assert queue() == []
    assert emulator.messages() == []


def test_send_test_playbook_reports_what_oci_answered(emulator: EmulatorClient) -> None:
    result = site("-e", f"send_test_to={RECIPIENT}", playbook="send-test.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "status=sent" in result.stdout and "reply: 250" in result.stdout
    record = only_message(emulator)
    assert record["envelope"]["mail_from"] == APPROVED  # root, rewritten


def test_verify_playbook_passes() -> None:
    result = site(playbook="verify.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "relays through [smtp.email.us-ashburn-1.oci.oraclecloud.com]:587" in result.stdout


# --- nothing changes when the input or the endpoint says no -------------------------------


def test_bad_input_stops_before_any_change(tmp_path: Path) -> None:
    before = fingerprint()
    bad = {"oci_relay_region": "us-ashbrun-1", "oci_relay_port": 25, "oci_relay_password": "",
           "oci_relay_default_sender": "cron@unapproved.example.net",
           "oci_relay_tls_level": "may"}
    result = site(extra_vars=bad, tmp_path=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 2
    assert "has 5 error(s); nothing on the host was changed" in output
    for key, words in [("oci_relay_region", "is not a known OCI region"),
                       ("oci_relay_port", "port 25 is blocked"),
                       ("oci_relay_password", "is empty"),
                       ("oci_relay_default_sender", "is not covered by"),
                       ("oci_relay_tls_level", "'may' is refused")]:
        assert f"error: {key}: {words}" in output
    assert fingerprint() == before


@pytest.mark.parametrize(("fault", "words"), [
    ("wrong_password", "535"),
    ("starttls_stripped", "strips it"),
    ("wrong_certificate", "certificate was not verified"),
])
def test_preflight_failure_stops_before_any_change(emulator: EmulatorClient, tmp_path: Path,
                                                   fault: str, words: str) -> None:
    before = fingerprint()
    extra: dict[str, Any] = {}
    if fault == "wrong_password":
        extra["oci_relay_password"] = "the-console-password"
    else:
        emulator.set_faults(**{fault: True})
    result = site(extra_vars=extra or None, tmp_path=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 2, output[-3000:]
    assert "Preflight from the host to" in output and words in output
    assert "Nothing on the host was changed" in output
    if fault == "wrong_password":
        assert "console password" in output
        assert "the-console-password" not in output
    assert fingerprint() == before
    assert emulator.messages() == []


def test_check_diff_vvv_shows_no_credential(tmp_path: Path) -> None:
    # A change (the send rate) so that --diff has something to show.
    result = site("--check", "--diff", "-vvv", extra_vars={"oci_relay_messages_per_minute": 30},
                  tmp_path=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "oci_destination_rate_delay = 3s" in output  # the diff is there
    user, password = RELAY["oci_relay_username"], RELAY["oci_relay_password"]
    token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    for secret in (password, token, json.dumps(password)[1:-1], f"{user}:{password}"):
        assert secret not in output


# --- other modes: hub for the client, unapproved senders refused; then back ----------------


@pytest.fixture(scope="module")
def hub_and_reject(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Converge in hub mode for the client only, refusing unapproved senders; afterwards,
    converge back to the lab's description."""
    tmp_path = tmp_path_factory.mktemp("modes")
    client_ip = lab_ip(CLIENT)
    result = site(extra_vars={"oci_relay_relay_networks": [f"{client_ip}/32"],
                              "oci_relay_unapproved_senders": "reject"}, tmp_path=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    yield client_ip
    result = site()
    assert result.returncode == 0, result.stdout[-3000:]


def test_hub_relays_for_its_network_only(hub_and_reject: str, emulator: EmulatorClient) -> None:
    instance = lab_ip(INSTANCE)
    inside = smtp_from(CLIENT, instance, APPROVED)
    assert inside["result"] == "accepted", inside
    record = only_message(emulator)
    assert (record["envelope"]["mail_from"], record["auth"]["mechanism"]) == (APPROVED, "PLAIN")
    outside = smtp_from(EMULATOR, instance, APPROVED)
    assert (outside["result"], outside.get("code")) == ("refused", 554), outside
    assert "Access denied" in outside["reply"]


def test_reject_mode_refuses_unapproved_senders_locally(hub_and_reject: str,
                                                        emulator: EmulatorClient) -> None:
    # A LAN client with an unapproved sender: refused during the SMTP dialogue.
    answer = smtp_from(CLIENT, lab_ip(INSTANCE), "app@client1.lab.internal")
    assert answer["result"] == "refused" and "not an approved" in answer["reply"], answer
    # root's cron mail on the instance: bounced locally, never handed to OCI.
    result = exec_in(INSTANCE, "python3", "-I", "-c", host_scripts.source("send_test"),
                     "--to", RECIPIENT, "--timeout", "60")
    report = json.loads(result.stdout)
    assert (report["status"], report["relay"]) == ("bounced", "none"), report
    assert "not an approved OCI Email Delivery sender" in report["reply"]
    # The approved sender still goes through.
    sent = sendmail("-f", APPROVED, text=message(APPROVED, "approved under reject"))
    assert sent.returncode == 0
    assert only_message(emulator)["envelope"]["mail_from"] == APPROVED
