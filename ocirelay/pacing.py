"""How fast the relay hands mail to OCI: derived from the tenancy's messages-per-minute limit.

Measured (oci-facts.md, "Pacing and connection reuse"): Postfix rate delays are whole seconds,
and pacing at exactly N/min still met a 455 now and then; ceil(60/(N-1)) s between messages never
did. One delay per destination cannot go faster than one message a second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# A cached connection must outlive the gap between two paced messages, or each message pays a
# new TCP and TLS handshake.
CACHE_MARGIN_SECONDS = 5


@dataclass(frozen=True)
class Pacing:
    rate_delay_seconds: int

    @property
    def messages_per_minute(self) -> float:
        return 60 / self.rate_delay_seconds

    @property
    def connection_cache_seconds(self) -> int:
        return self.rate_delay_seconds + CACHE_MARGIN_SECONDS


def pacing_for(messages_per_minute: int) -> Pacing:
    """The gap between messages that keeps a relay under `messages_per_minute`."""
    if messages_per_minute <= 1:
        return Pacing(61)
    return Pacing(max(1, math.ceil(60 / (messages_per_minute - 1))))
