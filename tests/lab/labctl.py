#!/usr/bin/env python3
"""The ocirelay lab: an OCI-shaped Debian instance and an OCI Email Delivery emulator in podman.

    labctl.py setup                         install podman, runc, debootstrap, nftables, uidmap
    labctl.py build [--image SUITE] [--force]   build (or reuse) the lab's images
    labctl.py up [--image SUITE] [--owner NAME]   bring the lab up (builds images when needed)
    labctl.py status [--json]               containers, addresses, network, isolation
    labctl.py check                         isolation checks only; exit 1 if one fails
    labctl.py down [--owner NAME]           remove containers, network and .lab/ (keeps images)
    labctl.py remove-images                 drop the image cache

SUITE is bookworm (default) or trixie: the instance's Debian release. NAME says who uses the lab
(a molecule scenario, a test session): a lab up for one owner is not reused, replaced or torn down
for another; without --owner, down removes whatever lab is there.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent.parent)]  # ocilab, and the ocirelay engine

from ocilab.errors import LabError  # noqa: E402

try:
    from ocilab import images, isolation, lab
    from ocilab.host import ensure_host_packages, require_root
    from ocilab.layout import SUITES
except LabError as bad_setting:  # e.g. an invalid OCIRELAY_LAB_NAME
    sys.exit(f"lab: error: {bad_setting}")


def say(message: str) -> None:
    print(f"lab: {message}", flush=True)


def cmd_setup(_: argparse.Namespace) -> None:
    installed = ensure_host_packages(say)
    say(f"installed {' '.join(installed)}" if installed else "host packages present")


def cmd_build(args: argparse.Namespace) -> None:
    require_root()
    ensure_host_packages(say)
    wanted = images.images_for_lab(args.image) if args.image else images.all_images()
    started = time.monotonic()
    with lab.lab_lock(say):
        built = images.ensure_images(wanted, say, force=args.force)
    say(f"{len(built)} image(s) built, {len(wanted) - len(built)} reused, "
        f"in {time.monotonic() - started:.1f} s")


def cmd_up(args: argparse.Namespace) -> None:
    lab.up(args.image, say, owner=args.owner)


def cmd_down(args: argparse.Namespace) -> None:
    lab.down(say, owner=args.owner)


def print_status(report: dict[str, Any]) -> None:
    net = report["network"]
    if net is None:
        print("network: none (the lab is down)")
    else:
        subnets = ", ".join(f"{s} gw {g}" for s, g in net["subnets"])
        print(f"network: {net['name']} {subnets} bridge {net['interface']} "
              f"internal={net['internal']} dns={net['dns_enabled']}")
    for name, c in report["containers"].items():
        print(f"{name:20} {c['state'] or 'absent':9} {c['ip']:15} {c['mac']} {c['hostname']}")
    state = report["state"]
    if state:
        print(f"lab: {state.get('suite')} instance, owner {state.get('owner') or 'none'}, "
              f"up since {state.get('since', '?')}")
    if "systemd" in report:
        print(f"instance systemd: {report['systemd']}")
    for port, greeting in report.get("from_instance", {}).items():
        print(f"from instance, emulator port {port}: {greeting}")
    for check in report.get("isolation", []):
        print(f"[{'ok' if check['ok'] else 'FAIL'}] {check['name']}: {check['detail']}")
    if "isolated" in report:
        print("isolation: " + ("as expected" if report["isolated"] else "NOT AS EXPECTED"))


def cmd_status(args: argparse.Namespace) -> None:
    require_root()
    report = lab.status()
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_status(report)


def cmd_check(_: argparse.Namespace) -> None:
    require_root()
    checks = lab.check()
    for check in checks:
        print(f"[{'ok' if check.ok else 'FAIL'}] {check.name}: {check.detail}")
    isolation.refuse_unless_isolated(
        checks, "so do not use it: tear it down (labctl.py down) and find out why")
    say("isolation as expected")


def cmd_remove_images(_: argparse.Namespace) -> None:
    require_root()
    images.remove_images(say)


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog="labctl.py", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = main.add_subparsers(dest="command", required=True)
    commands.add_parser("setup", help="install the host packages the lab needs"
                        ).set_defaults(run=cmd_setup)
    build = commands.add_parser("build", help="build the lab's images (cached)")
    build.add_argument("--image", choices=SUITES, help="only what a lab with this suite needs")
    build.add_argument("--force", action="store_true", help="rebuild even if inputs are unchanged")
    build.set_defaults(run=cmd_build)
    up = commands.add_parser("up", help="bring the lab up")
    up.add_argument("--image", choices=SUITES,
                    default=os.environ.get("OCIRELAY_LAB_IMAGE", "bookworm"),
                    help="the instance's Debian release (default bookworm, or $OCIRELAY_LAB_IMAGE)")
    up.add_argument("--owner", help="who uses the lab (e.g. molecule-SCENARIO): another "
                    "owner's lab is neither reused nor replaced")
    up.set_defaults(run=cmd_up)
    status = commands.add_parser("status", help="show the lab's state")
    status.add_argument("--json", action="store_true", help="machine-readable")
    status.set_defaults(run=cmd_status)
    commands.add_parser("check", help="run the isolation checks").set_defaults(run=cmd_check)
    down = commands.add_parser("down", help="tear the lab down")
    down.add_argument("--owner", help="only if the lab is this owner's (or nobody's)")
    down.set_defaults(run=cmd_down)
    commands.add_parser("remove-images", help="remove the lab's image cache"
                        ).set_defaults(run=cmd_remove_images)
    return main


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.run(args)
    except LabError as error:
        print(f"lab: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("lab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `labctl.py status | head`
        sys.stderr.close()
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
