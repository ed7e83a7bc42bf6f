"""The `ocirelay` command: argument parsing and output only; the work is in the engine modules.

Exit codes: 0 success, 2 invalid description or usage, 1 any other failure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from ocirelay import regions
from ocirelay.config import RelayConfig, validate
from ocirelay.dns_command import register_dns
from ocirelay.explain_command import register_explain
from ocirelay.hestia_command import register_hestia
from ocirelay.loading import read_description
from ocirelay.problems import Problem, errors
from ocirelay.render import PostfixTarget, RenderError, render_postfix

EXIT_OK, EXIT_FAILURE, EXIT_INVALID = 0, 1, 2


def print_problems(problems: list[Problem], as_json: bool, **extra: object) -> None:
    if as_json:
        print(json.dumps({"valid": not errors(problems), **extra,
                          "problems": [p.as_dict() for p in problems]}, indent=2))
        return
    for problem in problems:
        print(problem.as_text(), file=sys.stderr)


def load_config(args: argparse.Namespace) -> tuple[RelayConfig | None, list[Problem]]:
    loaded = read_description(Path(args.file), args.vault_password_file)
    if errors(loaded.problems):
        return None, loaded.problems
    validated = validate(loaded.values)
    return validated.config, loaded.problems + validated.problems


def cmd_validate(args: argparse.Namespace) -> int:
    config, problems = load_config(args)
    print_problems(problems, args.json)
    if config is None:
        if not args.json:
            print(f"{args.file}: {len(errors(problems))} error(s); nothing was changed.",
                  file=sys.stderr)
        return EXIT_INVALID
    if not args.json:
        print(f"{args.file}: valid ({config.region.name}, {config.relayhost}, "
              f"{len(config.approved_senders)} approved sender(s))")
    return EXIT_OK


def write_files(out: Path, files: dict[str, object]) -> list[dict[str, str]]:
    """Write rendered files with their modes; secrets are created 0600 from the first byte."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rendered in files.items():
        path = out / name
        mode = int(rendered.mode, 8)  # type: ignore[attr-defined]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(rendered.content)  # type: ignore[attr-defined]
        os.chmod(path, mode)
        written.append({"path": str(path), "mode": rendered.mode,  # type: ignore[attr-defined]
                        "sha256": hashlib.sha256(
                            rendered.content.encode()).hexdigest()})  # type: ignore[attr-defined]
    return written


def cmd_render(args: argparse.Namespace) -> int:
    config, problems = load_config(args)
    if config is None:
        print_problems(problems, args.json)
        return EXIT_INVALID
    try:
        target = PostfixTarget.parse(args.postfix_version, args.os_family)
        files = render_postfix(config, target)
        # Absolute: `postfix -c DIR check` fails without a word on a relative DIR.
        out = Path(args.out).resolve()
        written = write_files(out, files)
    except (RenderError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID if isinstance(exc, ValueError) else EXIT_FAILURE
    except OSError as exc:
        print(f"error: cannot write to {args.out}: {exc.strerror}", file=sys.stderr)
        return EXIT_FAILURE
    if args.json:
        print_problems(problems, True, files=written)
    else:
        print_problems(problems, False)
        for entry in written:
            print(f"{entry['mode']} {entry['path']}")
        print(f"Check with Postfix: postmap -c {out} {config.map_type}:{out}/oci_sasl_passwd && "
              f"postfix -c {out} check")
    return EXIT_OK


def cmd_regions(args: argparse.Namespace) -> int:
    rows = [{"region": r.name, "key": r.key, "realm": r.realm, "smtp_host": r.smtp_host}
            for r in regions.all_regions()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    width = max(len(row["region"]) for row in rows)
    for row in rows:
        print(f"{row['region']:<{width}}  {row['key']:<4} {row['realm']:<5} {row['smtp_host']}")
    return EXIT_OK


def _add_description_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE",
                        help="relay description (YAML file or group_vars directory)")
    parser.add_argument("--vault-password-file", type=Path, metavar="FILE",
                        help="file holding the password of !vault values")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ocirelay",
        description="Validate, render and check a relay through OCI Email Delivery.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check a relay description; report every problem")
    _add_description_args(p)
    p.set_defaults(run=cmd_validate)

    p = sub.add_parser("render", help="write the Postfix files of the relay to a directory")
    _add_description_args(p)
    p.add_argument("--out", required=True, metavar="DIR", help="directory to write into")
    p.add_argument("--postfix-version", default="3.7", metavar="X.Y",
                   help="Postfix version of the target host (default 3.7, Debian 12)")
    p.add_argument("--os-family", default="Debian", choices=["Debian", "RedHat"],
                   help="OS family of the target host (CA bundle path)")
    p.set_defaults(run=cmd_render)

    p = sub.add_parser("regions", help="list OCI regions and their Email Delivery endpoints")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=cmd_regions)

    for register in EXTRA_COMMANDS:
        register(sub)
    return parser


# Further subcommands (dns, ...) register here: each adds its parser with set_defaults(run=...).
EXTRA_COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = []
EXTRA_COMMANDS.append(register_dns)
EXTRA_COMMANDS.append(register_hestia)
EXTRA_COMMANDS.append(register_explain)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
