"""Fault switches: what they are, their defaults, and how a change is validated.

Switches are booleans; the other fields parameterise them (which 421/451 reply a throttled
endpoint sends and when, how slow a slow endpoint is). A change is validated as a whole and
either applied entirely or refused with the key at fault.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import replies

SWITCHES = (
    "down",
    "throttled",
    "starttls_stripped",
    "wrong_certificate",
    "tls_max_1_1",
    "slow",
)
THROTTLED_CODES = (421, 451)
THROTTLED_AT = ("connect", "mail")
MAX_SLOW_SECONDS = 3600.0


class FaultError(ValueError):
    """A fault change that cannot be applied; ``key`` names the field at fault."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


@dataclass(frozen=True)
class Faults:
    """The fault state. Frozen: a change builds a new value that replaces the old at once."""

    down: bool = False
    throttled: bool = False
    throttled_code: int = 421
    throttled_at: str = "connect"
    starttls_stripped: bool = False
    wrong_certificate: bool = False
    tls_max_1_1: bool = False
    slow: bool = False
    slow_seconds: float = 5.0

    def changed(self, changes: Mapping[str, Any], where: str = "faults") -> Faults:
        """A copy with ``changes`` applied; FaultError names the first bad key."""
        values = {key: _validated(key, value, where) for key, value in changes.items()}
        return dataclasses.replace(self, **values)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def active(self) -> list[str]:
        """Names of the switches that are on."""
        return [name for name in SWITCHES if getattr(self, name)]

    def tls_key(self) -> tuple[bool, bool]:
        """What decides the server's TLS context for a new handshake."""
        return (self.wrong_certificate, self.tls_max_1_1)

    def throttle_reply(self) -> str:
        return replies.TOO_MANY_CONNECTIONS if self.throttled_code == 421 else replies.SERVER_ERROR


FIELDS = tuple(field.name for field in dataclasses.fields(Faults))


def _validated(key: str, value: Any, where: str) -> Any:
    path = f"{where}.{key}"
    if key not in FIELDS:
        raise FaultError(path, f"unknown fault (known: {', '.join(FIELDS)})")
    if key in SWITCHES:
        if not isinstance(value, bool):
            raise FaultError(path, f"expected true or false, got {value!r}")
        return value
    if key == "throttled_code":
        if isinstance(value, bool) or value not in THROTTLED_CODES:
            raise FaultError(path, f"expected one of {THROTTLED_CODES}, got {value!r}")
        return value
    if key == "throttled_at":
        if value not in THROTTLED_AT:
            raise FaultError(path, f"expected one of {THROTTLED_AT}, got {value!r}")
        return value
    # slow_seconds
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise FaultError(path, f"expected a number of seconds, got {value!r}")
    if not 0 <= value <= MAX_SLOW_SECONDS:
        raise FaultError(path, f"expected 0 to {MAX_SLOW_SECONDS:g} seconds, got {value!r}")
    return float(value)
