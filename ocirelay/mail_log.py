"""Postfix and Exim mail-log lines that say a message did not go out, and why.

Only the failure lines matter at 2 a.m.: Postfix's `status=deferred|bounced (...)` and Exim's
`==` (deferred) and `**` (failed) lines, and what is stuck now: `postqueue -j` (one JSON object
per queued message). Their reason is handed to replies.explain, so the log explainer, the
preflight and the roles use the same words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from ocirelay.replies import Explanation, explain

# postfix/oci/smtp[123]: 4F2A81E017D: to=<a@b>, relay=..., dsn=4.7.5, status=deferred (reason)
_POSTFIX = re.compile(
    r"postfix(?:/[\w.-]+)*/\w+\[\d+\]: (?P<id>[0-9A-Za-z]+): to=<(?P<rcpt>[^>]*)>.*?"
    r"\bstatus=(?P<status>deferred|bounced|undeliverable|expired) \((?P<reason>.*)\)\s*$")
# 1tXyZa-000123-AB == a@b R=router T=transport defer (-53): reason
# 1tXyZa-000123-AB ** a@b R=router T=transport: SMTP error from remote mail server after
#   AUTH PLAIN: 535 ...     (ids: 6-6-2 characters, 6-11-4 since Exim 4.97)
_EXIM = re.compile(r"\s(?P<id>[0-9A-Za-z]{6}-[0-9A-Za-z]{6,11}-[0-9A-Za-z]{2,4}) "
                   r"(?P<flag>==|\*\*) (?P<rcpt>\S+)(?P<rest>.*)$")
_EXIM_REMOTE = re.compile(r"SMTP error from remote mail server after [^:]*:\s*(?P<reply>.*)$")
# Otherwise the reason follows "defer (-NN): " or the transport's "T=name: ".
_EXIM_REASONS = (re.compile(r"defer \(-?\d+\)(?: H=\S+ \[[^]]*\])?:\s*(?P<reason>.*)$"),
                 re.compile(r"T=\S+?:\s*(?P<reason>.*)$"))


@dataclass(frozen=True)
class Failure:
    """One failed delivery attempt read from a log line."""

    message_id: str
    recipient: str
    status: str  # deferred or bounced (Exim: deferred or failed)
    reason: str


@dataclass
class Diagnosis:
    """Failures that share an explanation: how many, an example, the cause and the fix."""

    explanation: Explanation
    failures: list[Failure] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {**self.explanation.as_dict(), "count": len(self.failures),
                "statuses": sorted({f.status for f in self.failures}),
                "example": {"message_id": self.failures[0].message_id,
                            "recipient": self.failures[0].recipient,
                            "reason": self.failures[0].reason}}


def parse_queue_entry(line: str) -> list[Failure]:
    """The deferred recipients of one `postqueue -j` line (none for any other line)."""
    try:
        entry = json.loads(line)
    except ValueError:
        return []
    if not isinstance(entry, dict) or not isinstance(entry.get("recipients"), list):
        return []
    return [Failure(str(entry.get("queue_id", "?")), str(r.get("address", "")),
                    str(entry.get("queue_name", "queued")), str(r["delay_reason"]).strip())
            for r in entry["recipients"] if isinstance(r, dict) and r.get("delay_reason")]


def parse_line(line: str) -> Failure | None:
    """The failure a Postfix or Exim log line reports, or None for any other line."""
    if match := _POSTFIX.search(line):
        return Failure(match["id"], match["rcpt"], match["status"], match["reason"].strip())
    if match := _EXIM.search(line):
        rest = match["rest"]
        found = next((m for pattern in (_EXIM_REMOTE, *_EXIM_REASONS)
                      if (m := pattern.search(rest))), None)
        reason = (found.group(1) if found else rest).strip()
        status = "deferred" if match["flag"] == "==" else "failed"
        return Failure(match["id"], match["rcpt"], status, reason)
    return None


def diagnose(lines: Iterable[str]) -> list[Diagnosis]:
    """The failures of `lines` grouped by cause, the most frequent first."""
    groups: dict[tuple[int | None, str], Diagnosis] = {}
    for line in lines:
        if line.lstrip().startswith("{"):
            failures = parse_queue_entry(line)
        else:
            failures = [failure] if (failure := parse_line(line)) else []
        for failure in failures:
            _add(groups, failure)
    return sorted(groups.values(), key=lambda d: -len(d.failures))


def _add(groups: dict[tuple[int | None, str], Diagnosis], failure: Failure) -> None:
    explanation = explain(None, failure.reason)
    key = (explanation.code, explanation.cause)
    groups.setdefault(key, Diagnosis(explanation)).failures.append(failure)
