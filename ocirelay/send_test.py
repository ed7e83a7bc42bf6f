# ruff: noqa: UP022
"""Send one test message through the host's Postfix with sendmail and report what became of it.

Runs ON THE TARGET HOST with nothing but Python's standard library (3.6+), like smtp_probe.py:

    python3 send_test.py --to ADDRESS [--from ADDRESS] [--timeout 120]

It starts following the mail log (journald, else /var/log/mail.log or /var/log/maillog), submits
the message with /usr/sbin/sendmail (the path cron and applications use), finds the message's
queue ID by its unique Message-ID, and reads the log as it is written (no polling) until the
delivery status line: `status=sent (250 ...)`, `bounced` or `deferred` with the endpoint's reply.
One JSON object goes to stdout; the exit status is 0 when the endpoint accepted the message.
"""

import argparse
import json
import os
import re
import select
import socket
import subprocess
import sys
import time
import uuid

LOG_FILES = ("/var/log/mail.log", "/var/log/maillog")
SENDMAIL = "/usr/sbin/sendmail"
MARK_TAG = "ocirelay-send-test"
FIELD = {name: re.compile(rf"\b{name}=([^,]*),") for name in ("relay", "dsn", "orig_to")}
STATUS = re.compile(r"\bstatus=(\w+)(?: \((.*)\))?\s*$")
TO = re.compile(r"\b([0-9A-Za-z]+): to=<([^>]*)>")


class LogFollower:
    """New mail log lines as they are written (journald or a log file)."""

    def __init__(self):
        # type: () -> None
        journalctl = "/usr/bin/journalctl"
        self.marker = f"ready-{uuid.uuid4().hex}"
        if os.path.exists(journalctl) and os.path.isdir("/run/systemd/system"):
            # --since, not --lines=0: lines logged while journalctl is still starting are kept.
            # The mail facility, not identifiers: Postfix's are postfix/<service>, or
            # postfix/oci/smtp for a transport with its own syslog_name.
            command = [journalctl, "--follow", f"--since=@{int(time.time()) - 1}",
                       "--output=cat", "--no-pager", "SYSLOG_FACILITY=2"]
        else:
            log = next((path for path in LOG_FILES if os.path.exists(path)), None)
            if log is None:
                raise RuntimeError(f"no mail log: neither journald nor {' or '.join(LOG_FILES)}")
            command = ["tail", "-n", "0", "-F", log]
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL)
        self.buffer = b""
        self.lines = []  # type: list[str]
        # A marker line proves the follower sees new lines before anything is submitted.
        subprocess.call(["logger", "--priority", "mail.info", "--tag", MARK_TAG, self.marker])
        if self.wait_for(lambda line: self.marker in line, 15.0) is None:
            raise RuntimeError(f"the mail log follower did not start ({command[0]})")

    def wait_for(self, predicate, timeout):
        # type: (object, float) -> str | None
        """The first line (already read or new) for which predicate(line) holds, or None."""
        deadline = time.monotonic() + timeout
        stream = self.process.stdout
        assert stream is not None
        while True:
            while b"\n" in self.buffer:
                raw, self.buffer = self.buffer.split(b"\n", 1)
                self.lines.append(raw.decode("utf-8", "replace"))
            for index, line in enumerate(self.lines):
                if predicate(line):  # type: ignore[operator]
                    del self.lines[:index + 1]
                    return line
            self.lines = []
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([stream.fileno()], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(stream.fileno(), 65536)
            if not chunk:
                return None
            self.buffer += chunk

    def close(self):
        # type: () -> None
        self.process.terminate()
        self.process.wait()


def message(sender, recipient, message_id):
    # type: (str | None, str, str) -> bytes
    headers = [f"To: {recipient}",
               f"Subject: ocirelay send test from {socket.getfqdn()}",
               f"Message-ID: {message_id}",
               "X-Ocirelay-Test: 1"]
    if sender:
        headers.insert(0, f"From: {sender}")
    body = "A test message from ocirelay's send-test, through the local Postfix relay.\n"
    return ("\n".join(headers) + "\n\n" + body).encode("utf-8")


def delivery(line):
    # type: (str) -> dict
    status = STATUS.search(line)
    to = TO.search(line)
    result = {"status": status.group(1) if status else None,
              "reply": (status.group(2) or "") if status else None,
              "recipient": to.group(2) if to else None}
    for name, pattern in FIELD.items():
        match = pattern.search(line)
        result[name] = match.group(1) if match else None
    return result


def send(args, report):
    # type: (argparse.Namespace, dict) -> None
    follower = LogFollower()
    try:
        report["stage"] = "submit"
        command = [SENDMAIL, "-i"] + (["-f", args.sender] if args.sender else []) + [args.to]
        submitted = subprocess.run(command, input=message(args.sender, args.to,
                                                          report["message_id"]),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
        if submitted.returncode != 0:
            report.update(status="refused", reply=submitted.stderr.decode("utf-8", "replace")
                          .strip() or f"sendmail exited with {submitted.returncode}")
            return
        started = time.monotonic()
        report["stage"] = "queue"
        needle = "message-id={}".format(report["message_id"])
        line = follower.wait_for(lambda text: needle in text, args.timeout)
        if line is None:
            report.update(status="unknown", reply="the message did not appear in the mail log "
                          f"within {args.timeout:.0f} s")
            return
        queue_id = line.split(": message-id=", 1)[0].split()[-1]
        report.update(stage="delivery", queue_id=queue_id)

        def is_status(text):
            # type: (str) -> bool
            match = TO.search(text)
            return bool(match and match.group(1) == queue_id and STATUS.search(text))

        remaining = max(1.0, args.timeout - (time.monotonic() - started))
        status_line = follower.wait_for(is_status, remaining)
        if status_line is None:
            report.update(status="unknown", reply=f"no delivery status for {queue_id} within "
                          f"{args.timeout:.0f} s (see postqueue -p)")
            return
        report.update(delivery(status_line), log_line=status_line.strip())
        report["ok"] = report["status"] == "sent"
    finally:
        follower.close()


def main(argv=None):
    # type: (list[str] | None) -> int
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--to", required=True, help="recipient")
    parser.add_argument("--from", dest="sender", default=None,
                        help="envelope and header sender (default: the user running it, as "
                        "cron would: Postfix rewrites or refuses it)")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    report = {"ok": False, "to": args.to, "from": args.sender, "stage": "start",
              "message_id": f"<ocirelay-test-{uuid.uuid4().hex}@{socket.getfqdn()}>"}
    try:
        send(args, report)
    except Exception as error:  # report it in the JSON, like every other outcome
        report.update(status="error", reply=f"{type(error).__name__}: {error}")
    print(json.dumps(report, sort_keys=True))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
