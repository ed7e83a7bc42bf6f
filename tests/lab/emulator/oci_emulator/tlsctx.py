"""The server's TLS contexts: the normal one, and the ones the TLS faults switch to.

Normal: TLS 1.2 or newer, TLS 1.2 suites limited to Oracle's approved list (configurable),
certificate for the region's host name. ``wrong_certificate`` serves the other certificate from
the configuration (another host name, same lab CA). ``tls_max_1_1`` speaks TLS 1.0-1.1 only;
OpenSSL 3 refuses those versions below security level 0, hence ``@SECLEVEL=0``. Were the local
OpenSSL unable to do TLS 1.1 at all, a modern client would still meet a handshake failure,
which is the behaviour the fault is for.
"""

from __future__ import annotations

import ssl
import warnings
from pathlib import Path

from .faults import Faults
from .settings import TLSFiles

LEGACY_CIPHERS = "DEFAULT:@SECLEVEL=0"


class TLSConfigError(ValueError):
    """A certificate or key that cannot be loaded; ``key`` names the configuration key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


class ServerContexts:
    """Builds every context once, at start-up, so a bad file is reported before serving."""

    def __init__(self, files: TLSFiles) -> None:
        self._files = files
        self._contexts: dict[tuple[bool, bool], ssl.SSLContext] = {}
        for wrong in (False, True):
            if wrong and files.wrong_cert is None:
                continue
            for legacy in (False, True):
                self._contexts[(wrong, legacy)] = self._build(wrong, legacy)

    @property
    def has_wrong_certificate(self) -> bool:
        return self._files.wrong_cert is not None

    def for_faults(self, faults: Faults) -> ssl.SSLContext:
        return self._contexts[faults.tls_key()]

    def _build(self, wrong: bool, legacy: bool) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        if legacy:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                context.minimum_version = ssl.TLSVersion.TLSv1
                context.maximum_version = ssl.TLSVersion.TLSv1_1
            context.set_ciphers(LEGACY_CIPHERS)
        else:
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            self._set_ciphers(context)
        cert, key = self._pair(wrong)
        try:
            context.load_cert_chain(str(cert[1]), str(key[1]))
        except (OSError, ssl.SSLError) as error:
            message = f"cannot load {cert[1]} with {key[1]}: {error}"
            raise TLSConfigError(cert[0], message) from error
        return context

    def _set_ciphers(self, context: ssl.SSLContext) -> None:
        try:
            context.set_ciphers(self._files.tls12_ciphers)
        except ssl.SSLError as error:
            raise TLSConfigError("tls.tls12_ciphers", f"OpenSSL refuses it: {error}") from error

    def _pair(self, wrong: bool) -> tuple[tuple[str, Path], tuple[str, Path]]:
        if wrong:
            assert self._files.wrong_cert is not None and self._files.wrong_key is not None
            return (
                ("tls.wrong_cert", self._files.wrong_cert),
                ("tls.wrong_key", self._files.wrong_key),
            )
        return ("tls.cert", self._files.cert), ("tls.key", self._files.key)


def describe(ssl_object: ssl.SSLObject | ssl.SSLSocket | None) -> dict[str, object] | None:
    """TLS version and cipher of a live connection, for logs and the store."""
    if ssl_object is None:
        return None
    cipher = ssl_object.cipher()
    return {
        "version": ssl_object.version(),
        "cipher": cipher[0] if cipher else None,
        "bits": cipher[2] if cipher else None,
    }
