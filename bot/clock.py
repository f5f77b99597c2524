"""Time as an input: the one clock a running newsbot reads.

A `Clock` is made once where the program starts (`newsbot run`, each CLI command) and handed to
everything that needs "now": the store (rows it writes are stamped with `clock.now()`, never
with the database's `now()`), the ingest pipeline, the sender, the services. No other module
reads `datetime.now()` or `time.monotonic()` on its own, so a test can move one fake clock
forward and the whole bot follows it, and the suite passes on any date.

- `now()` is wall time, an aware UTC datetime: what is stored and compared with stored times
  (publication dates, leases, digest times, freshness of a fetched link).
- `monotonic()` is seconds from an arbitrary origin that never goes back: what measures
  intervals inside one process (cache lifetimes, rate-limit windows, send pacing).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Wall time and monotonic time, from one source."""

    def now(self) -> datetime:
        """Now, as an aware UTC datetime."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back, for measuring intervals."""
        ...


class SystemClock:
    """The machine's clocks: what a running bot and every CLI command use."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def __repr__(self) -> str:
        return "SystemClock()"
