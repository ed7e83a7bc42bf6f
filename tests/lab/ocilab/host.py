"""Make sure the host has what the lab needs; install it with apt when missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable

from ocilab.errors import LabError

# Debian package -> a command it provides (checked before asking dpkg, which is slower).
HOST_PACKAGES: dict[str, str] = {
    "podman": "podman",
    "runc": "runc",
    "netavark": "/usr/lib/podman/netavark",
    "debootstrap": "debootstrap",
    "nftables": "nft",
    "uidmap": "newuidmap",
    "openssl": "openssl",
    "iproute2": "ip",
}


def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("the lab runs rootful podman, debootstrap and nftables: run it as root")


def is_installed(package: str, command: str) -> bool:
    if shutil.which(command) or os.path.exists(command):
        return True
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() == "install ok installed"


def missing_packages() -> list[str]:
    return [package for package, command in HOST_PACKAGES.items()
            if not is_installed(package, command)]


def apt_get(*args: str) -> None:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    result = subprocess.run(["apt-get", *args], env=env, capture_output=True, text=True,
                            check=False, timeout=900)
    if result.returncode != 0:
        tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
        raise LabError(f"`apt-get {' '.join(args)}` failed (exit {result.returncode}):\n{tail}")


def ensure_host_packages(say: Callable[[str], None] = print) -> list[str]:
    """Install the host packages the lab needs, non-interactively; return what was installed."""
    missing = missing_packages()
    if not missing:
        return []
    require_root()
    if shutil.which("apt-get") is None:
        raise LabError(f"missing {', '.join(missing)} and apt-get is not available: "
                       "install them with the system's package manager")
    say(f"installing host packages: {' '.join(missing)}")
    try:
        apt_get("update")
    except LabError as error:
        # A third-party source failing to refresh must not stop Debian's own packages.
        say(f"warning: {error}")
    apt_get("install", "-y", "--no-install-recommends", *missing)
    still_missing = missing_packages()
    if still_missing:
        raise LabError(f"apt-get finished but {', '.join(still_missing)} still missing")
    return missing
