"""``python3 -m oci_emulator --config FILE``: run the OCI Email Delivery emulator.

This is an emulator following Oracle's documented behaviour, not Oracle's service.
Exit status: 0 after SIGTERM/SIGINT, 2 for an invalid configuration (the message names the
key at fault), 1 if the emulator cannot start (a port already in use, for example).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path

from . import logs
from .emulator import Emulator
from .settings import SettingsError, load
from .tlsctx import TLSConfigError

EXIT_CONFIG = 2
EXIT_START = 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m oci_emulator",
        description="Emulator of the OCI Email Delivery SMTP endpoint (not Oracle's service).",
    )
    parser.add_argument("--config", required=True, type=Path, help="the emulator's YAML file")
    parser.add_argument("--check", action="store_true",
                        help="check the configuration and its TLS files, then exit")
    args = parser.parse_args(argv)
    try:
        settings = load(args.config)
        logs.setup(settings.log_level)
        emulator = Emulator(settings)
    except (SettingsError, TLSConfigError) as error:
        print(f"oci_emulator: {args.config}: {error}", file=sys.stderr)
        return EXIT_CONFIG
    if args.check:
        print(f"oci_emulator: {args.config}: ok")
        return 0
    try:
        asyncio.run(_serve(emulator))
    except OSError as error:
        print(f"oci_emulator: cannot start: {error}", file=sys.stderr)
        return EXIT_START
    return 0


async def _serve(emulator: Emulator) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await emulator.start()
    try:
        await stop.wait()
    finally:
        await emulator.stop()


if __name__ == "__main__":
    sys.exit(main())
