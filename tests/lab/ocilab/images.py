"""Build the lab's images from Debian's packages only: no registry is ever contacted.

A root file system comes from `debootstrap --variant=minbase` and is imported with `podman import`;
each image is a `podman build` on top of it (Containerfiles in tests/lab/images/). Every image
carries a hash of its inputs (Containerfile, package lists, the rootfs' inputs and this file) as the
label INPUTS_LABEL: when the label matches, the build is skipped.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ocilab.errors import LabError
from ocilab.host import require_root
from ocilab.layout import IMAGES_DIR, INPUTS_LABEL, LAB_LABEL, SUITES
from ocilab.podman import image_exists, labels_of, podman, podman_env, podman_json

Say = Callable[[str], None]

MIRROR = os.environ.get("OCIRELAY_LAB_MIRROR", "http://deb.debian.org/debian")
SECURITY_MIRROR = os.environ.get("OCIRELAY_LAB_SECURITY_MIRROR",
                                 "http://deb.debian.org/debian-security")
BUILD_TIMEOUT = 1800


def builder_digest() -> str:
    """Hash of this builder: a change to how images are made invalidates every cached image."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def digest(parts: list[bytes]) -> str:
    hasher = hashlib.sha256()
    for part in parts:
        hasher.update(hashlib.sha256(part).digest())
    return hasher.hexdigest()


@dataclass(frozen=True)
class Rootfs:
    """A minbase Debian root file system, imported as a podman image."""

    suite: str

    @property
    def name(self) -> str:
        return f"localhost/ocirelay-lab-rootfs:{self.suite}"

    def sources_list(self) -> str:
        return (
            f"deb {MIRROR} {self.suite} main\n"
            f"deb {MIRROR} {self.suite}-updates main\n"
            f"deb {SECURITY_MIRROR} {self.suite}-security main\n"
        )

    def inputs_hash(self) -> str:
        recipe = {"suite": self.suite, "variant": "minbase", "mirror": MIRROR,
                  "sources": self.sources_list()}
        return digest([json.dumps(recipe, sort_keys=True).encode(), builder_digest().encode()])


@dataclass(frozen=True)
class Image:
    """An image built with `podman build` from a Containerfile on top of a Rootfs."""

    name: str
    containerfile: str
    package_files: tuple[str, ...]
    rootfs: Rootfs

    def inputs_hash(self) -> str:
        files = [self.containerfile, *self.package_files]
        return digest([
            *(f.encode() + b"\0" + (IMAGES_DIR / f).read_bytes() for f in files),
            self.rootfs.inputs_hash().encode(),
            builder_digest().encode(),
        ])


def instance_image(suite: str) -> Image:
    if suite not in SUITES:
        raise LabError(f"unknown image {suite!r}: choose one of {', '.join(SUITES)}")
    return Image(f"localhost/ocirelay-lab-instance:{suite}", "Containerfile.instance",
                 ("packages-instance.txt", "packages-predownload.txt"), Rootfs(suite))


EMULATOR_IMAGE = Image("localhost/ocirelay-lab-emulator:bookworm", "Containerfile.emulator",
                       ("packages-emulator.txt",), Rootfs("bookworm"))
CLIENT_IMAGE = Image("localhost/ocirelay-lab-client:bookworm", "Containerfile.client",
                     ("packages-client.txt",), Rootfs("bookworm"))


def images_for_lab(suite: str) -> list[Image]:
    """What `up` needs: the instance for the chosen suite, the emulator and the client."""
    return [instance_image(suite), EMULATOR_IMAGE, CLIENT_IMAGE]


def all_images() -> list[Image]:
    return [*(instance_image(suite) for suite in SUITES), EMULATOR_IMAGE, CLIENT_IMAGE]


def built_inputs(name: str) -> str | None:
    """The inputs hash recorded on an existing image, or None when there is no such image."""
    if not image_exists(name):
        return None
    return labels_of("image", name).get(INPUTS_LABEL)


def image_id(name: str) -> str | None:
    if not image_exists(name):
        return None
    return str(podman_json("image", "inspect", name)[0]["Id"])


def remove_replaced(old_id: str | None, name: str) -> None:
    """Drop the image a rebuild replaced, unless a container still uses it."""
    if old_id and old_id != image_id(name):
        podman("rmi", old_id, check=False)


def tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def debootstrap(suite: str, target: Path) -> None:
    command = ["debootstrap", "--variant=minbase", suite, str(target), MIRROR]
    result = subprocess.run(command, capture_output=True, text=True, check=False,
                            timeout=BUILD_TIMEOUT)
    if result.returncode != 0:
        log = target / "debootstrap" / "debootstrap.log"
        details = log.read_text(errors="replace") if log.exists() else result.stdout + result.stderr
        raise LabError(
            f"debootstrap of {suite} from {MIRROR} failed (exit {result.returncode}); is the "
            f"mirror reachable? Set OCIRELAY_LAB_MIRROR to use another one.\n{tail(details)}"
        )


def import_rootfs(source: Path, rootfs: Rootfs) -> None:
    """`tar -C DIR -c . | podman import - NAME`, with the inputs hash as a label."""
    changes = [f"LABEL {INPUTS_LABEL}={rootfs.inputs_hash()}", f"LABEL {LAB_LABEL}=rootfs",
               'CMD ["/bin/bash"]']
    command = ["podman", "import", *(arg for c in changes for arg in ("--change", c)), "-",
               rootfs.name]
    with subprocess.Popen(["tar", "--numeric-owner", "-C", str(source), "-c", "."],
                          stdout=subprocess.PIPE) as tar:
        result = subprocess.run(command, stdin=tar.stdout, env=podman_env(), capture_output=True,
                                text=True, check=False, timeout=BUILD_TIMEOUT)
        if tar.stdout:
            tar.stdout.close()
    if tar.returncode != 0 or result.returncode != 0:
        raise LabError(f"importing {rootfs.name} failed: {tail(result.stderr or result.stdout)}")


def build_rootfs(rootfs: Rootfs, say: Say) -> None:
    require_root()
    if shutil.which("debootstrap") is None:
        raise LabError("debootstrap is missing: run `python3 tests/lab/labctl.py setup`")
    say(f"debootstrap {rootfs.suite} (minbase) from {MIRROR}")
    old_id = image_id(rootfs.name)
    with tempfile.TemporaryDirectory(prefix=f"ocirelay-rootfs-{rootfs.suite}-",
                                     dir="/var/tmp") as work:
        target = Path(work) / "rootfs"
        debootstrap(rootfs.suite, target)
        (target / "etc/apt/sources.list").write_text(rootfs.sources_list())
        import_rootfs(target, rootfs)
    remove_replaced(old_id, rootfs.name)


def ensure_rootfs(rootfs: Rootfs, say: Say, force: bool = False) -> bool:
    """Build the rootfs unless an image with the same inputs exists; True when it was built."""
    if not force and built_inputs(rootfs.name) == rootfs.inputs_hash():
        return False
    started = time.monotonic()
    build_rootfs(rootfs, say)
    say(f"built {rootfs.name} in {time.monotonic() - started:.1f} s")
    return True


def build_image(image: Image, say: Say) -> None:
    say(f"podman build {image.name} ({image.containerfile})")
    old_id = image_id(image.name)
    result = podman(
        "build", "--network", "host", "--pull=never", "--layers=false",
        "--build-arg", f"BASE={image.rootfs.name}",
        "--label", f"{INPUTS_LABEL}={image.inputs_hash()}",
        "--label", f"{LAB_LABEL}=image",
        "--file", str(IMAGES_DIR / image.containerfile),
        "--tag", image.name,
        str(IMAGES_DIR),
        check=False, timeout=BUILD_TIMEOUT,
    )
    if result.returncode != 0:
        raise LabError(f"building {image.name} failed (exit {result.returncode}):\n"
                       f"{tail(result.stdout + result.stderr)}")
    remove_replaced(old_id, image.name)


def ensure_image(image: Image, say: Say, force: bool = False,
                 ready_rootfs: set[str] | None = None) -> bool:
    """Build the image unless one with the same inputs exists; True when it was built.

    The rootfs is only needed (and built) when the image itself must be built; with force, each
    rootfs is rebuilt once per run (ready_rootfs remembers which are done).
    """
    if not force and built_inputs(image.name) == image.inputs_hash():
        say(f"{image.name}: up to date (inputs unchanged)")
        return False
    ready = ready_rootfs if ready_rootfs is not None else set()
    if image.rootfs.name not in ready:
        ensure_rootfs(image.rootfs, say, force=force)
        ready.add(image.rootfs.name)
    started = time.monotonic()
    build_image(image, say)
    say(f"built {image.name} in {time.monotonic() - started:.1f} s")
    return True


def ensure_images(images: list[Image], say: Say, force: bool = False) -> list[str]:
    """Ensure every image exists and is current; return the names that were built."""
    ready_rootfs: set[str] = set()
    return [image.name for image in images
            if ensure_image(image, say, force=force, ready_rootfs=ready_rootfs)]


def remove_images(say: Say) -> None:
    """Remove every lab image (the cache), e.g. to time a first build.

    An image a container still uses is kept (and said so): never --force, which would remove
    somebody's container with it.
    """
    names = [image.name for image in all_images()] + [Rootfs(s).name for s in SUITES]
    for name in names:
        if not image_exists(name):
            continue
        result = podman("rmi", name, check=False)
        say(f"removed {name}" if result.returncode == 0
            else f"kept {name}: {result.stderr.strip()}")
