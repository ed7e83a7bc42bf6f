"""The emulator's shared state: settings, clock, faults, counters, store and live sessions.

Everything here is touched only from the emulator's event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from .clock import Clock
from .faults import Faults
from .limits import AuthThrottle, SendLimits, checked_limits
from .senders import Senders, Suppression
from .settings import Settings
from .store import Store
from .tlsctx import ServerContexts

log = logging.getLogger("oci_emulator")


class Session(Protocol):
    def abort(self) -> None: ...


@dataclass
class Stats:
    connections: int = 0
    tls_handshakes: int = 0
    cleartext_auth_attempts: int = 0
    replies: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "connections": self.connections,
            "tls_handshakes": self.tls_handshakes,
            "cleartext_auth_attempts": self.cleartext_auth_attempts,
            "replies": dict(sorted(self.replies.items())),
        }


class Runtime:
    def __init__(self, settings: Settings, clock: Clock, contexts: ServerContexts) -> None:
        self.settings = settings
        self.clock = clock
        self.contexts = contexts
        self.faults: Faults = settings.faults
        self.senders = Senders(settings.approved_senders, settings.require_header_from_match)
        self.suppression = Suppression(settings.suppressed_recipients)
        self.limits = SendLimits(settings.limits.per_minute, settings.limits.per_day, clock)
        self.max_message_bytes = settings.limits.max_message_bytes
        throttle = settings.auth_throttle
        self.throttle = AuthThrottle(throttle.max_failures, throttle.window_seconds, clock)
        self.store = Store(settings.state_dir)
        self.stats = Stats()
        self.sessions: set[Session] = set()
        self._no_sessions = asyncio.Event()
        self._no_sessions.set()
        self._waiters: list[tuple[int, asyncio.Future[int]]] = []

    # --- sessions -------------------------------------------------------------------------
    def session_opened(self, session: Session) -> None:
        self.sessions.add(session)
        self._no_sessions.clear()

    def session_closed(self, session: Session) -> None:
        self.sessions.discard(session)
        if not self.sessions:
            self._no_sessions.set()

    async def abort_sessions(self, timeout: float = 5.0) -> None:
        """Drop every live SMTP connection and wait (up to ``timeout``) until they are gone."""
        for session in list(self.sessions):
            session.abort()
        try:
            await asyncio.wait_for(self._no_sessions.wait(), timeout)
        except TimeoutError:
            log.warning("%d session(s) still open %g s after being dropped",
                        len(self.sessions), timeout)

    # --- messages -------------------------------------------------------------------------
    def now_iso(self) -> str:
        return datetime.fromtimestamp(self.clock.now(), UTC).isoformat(timespec="milliseconds")

    def accept(self, record: dict[str, Any], raw: bytes) -> str:
        """Store an accepted message, count it against the limits, wake waiters."""
        message_id = self.store.save(record, raw)
        self.limits.record()
        self._wake_waiters()
        return message_id

    async def wait_for_messages(self, count: int, timeout: float) -> int:
        """Return once the store holds ``count`` messages; TimeoutError otherwise."""
        if self.store.count >= count:
            return self.store.count
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        entry = (count, future)
        self._waiters.append(entry)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            if entry in self._waiters:
                self._waiters.remove(entry)

    def _wake_waiters(self) -> None:
        for count, future in list(self._waiters):
            if self.store.count >= count and not future.done():
                future.set_result(self.store.count)

    # --- limits, resets and reports --------------------------------------------------------
    def set_limits(self, changes: Mapping[str, Any]) -> dict[str, int]:
        """Raise or lower the tenancy's limits (LimitError names a bad key); counts are kept."""
        checked = checked_limits(changes)
        self.max_message_bytes = checked.get("max_message_bytes", self.max_message_bytes)
        self.limits.minute.limit = checked.get("per_minute", self.limits.minute.limit)
        self.limits.day.limit = checked.get("per_day", self.limits.day.limit)
        return self.current_limits()

    def current_limits(self) -> dict[str, int]:
        return {
            "max_message_bytes": self.max_message_bytes,
            "per_minute": self.limits.minute.limit,
            "per_day": self.limits.day.limit,
        }

    def reset(self) -> None:
        """Configured limits, no counts, no failures, no statistics (faults and store aside)."""
        configured = self.settings.limits
        self.set_limits({"max_message_bytes": configured.max_message_bytes,
                         "per_minute": configured.per_minute, "per_day": configured.per_day})
        self.limits.clear()
        self.throttle.clear()
        self.stats = Stats()

    def status(self) -> dict[str, Any]:
        return {
            "faults": self.faults.as_dict(),
            "active_faults": self.faults.active(),
            "messages": self.store.count,
            "limits": {**self.limits.as_dict(), "max_message_bytes": self.max_message_bytes},
            "auth_failures": self.throttle.as_dict(),
            "sessions": len(self.sessions),
            "stats": self.stats.as_dict(),
            "clock": self.clock.now(),
        }
