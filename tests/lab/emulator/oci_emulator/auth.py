"""AUTH PLAIN (RFC 4616): decoding the client's response and checking it.

Nothing here logs or returns the password; ``PlainResponse`` keeps it out of its repr.
"""

from __future__ import annotations

import binascii
import hmac
from base64 import b64decode
from collections.abc import Sequence
from dataclasses import dataclass, field

from . import replies
from .settings import Credential


class PlainError(ValueError):
    """A malformed PLAIN response; ``reply`` is Oracle's 501 for it."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.reply = reply


@dataclass(frozen=True)
class PlainResponse:
    authzid: bytes
    login: bytes
    password: bytes = field(repr=False)

    @property
    def login_name(self) -> str:
        return self.login.decode("utf-8", errors="replace")


def decode_base64(text: str) -> bytes:
    """Strict base64 ("=" alone is the empty response, RFC 4954)."""
    if text == "=":
        return b""
    try:
        return b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as error:
        raise PlainError(replies.NOT_BASE64) from error


def split_plain(blob: bytes) -> PlainResponse:
    """authzid NUL login NUL password, with Oracle's texts for a missing NUL."""
    nuls = blob.count(b"\x00")
    if nuls == 0:
        raise PlainError(replies.NO_NUL)
    if nuls == 1:
        raise PlainError(replies.NO_SECOND_NUL)
    authzid, login, password = blob.split(b"\x00", 2)
    return PlainResponse(authzid, login, password)


def verify(response: PlainResponse, credentials: Sequence[Credential]) -> bool:
    """True if login and password match one configured credential (constant-time compare)."""
    matched = False
    for credential in credentials:
        login_ok = hmac.compare_digest(response.login, credential.username.encode())
        password_ok = hmac.compare_digest(response.password, credential.password.encode())
        matched |= login_ok and password_ok
    return matched
