"""`ocirelay dns FILE`: SPF, DKIM and DMARC readiness of every sending domain, and the records to
publish. Exit 0 when nothing is an error, 1 when something is, 2 for an invalid description."""

from __future__ import annotations

import argparse
import sys
import textwrap
from itertools import groupby
from pathlib import Path

from ocirelay import dns
from ocirelay.config import RelayConfig, validate
from ocirelay.loading import read_description
from ocirelay.problems import Problem, errors
from ocirelay.schema import KEYS_BY_NAME

WIDTH = 100
# Stands in for a vault-encrypted secret the DNS check does not need; never used or shown.
_NOT_NEEDED = "not-needed-for-dns"


def load_for_dns(path: Path, vault_password_file: Path | None) -> tuple[RelayConfig | None,
                                                                          list[Problem]]:
    """cli.load_config's loading and validation, except that a vault-encrypted secret without a
    vault password does not stop the check: DNS needs no credentials."""
    loaded = read_description(path, vault_password_file)
    locked = set() if vault_password_file is not None else {
        p.key for p in loaded.problems if _is_secret(p.key) and loaded.values.get(p.key) is None}
    problems = [p for p in loaded.problems if p.key not in locked]
    if errors(problems):
        return None, problems
    validated = validate({**loaded.values, **dict.fromkeys(locked, _NOT_NEEDED)})
    return validated.config, problems + validated.problems


def _is_secret(key: str) -> bool:
    spec = KEYS_BY_NAME.get(key)
    return spec is not None and spec.secret


def render_findings(findings: list[dns.Finding]) -> str:
    """The findings grouped by domain, one line each (reasons wrapped), then the records."""
    lines: list[str] = []
    for domain, group in groupby(findings, key=lambda f: f.domain):
        lines.append(domain)
        for finding in group:
            head = f"  {finding.status:<5}  {finding.check:<5}  "
            lines += textwrap.wrap(finding.reason, WIDTH, initial_indent=head,
                                   subsequent_indent=" " * len(head), break_on_hyphens=False)
    return "\n".join(lines + render_records(findings))


def render_records(findings: list[dns.Finding]) -> list[str]:
    fixes = [f for f in findings if f.publish or f.replaces]
    if not fixes:
        return []
    lines = ["", "Records to publish (zone-file lines; names are absolute, mind the final dots):"]
    for finding in fixes:
        lines.append(f"  {finding.domain} {finding.check} ({finding.name}):")
        lines += [f"    delete  {line}" for line in finding.replaces]
        if finding.publish:
            lines.append(f"    add     {finding.publish}")
    return lines


def summary(findings: list[dns.Finding], server: str) -> str:
    counts = {s: sum(1 for f in findings if f.status == s) for s in ("ok", "warn", "error")}
    return (f"{counts['error']} error(s), {counts['warn']} warning(s), {counts['ok']} ok "
            f"(asked {server})")


def cmd_dns(args: argparse.Namespace) -> int:
    # Imported here: cli.py imports this module to register the command.
    from ocirelay.cli import EXIT_FAILURE, EXIT_INVALID, EXIT_OK, print_problems

    config, problems = load_for_dns(Path(args.file), args.vault_password_file)
    if config is None:
        print_problems(problems, args.json)
        return EXIT_INVALID
    try:
        client = dns.DnsClient(args.nameserver, args.timeout)
    except dns.DnsSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    target = dns.Target(config.region, config.approved_senders, config.dkim_selectors)
    findings = dns.check(target, client)
    status = dns.worst(findings)
    if args.json:
        print_problems(problems, True, status=status, nameserver=client.server,
                       findings=[f.as_dict() for f in findings])
    else:
        print_problems(problems, False)
        print(render_findings(findings))
        print(summary(findings, client.server))
    return EXIT_FAILURE if status == "error" else EXIT_OK


def _nameserver(text: str) -> tuple[str, int]:
    try:
        return dns.parse_nameserver(text)
    except dns.DnsSetupError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value <= 60:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds from 0 to 60")
    return value


def register_dns(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "dns", help="check the senders' DNS (SPF, DKIM, DMARC) for OCI Email Delivery",
        description="Check SPF, DKIM and DMARC of every domain in oci_relay_approved_senders, and "
        "print the records to publish. Exit 0: no error; 1: an error; 2: invalid description.")
    parser.add_argument("file", metavar="FILE",
                        help="relay description (YAML file or group_vars directory)")
    parser.add_argument("--vault-password-file", type=Path, metavar="FILE",
                        help="file holding the password of !vault values (not needed for DNS)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--nameserver", type=_nameserver, metavar="IP[:PORT]",
                        help="ask this server instead of the system's resolver")
    parser.add_argument("--timeout", type=_timeout, default=dns.DEFAULT_TIMEOUT,
                        metavar="SECONDS",
                        help=f"time allowed per query (default {dns.DEFAULT_TIMEOUT:g})")
    parser.set_defaults(run=cmd_dns)
