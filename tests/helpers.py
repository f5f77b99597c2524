"""Helpers shared by the tests (no test module imports another test module: they import this).

`FakeClock` is the one clock the tests hand to the store, services, ingest and sender (see
`bot.clock`): wall time stands still until a test moves it, and monotonic time follows the
real one plus every move, so caches and rate windows expire when the test says so and the
sender's pacing still runs in real time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

# Where a test's clock starts unless it says otherwise: a fixed instant, so what a test sees
# does not depend on the day it runs (CI runs the suite again under faketime to prove it).
START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class FakeClock:
    """A `bot.clock.Clock` a test moves: `advance(...)` or `set(when)`."""

    def __init__(self, start: datetime = START) -> None:
        if start.tzinfo is None:
            raise ValueError("a clock's time is aware UTC")
        self._now = start.astimezone(UTC)
        self._ahead = 0.0  # seconds the test moved the monotonic clock ahead of the real one

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return time.monotonic() + self._ahead

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        """Move wall and monotonic time forward by *delta* (or `timedelta(**parts)`)."""
        step = delta if delta is not None else timedelta(**parts)
        if step < timedelta(0):
            raise ValueError("time only moves forward")
        self._now += step
        self._ahead += step.total_seconds()
        return self._now

    def set(self, when: datetime) -> datetime:
        """Move to *when* (aware, not before now)."""
        return self.advance(when.astimezone(UTC) - self._now)

    def __repr__(self) -> str:
        return f"FakeClock({self._now.isoformat()})"
