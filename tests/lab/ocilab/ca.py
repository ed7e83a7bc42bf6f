"""The lab CA: a throw-away CA made with openssl for each lab, and the emulator's certificates.

- server: for the region's SMTP host name (plus any alias), the certificate a correct client
  accepts;
- wrong: signed by the same CA for another name, for the emulator's wrong-certificate fault (only
  the name is wrong, so a client that fails must be checking the name).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ocilab.errors import LabError

WRONG_NAME = "wrong-name.lab.internal"
DAYS = "30"


@dataclass(frozen=True)
class LabCA:
    directory: Path

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    def cert(self, name: str) -> Path:
        return self.directory / f"{name}.crt"

    def key(self, name: str) -> Path:
        return self.directory / f"{name}.key"


def openssl(*args: str) -> None:
    if shutil.which("openssl") is None:
        raise LabError("openssl is missing: run `python3 tests/lab/labctl.py setup`")
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False,
                            timeout=60)
    if result.returncode != 0:
        raise LabError(f"`openssl {args[0]}` failed: {result.stderr.strip()}")


def make_ca(ca: LabCA) -> None:
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", DAYS,
        "-keyout", str(ca.ca_key), "-out", str(ca.ca_cert),
        "-subj", "/O=ocirelay lab/CN=ocirelay lab CA (test only)",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )


def issue(ca: LabCA, label: str, names: list[str]) -> None:
    """A server certificate for names (the first is the CN), signed by the lab CA."""
    csr = ca.directory / f"{label}.csr"
    extensions = ca.directory / f"{label}.ext"
    extensions.write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        f"subjectAltName={','.join(f'DNS:{name}' for name in names)}\n"
    )
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca.key(label)),
            "-out", str(csr), "-subj", f"/CN={names[0]}")
    openssl("x509", "-req", "-in", str(csr), "-CA", str(ca.ca_cert), "-CAkey", str(ca.ca_key),
            "-CAcreateserial", "-days", DAYS, "-extfile", str(extensions),
            "-out", str(ca.cert(label)))
    csr.unlink()
    extensions.unlink()


def make_lab_ca(directory: Path, server_names: list[str]) -> LabCA:
    """Create the CA, the server certificate for server_names and the wrong-name certificate."""
    directory.mkdir(parents=True, exist_ok=True)
    ca = LabCA(directory)
    make_ca(ca)
    issue(ca, "server", server_names)
    issue(ca, "wrong", [WRONG_NAME])
    for key in directory.glob("*.key"):
        key.chmod(0o600)
    return ca
