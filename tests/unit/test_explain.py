"""`ocirelay explain`: mail-log failures grouped by cause, in the words of replies.py.

The lines are in the exact shapes Postfix 3.7 (journal) and Exim 4.96 (mainlog) write; the lab's
end-to-end tests feed the explainer the instance's real journal as well.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ocirelay.mail_log import diagnose, parse_line

HOST = "smtp.email.us-ashburn-1.oci.oraclecloud.com[10.89.77.10]:587"
PREFIX = "Nov 23 15:44:19 relay1 postfix/oci/smtp[3483]"
SENT = (f"{PREFIX}: 6BD0F1E009F: to=<ops@example.net>, relay={HOST}, conn_use=3, delay=14, "
        "delays=0/14/0/0, dsn=2.0.0, status=sent (250 OK id=000003)")
BAD_LOGIN = (f"{PREFIX}: 8D8A91E017D: to=<ops@example.net>, relay={HOST}, delay=0.3, "
             "delays=0.01/0.02/0.2/0, dsn=5.7.8, status=bounced (host smtp.email.us-ashburn-1."
             "oci.oraclecloud.com[10.89.77.10] said: 535 Authentication credentials invalid "
             "(in reply to AUTH command))")
TOO_FAST = (f"{PREFIX}: 90E1D1E01EC: to=<b@example.net>, relay={HOST}, delay=1.2, "
            "delays=0/0/0.1/1.1, dsn=4.0.0, status=deferred (host smtp.email.us-ashburn-1.oci."
            "oraclecloud.com[10.89.77.10] said: 455 Maximum messages sent per minute reached "
            "(in reply to MAIL FROM command))")
NOT_VERIFIED = (f"{PREFIX}: 2C17A1E0017: to=<c@example.net>, relay={HOST}, delay=0.1, "
                "delays=0/0/0.1/0, dsn=4.7.5, status=deferred (Server certificate not verified)")
PORT_25 = ("Nov 23 15:50:02 relay1 postfix/smtp[912]: 3F1B21E0015: to=<d@example.net>, "
           "relay=none, delay=30, delays=0/0/30/0, dsn=4.4.1, status=deferred (connect to "
           "smtp.email.us-ashburn-1.oci.oraclecloud.com[10.89.77.10]:25: Connection timed out)")
EXIM_AUTH = ("2026-11-23 15:44:19 1tXyZa-000123-AB ** ops@example.net R=smtp_relay_smtp "
             "T=smtp_relay_smtp: SMTP error from remote mail server after AUTH LOGIN: 504 "
             "Method not supported")
EXIM_TLS = ("2026-11-23 15:45:02 1tXyZb-000456-CD == ops@example.net R=ocirelay_oci "
            "T=ocirelay_oci_smtp defer (-38): a TLS session is required, but the server did "
            "not offer TLS support")
EXIM_CERT = ("2026-11-23 15:45:09 1tXyZc-000789-EF == ops@example.net R=ocirelay_oci "
             "T=ocirelay_oci_smtp defer (-37) H=smtp.email.us-ashburn-1.oci.oraclecloud.com "
             "[10.89.77.10]: TLS session: (certificate verification failed): certificate invalid")


def test_delivered_and_unrelated_lines_are_not_failures() -> None:
    assert parse_line(SENT) is None
    assert parse_line("Nov 23 15:44:05 relay1 postfix/qmgr[3276]: 8D8A91E017D: removed") is None
    assert diagnose([SENT, "", "random text"]) == []


def test_postfix_failures_are_read_with_their_reason() -> None:
    failure = parse_line(BAD_LOGIN)
    assert failure is not None
    assert (failure.message_id, failure.recipient, failure.status) == (
        "8D8A91E017D", "ops@example.net", "bounced")
    assert failure.reason.endswith("said: 535 Authentication credentials invalid "
                                   "(in reply to AUTH command)")


def test_exim_failures_are_read_with_the_servers_reply() -> None:
    failed, deferred = parse_line(EXIM_AUTH), parse_line(EXIM_TLS)
    assert failed is not None and deferred is not None
    assert (failed.message_id, failed.status, failed.reason) == (
        "1tXyZa-000123-AB", "failed", "504 Method not supported")
    assert deferred.status == "deferred"
    assert deferred.reason == "a TLS session is required, but the server did not offer TLS support"
    cert = parse_line(EXIM_CERT)
    assert cert is not None
    assert cert.reason == "TLS session: (certificate verification failed): certificate invalid"


@pytest.mark.parametrize(("line", "code", "words"), [
    (BAD_LOGIN, 535, "console password"),
    (TOO_FAST, 455, "messages-per-minute limit"),
    (NOT_VERIFIED, None, "certificate was not verified"),
    (PORT_25, None, "port 25 is blocked"),
    (EXIM_AUTH, 504, "other than PLAIN"),
    (EXIM_TLS, None, "did not offer STARTTLS"),
    (EXIM_CERT, None, "certificate was not verified"),
])
def test_each_failure_gets_its_cause(line: str, code: int | None, words: str) -> None:
    [diagnosis] = diagnose([line])
    assert diagnosis.explanation.code == code
    assert words in diagnosis.explanation.cause


def test_failures_are_grouped_by_cause_most_frequent_first() -> None:
    lines = [TOO_FAST, SENT, BAD_LOGIN, TOO_FAST.replace("90E1D1E01EC", "91E1D1E01ED"), TOO_FAST]
    diagnoses = diagnose(lines)
    assert [(d.explanation.code, len(d.failures)) for d in diagnoses] == [(455, 3), (535, 1)]


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ocirelay.cli", "explain", *args],
                          input=stdin, capture_output=True, text=True, timeout=60, check=False)


def test_cli_reads_the_log_on_stdin() -> None:
    done = run_cli(stdin="\n".join([SENT, TOO_FAST, TOO_FAST, NOT_VERIFIED]) + "\n")
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("2 x deferred: faster than the tenancy's messages-per-minute")
    assert "fix: set oci_relay_messages_per_minute" in done.stdout
    assert "e.g. 90E1D1E01EC to <b@example.net>: host smtp.email" in done.stdout
    assert "1 x deferred: the endpoint's certificate was not verified" in done.stdout


def test_cli_json_and_a_clean_log() -> None:
    done = run_cli("--json", stdin=BAD_LOGIN + "\n")
    [entry] = json.loads(done.stdout)
    assert (entry["code"], entry["count"], entry["statuses"]) == (535, 1, ["bounced"])
    clean = run_cli(stdin=SENT + "\n")
    assert (clean.returncode, clean.stdout.strip()) == (
        0, "no deferred or bounced delivery in the lines read")


def test_cli_explains_one_reply() -> None:
    done = run_cli("535", "Authentication", "credentials", "invalid")
    assert done.returncode == 0
    assert done.stdout.startswith("535 Authentication credentials invalid: Authentication "
                                  "credentials invalid: you used the console password")


def test_postqueue_json_shows_what_is_stuck_now() -> None:
    """`postqueue -j | ocirelay explain`: Postfix 3.7's one JSON object per queued message."""
    stuck = json.dumps({
        "queue_name": "deferred", "queue_id": "2C17A1E0017", "arrival_time": 1795447539,
        "message_size": 274, "forced_expire": False, "sender": "noreply@example.com",
        "recipients": [{"address": "c@example.net",
                        "delay_reason": "Server certificate not verified"},
                       {"address": "d@example.net"}]})
    active = json.dumps({"queue_name": "active", "queue_id": "3D28B2F0028",
                         "recipients": [{"address": "e@example.net"}]})
    [diagnosis] = diagnose([stuck, active])
    assert "certificate was not verified" in diagnosis.explanation.cause
    assert [(f.message_id, f.recipient, f.status) for f in diagnosis.failures] == [
        ("2C17A1E0017", "c@example.net", "deferred")]
    assert diagnose(["{not json", "{}"]) == []
