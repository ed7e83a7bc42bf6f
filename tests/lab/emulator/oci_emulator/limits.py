"""Sliding-window counters: messages per minute and per day, auth failures per client IP."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from . import replies
from .clock import Clock

MINUTE = 60.0
DAY = 86_400.0


LIMIT_KEYS = ("max_message_bytes", "per_minute", "per_day")


class LimitError(ValueError):
    """A limit change that cannot be applied; ``key`` names the field at fault."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


def checked_limits(changes: Mapping[str, Any]) -> dict[str, int]:
    """Validate a change of limits (all or nothing); 0 means unlimited except for the size."""
    checked = {}
    for key, value in changes.items():
        if key not in LIMIT_KEYS:
            raise LimitError(f"limits.{key}", f"unknown limit (known: {', '.join(LIMIT_KEYS)})")
        low = 1 if key == "max_message_bytes" else 0
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise LimitError(f"limits.{key}", f"expected an integer >= {low}, got {value!r}")
        checked[key] = value
    return checked


class SlidingWindow:
    """Events in the last ``window`` seconds; ``limit`` 0 means unlimited."""

    def __init__(self, limit: int, window: float, clock: Clock) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._times: deque[float] = deque()

    def count(self) -> int:
        horizon = self._clock.now() - self.window
        while self._times and self._times[0] <= horizon:
            self._times.popleft()
        return len(self._times)

    def full(self) -> bool:
        return bool(self.limit) and self.count() >= self.limit

    def add(self) -> None:
        self._times.append(self._clock.now())

    def clear(self) -> None:
        self._times.clear()


class SendLimits:
    """The tenancy's sending limits. A message counts once it is accepted (250 after DATA)."""

    def __init__(self, per_minute: int, per_day: int, clock: Clock) -> None:
        self.minute = SlidingWindow(per_minute, MINUTE, clock)
        self.day = SlidingWindow(per_day, DAY, clock)

    def refusal(self) -> str | None:
        """The 455 reply if one more message would exceed a limit, else None."""
        if self.minute.full():
            return replies.PER_MINUTE_LIMIT.format(limit=self.minute.limit)
        if self.day.full():
            return replies.PER_DAY_LIMIT.format(limit=self.day.limit)
        return None

    def record(self) -> None:
        self.minute.add()
        self.day.add()

    def clear(self) -> None:
        self.minute.clear()
        self.day.clear()

    def as_dict(self) -> dict[str, Any]:
        return {
            "per_minute": {"limit": self.minute.limit, "used": self.minute.count()},
            "per_day": {"limit": self.day.limit, "used": self.day.count()},
        }


class AuthThrottle:
    """Failures (bad credentials, refused senders) per client IP within a window.

    An IP with ``max_failures`` failures in the last ``window`` seconds is throttled until the
    oldest of them leaves the window; ``max_failures`` 0 disables the throttle.
    """

    def __init__(self, max_failures: int, window: float, clock: Clock) -> None:
        self._max = max_failures
        self._window = window
        self._clock = clock
        self._failures: dict[str, SlidingWindow] = {}

    def record_failure(self, ip: str) -> bool:
        """Count a failure; True if the IP is now throttled."""
        window = self._failures.setdefault(ip, SlidingWindow(self._max, self._window, self._clock))
        window.add()
        return self.throttled(ip)

    def throttled(self, ip: str) -> bool:
        window = self._failures.get(ip)
        return window is not None and window.full()

    def clear(self) -> None:
        self._failures.clear()

    def as_dict(self) -> dict[str, int]:
        counts = {ip: window.count() for ip, window in self._failures.items()}
        return {ip: count for ip, count in counts.items() if count}
