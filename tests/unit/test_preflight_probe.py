"""The preflight probe (ocirelay/smtp_probe.py), run exactly as the roles run it on a host
(`python3 -I -c SOURCE ARGS`, credentials on stdin), against a local SMTP server on 127.0.0.1
that behaves like OCI's endpoint; and the verdicts ocirelay/preflight.py makes of it."""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from relay_samples import AWKWARD_PASSWORD

from ocirelay import host_scripts, preflight

USER = "ocid1.user.oc1..aaaaprobe@ocid1.tenancy.oc1..bbbbprobe.ab.com"


@dataclass(frozen=True)
class Pki:
    ca: Path
    other_ca: Path
    cert: Path
    key: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _make_ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(common_name))
            .issuer_name(_name(common_name)).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                         crl_sign=True, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False,
                                         decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA, a certificate for `localhost` signed by it, and an unrelated CA."""
    directory = tmp_path_factory.mktemp("pki")
    ca_key, ca_cert = _make_ca("probe test CA")
    _, other_cert = _make_ca("someone else's CA")
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name("localhost"))
            .issuer_name(ca_cert.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = Pki(directory / "ca.pem", directory / "other-ca.pem", directory / "cert.pem",
                directory / "key.pem")
    paths.ca.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    paths.other_ca.write_bytes(other_cert.public_bytes(serialization.Encoding.PEM))
    paths.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths.key.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                            serialization.PrivateFormat.PKCS8,
                                            serialization.NoEncryption()))
    return paths


class Handler:
    """Accepts nothing: the probe must never send a message."""

    def __init__(self) -> None:
        self.mail_from: list[str] = []

    async def handle_MAIL(self, server: Any, session: Any, envelope: Any, address: str,
                          options: list[str]) -> str:
        self.mail_from.append(address)
        return "550 the probe must not send mail"


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str,
                  auth_data: Any) -> AuthResult:
    ok = (mechanism == "PLAIN" and isinstance(auth_data, LoginPassword)
          and auth_data.login.decode() == USER and auth_data.password.decode() == AWKWARD_PASSWORD)
    return AuthResult(success=ok, handled=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Endpoint:
    port: int
    handler: Handler


def serve(pki: Pki, *, wrapper: bool = False, starttls: bool = True) -> Iterator[Endpoint]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(pki.cert, pki.key)
    handler = Handler()
    port = free_port()
    options: dict[str, Any] = {"authenticator": authenticator, "auth_require_tls": True,
                               "auth_exclude_mechanism": ["LOGIN"]}
    if wrapper:
        # aiosmtpd only counts STARTTLS as TLS for auth_require_tls; the socket is TLS anyway.
        options.update(ssl_context=context, auth_require_tls=False)
    elif starttls:
        options.update(tls_context=context, require_starttls=True)
    else:
        options["auth_require_tls"] = False
    controller = Controller(handler, hostname="127.0.0.1", port=port,
                            server_hostname="localhost", **options)
    controller.start()
    try:
        yield Endpoint(port, handler)
    finally:
        controller.stop()


@pytest.fixture
def endpoint(pki: Pki) -> Iterator[Endpoint]:
    yield from serve(pki)


@pytest.fixture
def wrapper_endpoint(pki: Pki) -> Iterator[Endpoint]:
    yield from serve(pki, wrapper=True)


@pytest.fixture
def stripped_endpoint(pki: Pki) -> Iterator[Endpoint]:
    yield from serve(pki, starttls=False)


def probe(port: int, *, ca: Path | None, password: str = AWKWARD_PASSWORD,
          level: str = "secure", wrapper: bool = False, default_ca: bool = False
          ) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    """Run the probe like the roles do; 465 is what makes it use TLS from the first byte, so a
    wrapper-mode test serves on a random port and passes it as --port after a --wrapper hack."""
    source = host_scripts.source("smtp_probe")
    if wrapper:
        # The probe picks wrapper mode for port 465; test servers cannot bind it unprivileged
        # in every sandbox, so the test rewrites that one comparison.
        source = source.replace("wrapper = args.port == 465", f"wrapper = args.port == {port}")
    argv = [sys.executable, "-I", "-c", source, "--host", "localhost", "--port", str(port),
            "--tls-level", level, "--timeout", "10"]
    if ca is not None:
        argv += ["--ca-file", str(ca)]
    if default_ca:
        argv.append("--ca-file-is-default")
    result = subprocess.run(argv, input=json.dumps({"username": USER, "password": password}),
                            capture_output=True, text=True, timeout=60, check=False)
    assert password not in result.stdout + result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout), result


def test_login_with_starttls_verified_certificate_and_auth_plain(endpoint: Endpoint,
                                                                 pki: Pki) -> None:
    report, result = probe(endpoint.port, ca=pki.ca)
    assert result.returncode == 0 and report["ok"], report
    assert report["tls_version"] in ("TLSv1.2", "TLSv1.3")
    assert report["certificate_verified"] is True
    assert "PLAIN" in report["auth_mechanisms"]
    assert report["starttls_offered"] is True
    assert endpoint.handler.mail_from == [], "the probe sent MAIL FROM"
    verdict = preflight.verdict(report)
    assert verdict.ok and "AUTH PLAIN accepted" in verdict.summary and "no mail sent" in \
        verdict.summary


def test_wrong_password_is_explained_as_the_console_password(endpoint: Endpoint,
                                                             pki: Pki) -> None:
    report, result = probe(endpoint.port, ca=pki.ca, password="my-console-password")
    assert result.returncode == 1 and not report["ok"]
    assert (report["stage"], report["code"]) == ("auth", 535)
    verdict = preflight.verdict(report)
    assert not verdict.ok
    assert "535" in verdict.message and "console password" in verdict.message
    assert "my-console-password" not in json.dumps(verdict.as_dict())


def test_certificate_from_another_ca_stops_before_the_password_is_sent(endpoint: Endpoint,
                                                                       pki: Pki) -> None:
    report, _ = probe(endpoint.port, ca=pki.other_ca)
    assert report["kind"] == "tls_verify_failed" and report["stage"] == "starttls"
    assert "certificate" in preflight.verdict(report).message


def test_encrypt_level_does_not_verify_but_says_so(endpoint: Endpoint, pki: Pki) -> None:
    report, _ = probe(endpoint.port, ca=pki.other_ca, level="encrypt")
    assert report["ok"] and report["certificate_verified"] is False
    assert "NOT verified" in preflight.verdict(report).summary


def test_tls_from_the_first_byte_for_port_465(wrapper_endpoint: Endpoint, pki: Pki) -> None:
    report, _ = probe(wrapper_endpoint.port, ca=pki.ca, wrapper=True)
    assert report["ok"], report
    assert "starttls_offered" not in report


def test_stripped_starttls_is_refused(stripped_endpoint: Endpoint, pki: Pki) -> None:
    report, _ = probe(stripped_endpoint.port, ca=pki.ca)
    assert report["kind"] == "starttls_missing"
    assert "strips it" in preflight.verdict(report).message


def test_nothing_listening(pki: Pki) -> None:
    report, _ = probe(free_port(), ca=pki.ca)
    assert report["kind"] == "refused" and report["stage"] == "connect"


def test_a_named_ca_file_must_exist(endpoint: Endpoint, tmp_path: Path) -> None:
    report, _ = probe(endpoint.port, ca=tmp_path / "missing.pem")
    assert report["kind"] == "ca_missing"
    assert "does not exist on the host" in preflight.verdict(report).message


def test_a_missing_os_bundle_falls_back_to_openssl_defaults(endpoint: Endpoint,
                                                            tmp_path: Path) -> None:
    report, _ = probe(endpoint.port, ca=tmp_path / "missing.pem", default_ca=True)
    # The test CA is not in OpenSSL's default store: the fallback was used, and verified.
    assert report["kind"] == "tls_verify_failed"
    assert "default paths" in report["trust"]


def test_no_credentials_on_stdin() -> None:
    result = subprocess.run([sys.executable, "-I", "-c", host_scripts.source("smtp_probe"),
                             "--host", "localhost", "--port", "587"], input="",
                            capture_output=True, text=True, check=False, timeout=30)
    assert result.returncode == 1 and json.loads(result.stdout)["kind"] == "no_credentials"


def test_size_above_the_endpoints_is_a_warning() -> None:
    report = {"ok": True, "host": "h", "port": 587, "size": 1000, "tls_version": "TLSv1.3",
              "certificate_verified": True}
    verdict = preflight.verdict(report, message_size_limit=2000)
    assert verdict.ok and "oci_relay_message_size_limit: 1000" in verdict.warnings[0]


def test_timeout_on_port_25_names_the_block() -> None:
    report = {"ok": False, "host": "h", "port": 25, "stage": "connect", "kind": "timeout",
              "detail": "no answer"}
    assert "port 25 is blocked" in preflight.verdict(report).message


def test_garbage_is_reported_not_raised() -> None:
    verdict = preflight.verdict("Traceback (most recent call last): ...")
    assert not verdict.ok and "no JSON" in verdict.message
