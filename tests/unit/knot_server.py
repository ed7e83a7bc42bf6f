"""A real authoritative DNS server for the tests: Knot DNS (`knotd`) on 127.0.0.1, a free port,
with zone files the tests write. Debian/Ubuntu: `apt-get install knot`.

Zones are given as records relative to their origin (`Record`), so one case can be served under
several names (e.g. `nospf.test` and `fix-nospf.test`, the latter rewritten by a test).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

START_TIMEOUT = 15.0
INSTALL_HINT = ("knotd (Knot DNS) is needed by the DNS tests and was not found: install it "
                "with `apt-get install knot` (the project's .ci/run does)")


@dataclass(frozen=True)
class Record:
    """One zone-file record; `owner` is relative to the origin unless it ends with a dot."""

    owner: str
    rdtype: str
    rdata: str

    def line(self) -> str:
        return f"{self.owner} 3600 IN {self.rdtype} {self.rdata}"

    def absolute_owner(self, origin: str) -> str:
        if self.owner == "@":
            return f"{origin}."
        return self.owner if self.owner.endswith(".") else f"{self.owner}.{origin}."

    def matches(self, origin: str, line: str) -> bool:
        """Whether the absolute zone-file `line` (name ttl IN type rdata) is this record."""
        name, _ttl, _cls, rdtype, rdata = line.split(None, 4)
        if name.lower() != self.absolute_owner(origin).lower() or rdtype != self.rdtype:
            return False
        base = dns.name.from_text(origin)
        ours = dns.rdata.from_text("IN", self.rdtype, self.rdata, origin=base, relativize=False)
        theirs = dns.rdata.from_text("IN", rdtype, rdata, origin=dns.name.root,
                                     relativize=False)
        return ours == theirs


def soa(serial: int) -> list[str]:
    return [f"@ 3600 IN SOA ns hostmaster {serial} 3600 600 86400 300", "@ 3600 IN NS ns",
            "ns 3600 IN A 127.0.0.1"]


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return int(port)
    raise RuntimeError("no free port on 127.0.0.1")


def knotd_binary() -> str:
    found = shutil.which("knotd") or shutil.which("knotd", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    return found


class Knot:
    """knotd serving `zones` from `workdir`; start() waits until every zone answers."""

    def __init__(self, workdir: Path, zones: dict[str, list[str]],
                 configured_only: Iterable[str] = ()) -> None:
        self.workdir = workdir
        self.zones = dict(zones)
        self.configured_only = list(configured_only)  # configured without a file: SERVFAIL
        self.port = free_port()
        self.serials = dict.fromkeys(self.zones, 1)
        self.process: subprocess.Popen[bytes] | None = None
        self.log = workdir / "knotd.log"

    @property
    def address(self) -> tuple[str, int]:
        return "127.0.0.1", self.port

    @property
    def socket_path(self) -> Path:
        return self.workdir / "run" / "knot.sock"

    def zone_path(self, origin: str) -> Path:
        return self.workdir / "zones" / f"{origin}.zone"

    def write_config(self) -> Path:
        for sub in ("run", "storage", "zones"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        zones = "".join(f"  - domain: {origin}\n"
                        for origin in [*self.zones, *self.configured_only])
        config = self.workdir / "knot.conf"
        config.write_text(
            "server:\n"
            f"    rundir: \"{self.workdir / 'run'}\"\n"
            f"    listen: 127.0.0.1@{self.port}\n"
            "database:\n"
            f"    storage: \"{self.workdir / 'storage'}\"\n"
            "control:\n"
            f"    listen: \"{self.socket_path}\"\n"
            "log:\n"
            "  - target: stderr\n"
            "    any: info\n"
            "template:\n"
            "  - id: default\n"
            f"    storage: \"{self.workdir / 'zones'}\"\n"
            "    file: \"%s.zone\"\n"
            "    zonefile-sync: -1\n"
            "    zonefile-load: whole\n"
            "    journal-content: none\n"
            "zone:\n" + zones, encoding="utf-8")
        return config

    def write_zone(self, origin: str, lines: list[str]) -> None:
        text = "\n".join([f"$ORIGIN {origin}.", *soa(self.serials[origin]), *lines, ""])
        self.zone_path(origin).write_text(text, encoding="utf-8")

    def start(self) -> None:
        config = self.write_config()
        for origin, lines in self.zones.items():
            self.write_zone(origin, lines)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen([knotd_binary(), "-c", str(config)],
                                            stdout=log, stderr=subprocess.STDOUT)
        self.wait_for(lambda: all(self.serial(origin) == self.serials[origin]
                                  for origin in self.zones), "every zone to load")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def serial(self, origin: str) -> int | None:
        """The SOA serial the server answers for `origin` with authority, or None."""
        query = dns.message.make_query(f"{origin}.", "SOA")
        try:
            response = dns.query.udp(query, "127.0.0.1", port=self.port, timeout=0.5)
        except (dns.exception.DNSException, OSError):
            return None
        if response.rcode() != dns.rcode.NOERROR or not response.flags & dns.flags.AA \
                or not response.answer:
            return None
        return int(response.answer[0][0].serial)  # type: ignore[attr-defined]

    def wait_for(self, condition: object, what: str) -> None:
        """Poll `condition` until it holds; fail with knotd's log when it does not in time."""
        deadline = time.monotonic() + START_TIMEOUT
        pause = threading.Event()
        while not condition():  # type: ignore[operator]
            if self.process is not None and self.process.poll() is not None:
                pytest.fail(f"knotd exited ({self.process.returncode}) while waiting for "
                            f"{what}:\n{self.log.read_text(errors='replace')}", pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"knotd: timed out waiting for {what}:\n"
                            f"{self.log.read_text(errors='replace')}", pytrace=False)
            pause.wait(0.02)  # poll interval between checks of the condition

    def replace_zone(self, origin: str, lines: list[str]) -> None:
        """Rewrite a zone's file with a higher serial, reload it, wait until it is served."""
        self.serials[origin] += 1
        self.write_zone(origin, lines)
        control = [knotd_binary().replace("knotd", "knotc"), "-s", str(self.socket_path)]
        done = subprocess.run([*control, "-b", "zone-reload", origin], capture_output=True,
                              text=True, timeout=30, check=False)
        assert done.returncode == 0, f"knotc zone-reload failed: {done.stdout}{done.stderr}"
        self.wait_for(lambda: self.serial(origin) == self.serials[origin],
                      f"{origin} to be served with serial {self.serials[origin]}")


@dataclass
class SilentServer:
    """A UDP socket on loopback that receives queries and never answers (a dead name server)."""

    sock: socket.socket

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()
        return str(host), int(port)


def silent_server() -> Iterator[SilentServer]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield SilentServer(sock)
