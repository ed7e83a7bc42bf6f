"""`ocirelay explain`: why mail did not go out, from the mail log or from one reply.

    journalctl -u postfix@- --since today | ocirelay explain     (Debian 12+: the journal)
    postqueue -j | ocirelay explain                               (what is stuck right now)
    ocirelay explain < /var/log/mail.log                          (Postfix or Exim's mainlog)
    ocirelay explain "535 Authentication credentials invalid"

Reads Postfix's status=deferred/bounced lines, `postqueue -j` and Exim's ==/** lines, groups them
by cause and
prints each cause once with its count, an example and the fix. Exit 0 when no failure was found,
1 when some were (the mail waits or bounced), 2 for a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap

from ocirelay.mail_log import Diagnosis, diagnose
from ocirelay.replies import explain

WIDTH = 100


def render_diagnoses(diagnoses: list[Diagnosis]) -> str:
    if not diagnoses:
        return "no deferred or bounced delivery in the lines read"
    blocks = []
    for d in diagnoses:
        example = d.failures[0]
        statuses = ", ".join(sorted({f.status for f in d.failures}))
        blocks.append("\n".join([
            f"{len(d.failures)} x {statuses}: {d.explanation.cause}",
            *textwrap.wrap(f"fix: {d.explanation.fix}", WIDTH, initial_indent="  ",
                           subsequent_indent="       "),
            *textwrap.wrap(f"e.g. {example.message_id} to <{example.recipient}>: {example.reason}",
                           WIDTH, initial_indent="  ", subsequent_indent="       "),
        ]))
    return "\n\n".join(blocks)


def cmd_explain(args: argparse.Namespace) -> int:
    if args.reply:
        explained = explain(None, " ".join(args.reply))
        print(json.dumps(explained.as_dict(), indent=2) if args.json else explained.as_text())
        return 0
    if sys.stdin.isatty():
        print("ocirelay explain: give a reply, or pipe mail-log lines in "
              "(journalctl -u postfix@- | ocirelay explain)", file=sys.stderr)
        return 2
    diagnoses = diagnose(sys.stdin)
    if args.json:
        print(json.dumps([d.as_dict() for d in diagnoses], indent=2))
    else:
        print(render_diagnoses(diagnoses))
    return 1 if diagnoses else 0


def register_explain(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("explain", help="why mail did not go out: mail-log lines on stdin, or "
                       "one SMTP reply", description=__doc__.split("\n\n")[0])
    p.add_argument("reply", nargs="*", metavar="REPLY",
                   help="an SMTP reply or a log line to explain (else: read the log on stdin)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=cmd_explain)
