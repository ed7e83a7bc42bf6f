"""`ocirelay dns`: the table, --json, exit codes 0/1/2, through the real Knot server."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from dns_zones import knot
from knot_server import Knot, silent_server
from relay_samples import AWKWARD_PASSWORD

from ocirelay.cli import main

__all__ = ["knot"]  # the session fixture, imported for this module's tests

FINDING_KEYS = {"domain", "check", "status", "reason", "publish", "name", "replaces"}


def run_dns(capsys: pytest.CaptureFixture[str], path: Path, server: tuple[str, int],
            *extra: str) -> tuple[int, str, str]:
    code = main(["dns", str(path), "--nameserver", f"{server[0]}:{server[1]}", *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_ready_domain_exits_0_with_a_table(capsys: pytest.CaptureFixture[str],
                                            description: Callable[..., Path],
                                            knot: Knot) -> None:
    path = description(oci_relay_approved_senders=["noreply@good.test"],
                       oci_relay_dkim_selectors=["sel1"])
    code, out, err = run_dns(capsys, path, knot.address)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "good.test"
    assert [line.split()[:2] for line in lines if line.startswith("  ") and
            not line.startswith("   ")] == [["ok", "spf"], ["ok", "dkim"], ["ok", "dmarc"]]
    assert "Records to publish" not in out
    assert lines[-1] == f"0 error(s), 0 warning(s), 3 ok (asked 127.0.0.1:{knot.port})"


def test_errors_exit_1_with_the_records_to_publish(capsys: pytest.CaptureFixture[str],
                                                   description: Callable[..., Path],
                                                   knot: Knot) -> None:
    path = description(oci_relay_approved_senders=["noreply@nooracle.test", "a@nodmarc.test"],
                       oci_relay_dkim_selectors=["sel1"])
    code, out, _ = run_dns(capsys, path, knot.address)
    assert code == 1
    assert "  error  spf    does not authorise Oracle's relays" in out
    assert "  warn   dmarc  no DMARC record" in out
    assert "Records to publish" in out
    assert '    delete  nooracle.test. 3600 IN TXT "v=spf1 mx -all"' in out
    assert ('    add     nooracle.test. 3600 IN TXT '
            '"v=spf1 mx include:rp.oracleemaildelivery.com -all"') in out
    assert '    add     _dmarc.nodmarc.test. 3600 IN TXT "v=DMARC1; p=none"' in out


def test_warnings_alone_exit_0(capsys: pytest.CaptureFixture[str],
                               description: Callable[..., Path], knot: Knot) -> None:
    path = description(oci_relay_approved_senders=["noreply@legacy.test"],
                       oci_relay_dkim_selectors=["sel1"])
    code, out, _ = run_dns(capsys, path, knot.address)
    assert code == 0
    assert "  warn   spf    authorises Oracle only with the legacy" in out


def test_json_output(capsys: pytest.CaptureFixture[str], description: Callable[..., Path],
                     knot: Knot) -> None:
    path = description(oci_relay_approved_senders=["noreply@good.test", "x@doubled.test"],
                       oci_relay_dkim_selectors=["sel1"])
    code, out, _ = run_dns(capsys, path, knot.address, "--json")
    report = json.loads(out)
    assert code == 1
    assert (report["valid"], report["status"]) == (True, "error")
    assert report["nameserver"] == f"127.0.0.1:{knot.port}"
    assert all(set(f) == FINDING_KEYS for f in report["findings"])
    assert [(f["domain"], f["check"], f["status"]) for f in report["findings"]] == [
        ("good.test", "spf", "ok"), ("good.test", "dkim", "ok"), ("good.test", "dmarc", "ok"),
        ("doubled.test", "spf", "ok"), ("doubled.test", "dkim", "error"),
        ("doubled.test", "dmarc", "ok")]
    doubled = report["findings"][4]
    assert doubled["publish"] == ("sel1._domainkey.doubled.test. 3600 IN CNAME "
                                  "sel1.doubled.test.dkim.iad1.oracleemaildelivery.com.")
    assert doubled["replaces"] == ["sel1._domainkey.doubled.test.doubled.test. 3600 IN CNAME "
                                   "sel1.doubled.test.dkim.iad1.oracleemaildelivery.com."]


def test_invalid_description_exits_2(capsys: pytest.CaptureFixture[str],
                                     description: Callable[..., Path], knot: Knot) -> None:
    path = description(oci_relay_region="us-ashbrun-1",
                       oci_relay_approved_senders=["noreply@good.test"])
    code, out, err = run_dns(capsys, path, knot.address)
    assert (code, out) == (2, "")
    assert "error: oci_relay_region: is not a known OCI region" in err

    code, out, _ = run_dns(capsys, path, knot.address, "--json")
    assert code == 2 and json.loads(out)["valid"] is False


@pytest.mark.parametrize("bad", ["localhost", "127.0.0.1:99999", "[::1]:x"])
def test_bad_nameserver_is_a_usage_error(capsys: pytest.CaptureFixture[str],
                                         description: Callable[..., Path], bad: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["dns", str(description()), "--nameserver", bad])
    assert exit_info.value.code == 2
    assert "--nameserver" in capsys.readouterr().err


def test_vault_encrypted_password_is_not_needed(capsys: pytest.CaptureFixture[str],
                                                tmp_path: Path, knot: Knot) -> None:
    path = tmp_path / "relay.yml"
    path.write_text(
        "oci_relay_region: us-ashburn-1\n"
        "oci_relay_username: ocid1.user.oc1..aaaa@ocid1.tenancy.oc1..bbbb.ab.com\n"
        "oci_relay_password: !vault |\n"
        "  $ANSIBLE_VAULT;1.1;AES256\n"
        "  3961333533343534653465\n"
        "oci_relay_approved_senders: [noreply@good.test]\n", encoding="utf-8")
    code, out, err = run_dns(capsys, path, knot.address)
    assert (code, err) == (0, "")
    assert "good.test" in out and "not-needed" not in out


def test_password_never_printed(capsys: pytest.CaptureFixture[str],
                                description: Callable[..., Path], knot: Knot) -> None:
    path = description(oci_relay_approved_senders=["noreply@nospf.test"])
    for extra in ((), ("--json",)):
        _, out, err = run_dns(capsys, path, knot.address, *extra)
        assert AWKWARD_PASSWORD not in out + err


def test_timeout_option_bounds_a_silent_server(capsys: pytest.CaptureFixture[str],
                                               description: Callable[..., Path]) -> None:
    path = description(oci_relay_approved_senders=["noreply@good.test"],
                       oci_relay_dkim_selectors=["sel1"])
    for silent in silent_server():
        code, out, _ = run_dns(capsys, path, silent.address, "--timeout", "0.3", "--json")
    assert code == 1
    findings = json.loads(out)["findings"]
    assert [f["status"] for f in findings] == ["error"] * 3
    assert all("timed out (server 127.0.0.1:" in f["reason"] and ", 0.3 s)" in f["reason"]
               for f in findings)


def test_console_script(description: Callable[..., Path], knot: Knot) -> None:
    path = description(oci_relay_approved_senders=["noreply@wronggeo.test"])
    script = Path(sys.executable).with_name("ocirelay")
    done = subprocess.run([str(script), "dns", str(path), "--nameserver",
                           f"127.0.0.1:{knot.port}"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 1, done.stderr
    assert "authorises Oracle's europe relays" in done.stdout
