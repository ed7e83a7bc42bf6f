"""Run podman, always with the project's containers.conf, and turn failures into LabErrors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from typing import Any

from ocilab.errors import LabError
from ocilab.layout import CONTAINERS_CONF


def podman_env() -> dict[str, str]:
    """The environment every podman call gets: the caller's, plus the lab's containers.conf."""
    env = dict(os.environ)
    env["CONTAINERS_CONF"] = str(CONTAINERS_CONF)
    return env


def require_podman() -> str:
    path = shutil.which("podman")
    if path is None:
        raise LabError(
            "podman is not installed: run `python3 tests/lab/labctl.py setup` "
            "(installs podman, runc, debootstrap, nftables and uidmap with apt)"
        )
    return path


def podman(
    *args: str,
    check: bool = True,
    timeout: float = 120,
    stdin: bytes | str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `podman ARGS`; with check, a non-zero exit raises a LabError quoting podman's words."""
    command = [require_podman(), *args]
    try:
        result = subprocess.run(
            command,
            env=podman_env(),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as error:
        raise LabError(f"`podman {' '.join(args)}` did not finish in {timeout:.0f} s") from error
    if check and result.returncode != 0:
        raise LabError(
            f"`podman {' '.join(args)}` failed (exit {result.returncode}): "
            f"{(result.stderr or result.stdout).strip()}"
        )
    return result


def podman_json(*args: str) -> Any:
    return json.loads(podman(*args).stdout or "null")


def exec_in(
    container: str,
    command: Sequence[str],
    *,
    privileged: bool = False,
    check: bool = True,
    timeout: float = 60,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command inside a container: the only way the lab talks to its containers."""
    flags = ["--privileged"] if privileged else []
    if stdin is not None:
        flags.append("--interactive")
    return podman("exec", *flags, container, *command, check=check, timeout=timeout, stdin=stdin)


def container_exists(name: str) -> bool:
    return podman("container", "exists", name, check=False).returncode == 0


def network_exists(name: str) -> bool:
    return podman("network", "exists", name, check=False).returncode == 0


def image_exists(name: str) -> bool:
    return podman("image", "exists", name, check=False).returncode == 0


def labels_of(kind: str, name: str) -> dict[str, str]:
    """Labels of a container, network or image ("container", "network", "image")."""
    data = podman_json(kind, "inspect", name)
    item = data[0] if isinstance(data, list) else data
    if kind == "network":
        return dict(item.get("labels") or {})
    if kind == "container":
        return dict(item.get("Config", {}).get("Labels") or {})
    return dict(item.get("Labels") or {})
