"""What the emulator reads from a message at the end of DATA: its headers, nothing more."""

from __future__ import annotations

from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from email.utils import getaddresses

from . import replies

MAX_HEADER_BYTES = 256 * 1024  # Oracle: "header is larger than 256 KB" is a parse error


class MessageParseError(ValueError):
    reply = replies.PARSE_ERROR


@dataclass(frozen=True)
class Headers:
    from_addresses: tuple[str, ...]
    subject: str | None
    message_id: str | None


def header_block(raw: bytes) -> bytes:
    """The bytes before the first empty line (all of them if there is none)."""
    ends = [index for index in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if index >= 0]
    return raw[: min(ends)] if ends else raw


def read_headers(raw: bytes) -> Headers:
    """Parse the header section; MessageParseError when Oracle would answer 554."""
    if len(header_block(raw)) > MAX_HEADER_BYTES:
        raise MessageParseError("header section over 256 KB")
    message = BytesParser(policy=policy.compat32).parsebytes(raw, headersonly=True)
    if not message.keys():
        raise MessageParseError("no headers")
    pairs = getaddresses([str(value) for value in message.get_all("From", [])])
    return Headers(
        from_addresses=tuple(address for _name, address in pairs),
        subject=_text(message.get("Subject")),
        message_id=_text(message.get("Message-ID")),
    )


def _text(value: object) -> str | None:
    return None if value is None else str(value)
