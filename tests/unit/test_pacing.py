"""Pacing never lets more than the tenancy's limit through in any minute."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ocirelay.pacing import pacing_for


def most_in_any_minute(delay: int) -> int:
    """Messages sent at 0, delay, 2*delay...: the most that fall in one 60-second window."""
    return 60 // delay + 1


@given(st.integers(min_value=1, max_value=10_000))
def test_paced_rate_stays_under_the_limit(limit: int) -> None:
    pacing = pacing_for(limit)
    assert pacing.rate_delay_seconds >= 1
    assert most_in_any_minute(pacing.rate_delay_seconds) <= limit


def test_measured_points() -> None:
    assert pacing_for(10).rate_delay_seconds == 7
    assert pacing_for(60).rate_delay_seconds == 2
    assert pacing_for(61).rate_delay_seconds == 1
    assert pacing_for(1).rate_delay_seconds == 61


@given(st.integers(min_value=1, max_value=1000))
def test_cached_connection_outlives_the_gap(limit: int) -> None:
    pacing = pacing_for(limit)
    assert pacing.connection_cache_seconds > pacing.rate_delay_seconds
