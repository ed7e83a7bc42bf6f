"""`ocirelay render-hestia`: the Exim side of a HestiaCP host, as the hestia_relay role writes it.

    ocirelay render-hestia relay.yml                       the four marked blocks, on stdout
    ocirelay render-hestia relay.yml --template T --out D  D/exim4.conf.template (T with the
                                                           blocks) and D/smtp_relay.conf (0600)
    ocirelay render-hestia relay.yml --template T --remove --out D   T without the blocks

Exit codes as the other commands: 0 done, 2 invalid description (or one Exim cannot send) or a
template the blocks do not fit, 1 anything else.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ocirelay import render_exim
from ocirelay.problems import Problem, errors
from ocirelay.render import RenderedFile

EXIT_OK, EXIT_FAILURE, EXIT_INVALID = 0, 1, 2


def _print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        print(problem.as_text(), file=sys.stderr)


def cmd_render_hestia(args: argparse.Namespace) -> int:
    from ocirelay.cli import load_config, write_files

    config, problems = load_config(args)
    if config is not None:
        problems = problems + render_exim.exim_problems(config)
    _print_problems(problems)
    if config is None or errors(problems):
        print(f"{args.file}: cannot be used on a HestiaCP (Exim) host; nothing was written.",
              file=sys.stderr)
        return EXIT_INVALID
    blocks = render_exim.render_blocks(config, render_exim.EximTarget(args.os_family))
    if args.template is None:
        if args.out or args.remove:
            print("error: --out and --remove need --template", file=sys.stderr)
            return EXIT_INVALID
        print("".join(f"{blocks[part]}\n" for part in render_exim.PARTS), end="")
        return EXIT_OK
    try:
        text = Path(args.template).read_text(encoding="utf-8")
        result = (render_exim.remove_blocks(text) if args.remove
                  else render_exim.apply_blocks(text, blocks))
    except render_exim.TemplateError as exc:
        print(f"error: {args.template}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as exc:
        print(f"error: cannot read {args.template}: {exc.strerror}", file=sys.stderr)
        return EXIT_FAILURE
    if args.out is None:
        sys.stdout.write(result)
        return EXIT_OK
    files: dict[str, object] = {"exim4.conf.template": RenderedFile(result, "0644")}
    if not args.remove:
        relay = render_exim.render_smtp_relay_conf(config)
        # Written 0600 here (the role installs it 0640 root:Debian-exim on the host).
        files["smtp_relay.conf"] = RenderedFile(relay.content, "0600", secret=True)
    try:
        written = write_files(Path(args.out).resolve(), files)
    except OSError as exc:
        print(f"error: cannot write to {args.out}: {exc.strerror}", file=sys.stderr)
        return EXIT_FAILURE
    for entry in written:
        print(f"{entry['mode']} {entry['path']}")
    if not args.remove:
        print("Check with Exim on the host: update-exim4.conf --check after installing the "
              "template; next steps:")
        for step in render_exim.next_steps(config):
            print(f"- {step}")
    return EXIT_OK


def register_hestia(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "render-hestia", help="the Exim blocks and smtp_relay.conf of a HestiaCP host",
        description="Render what the hestia_relay role puts on a HestiaCP host: the four marked "
        "blocks of /etc/exim4/exim4.conf.template and Hestia's smtp_relay.conf.")
    parser.add_argument("file", metavar="FILE",
                        help="relay description (YAML file or group_vars directory)")
    parser.add_argument("--vault-password-file", type=Path, metavar="FILE",
                        help="file holding the password of !vault values")
    parser.add_argument("--template", metavar="FILE",
                        help="a copy of the host's exim4.conf.template to put the blocks into")
    parser.add_argument("--remove", action="store_true",
                        help="take the blocks out of --template instead")
    parser.add_argument("--out", metavar="DIR", help="write the files into DIR")
    parser.add_argument("--os-family", default="Debian", choices=["Debian", "RedHat"],
                        help="OS family of the host (CA bundle path)")
    parser.set_defaults(run=cmd_render_hestia)
