"""A deployed Postfix relay really is what ocirelay promised, checked on the host itself.

    pytest tests/infra --hosts=ansible://oci_relays --ansible-inventory=inventories/example \
        [--send-to you@example.com]
    CONTAINERS_CONF=tests/lab/containers.conf pytest tests/infra \
        --hosts=podman://ocirelay-instance \
        --relay-description inventories/lab/group_vars/oci_relays.yml

Read-only unless --send-to is given. No assertion message ever shows the SMTP password.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from typing import Any

import pytest
from conftest import Expected

from ocirelay import host_scripts
from ocirelay.replies import explain

PLAIN_MODULE_PACKAGE = {"Debian": "libsasl2-modules", "RedHat": "cyrus-sasl-plain"}
OTHER_MTAS = ("exim4-daemon-light", "exim4-daemon-heavy", "sendmail")


@pytest.fixture(autouse=True)
def _postfix_hosts_only(host: Any) -> None:
    """HestiaCP hosts keep Exim (tests/infra/test_hestia.py checks them)."""
    if host.file("/usr/local/hestia/conf/hestia.conf").exists:
        pytest.skip("a HestiaCP host: its relay is Exim (test_hestia.py)")


def parse_main_cf(text: str) -> dict[str, str]:
    """main.cf as Postfix reads it: comments and blank lines skipped, a line starting with white
    space continues the previous one."""
    settings: dict[str, str] = {}
    name = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line[0].isspace() and name is not None:
            settings[name] += " " + line.strip()
            continue
        name, _, value = (part.strip() for part in line.partition("="))
        settings[name] = value
    return settings


def master_cf_overrides(text: str, service: str) -> dict[str, str]:
    """The `-o name=value` overrides of one service in master.cf."""
    overrides: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        if not line[0].isspace():
            fields = line.split()
            current = fields[0] if len(fields) > 1 and fields[1] == "unix" else None
            continue
        if current == service:
            for name, value in re.findall(r"-o\s+([^=\s]+)=(\S*)", line):
                overrides[name] = value
    return overrides


def run_ok(host: Any, command: str, *args: str) -> str:
    result = host.run(command, *args)
    assert result.rc == 0, f"{command % args if args else command}: {result.stderr.strip()}"
    return str(result.stdout)


def test_packages_include_the_sasl_plain_module(host: Any, expected: Expected) -> None:
    for package in ("postfix", PLAIN_MODULE_PACKAGE[expected.family], "ca-certificates"):
        assert host.package(package).is_installed, f"{package} is not installed"
    found = host.run("find /usr/lib /usr/lib64 -path '*sasl2/libplain.so*' -print -quit")
    assert found.stdout.strip(), "no libplain.so: Postfix would say 'no mechanism available'"
    if expected.config.map_type in ("lmdb", "cdb"):
        assert expected.config.map_type in run_ok(host, "postconf -m").split()


def test_no_other_mta_is_installed(host: Any) -> None:
    installed = [name for name in OTHER_MTAS if host.package(name).is_installed]
    assert not installed, f"another MTA is still installed: {installed}"


def test_postfix_is_running_and_enabled(host: Any) -> None:
    assert host.service("postfix").is_enabled
    status = host.run("postfix status")
    assert status.rc == 0, f"postfix status: {status.stderr.strip() or status.stdout.strip()}"


def test_postfix_check_is_clean(host: Any) -> None:
    result = host.run("postfix check")
    assert (result.rc, result.stderr.strip(), result.stdout.strip()) == (0, "", "")


def test_postconf_has_the_intended_values(host: Any, expected: Expected) -> None:
    result = host.run("postconf -n")
    assert result.rc == 0 and result.stderr == "", result.stderr
    live = dict(line.split(" = ", 1) for line in result.stdout.splitlines() if " = " in line)
    intended = parse_main_cf(expected.files["main.cf"].content)
    differing = {k: (live.get(k), v) for k, v in intended.items() if live.get(k) != v}
    assert not differing, f"postconf -n differs from the relay description: {differing}"
    extra = sorted(set(live) - set(intended))
    assert not extra, f"settings ocirelay did not write: {extra}"


def test_main_cf_has_no_stray_continuation_lines(host: Any) -> None:
    """A line starting with white space silently extends the setting above it."""
    text = host.file("/etc/postfix/main.cf").content_string
    stray = [line for line in text.splitlines() if line[:1].isspace() and line.strip()]
    assert not stray, f"continuation lines in main.cf: {stray}"
    live = run_ok(host, "postconf -n")
    glued = [line for line in live.splitlines() if re.search(r"\s\w+ = ", line.split(" = ", 1)
                                                                [-1])]
    assert not glued, f"settings glued into another's value: {glued}"


def test_installed_files_are_the_rendered_ones(host: Any, expected: Expected) -> None:
    for name, rendered in expected.files.items():
        installed = host.file(f"/etc/postfix/{name}")
        assert installed.is_file, f"/etc/postfix/{name} is missing"
        assert (installed.user, installed.group) == ("root", "root"), name
        assert f"{installed.mode:04o}" == rendered.mode, f"{name} has mode {installed.mode:o}"
        if not rendered.secret:
            digest = hashlib.sha256(rendered.content.encode()).hexdigest()
            assert installed.sha256sum == digest, f"/etc/postfix/{name} is not the rendered file"


def test_credential_map_and_its_compiled_map_are_root_only(host: Any,
                                                          expected: Expected) -> None:
    for name in expected.secret_files:
        for path in (f"/etc/postfix/{name}", f"/etc/postfix/{name}{expected.compiled_suffix}"):
            found = host.file(path)
            assert found.is_file, f"{path} is missing"
            assert (found.user, found.group, found.mode) == ("root", "root", 0o600), (
                f"{path} is {found.user}:{found.group} {found.mode:o}, not root:root 600")
        table = f"{expected.config.map_type}:/etc/postfix/{name}"
        answer = host.run("postmap -q %s %s", expected.config.relayhost, table)
        # Compared, never shown: the value holds the password.
        holds_the_user = answer.rc == 0 and answer.stdout.startswith(
            f"{expected.config.username}:")
        assert holds_the_user, f"{table} has no login for {expected.config.relayhost}"


def test_listens_on_loopback_only_unless_hub(host: Any, expected: Expected) -> None:
    listening = [s for s in host.socket.get_listening_sockets() if s.endswith(":25")]
    assert listening, "nothing listens on port 25"
    outside = [s for s in listening if not re.match(r"tcp6?://(127\.0\.0\.1|::1):25$", s)]
    if expected.config.hub_mode:
        assert outside, f"hub mode, but listening on loopback only: {listening}"
    else:
        assert not outside, f"not a hub, but listening beyond loopback: {outside}"


def test_the_oci_transport_forces_plain_and_tls(host: Any, expected: Expected) -> None:
    live = dict(line.split(" = ", 1) for line in run_ok(host, "postconf -P").splitlines()
                if line.startswith("oci/unix/"))
    live = {k.removeprefix("oci/unix/"): v for k, v in live.items()}
    assert live.get("smtp_sasl_auth_enable") == "yes"
    assert live.get("smtp_sasl_mechanism_filter") == "plain"
    assert live.get("smtp_sasl_security_options") == "noanonymous"
    assert live.get("smtp_sasl_tls_security_options") == "noanonymous"
    assert live.get("smtp_tls_security_level") == expected.config.tls_level
    assert live.get("smtp_tls_security_level") in ("secure", "verify", "encrypt")
    assert "TLSv1.2" in live.get("smtp_tls_mandatory_protocols", "")
    if expected.config.port == 465:
        assert live.get("smtp_tls_wrappermode") == "yes"
    intended = master_cf_overrides(expected.files["master.cf"].content, "oci")
    assert live == intended
    assert run_ok(host, "postconf -h default_transport").strip() == "oci"


def test_roots_mail_is_rewritten_to_an_approved_sender_or_refused(host: Any,
                                                                  expected: Expected) -> None:
    myhostname = run_ok(host, "postconf -h myhostname").strip()
    root = f"root@{myhostname}"
    config = expected.config
    if config.unapproved_senders == "rewrite":
        table = "regexp:/etc/postfix/oci_sender_canonical"
        assert run_ok(host, "postmap -q %s %s", root, table).strip() == config.default_sender
        for address in config.approved_addresses:
            assert run_ok(host, "postmap -q %s %s", address, table).strip() == address
    else:
        answer = run_ok(host, "postmap -q %s %s", root,
                        "regexp:/etc/postfix/oci_sender_transport").strip()
        assert answer.startswith("error:"), f"{root} would go to OCI: {answer}"


def test_bounces_are_never_handed_to_oci(host: Any) -> None:
    answer = run_ok(host, "postmap -q %s %s", "<>", "regexp:/etc/postfix/oci_sender_transport")
    assert answer.startswith("error:")


def test_message_size_limit(host: Any, expected: Expected) -> None:
    live = run_ok(host, "postconf -h message_size_limit").strip()
    assert live == str(expected.config.message_size_limit)


def test_queue_is_not_stuck(host: Any, request: pytest.FixtureRequest) -> None:
    max_age = request.config.getoption("max_queue_age")
    now = time.time()
    stuck = []
    for line in run_ok(host, "postqueue -j").splitlines():
        entry = json.loads(line)
        if entry.get("queue_name") == "deferred" and now - entry["arrival_time"] > max_age:
            for recipient in entry.get("recipients", []):
                reason = recipient.get("delay_reason", "")
                stuck.append(f"{entry['queue_id']} to {recipient.get('address')}: "
                             f"{explain(None, reason).as_text()}")
    assert not stuck, "mail stuck in the queue:\n" + "\n".join(stuck)


def test_live_send_is_accepted_by_oci(host: Any, request: pytest.FixtureRequest) -> None:
    to = request.config.getoption("send_to")
    if not to:
        pytest.skip("sends real mail: give --send-to ADDRESS to run it")
    command = "python3 -I -c %s --to %s --timeout 120"
    args = [host_scripts.source("send_test"), to]
    sender = request.config.getoption("send_from")
    if sender:
        command += " --from %s"
        args.append(sender)
    report = json.loads(host.run(command, *args).stdout)
    explained = explain(None, report.get("reply") or "")
    assert report["ok"], (f"status={report.get('status')} reply={report.get('reply')}\n"
                          f"{explained.as_text()}")
