"""The rule of `GET /healthz`: a bot is healthy when its store answers, its sender runs (in a
process that sends) and the Bot API answered it in the last five minutes.

The facts are gathered by the composition root (`bot.app`), which knows the store and the
sender; `ApiWatch` is told of every Bot API answer by the request layer of `bot.chat`. Time is
the program's clock, handed in as functions (this module sits below `bot.clock`), so a test
moves a fake clock past the five minutes instead of waiting for them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.metrics import api_answered

# How long the Bot API may stay silent before the bot is unhealthy. A polling bot hears from it
# at least every long-poll timeout (30 s); a process that neither polls nor sends asks it.
API_SILENCE_SECONDS = 300.0
# A check that has not heard from the Bot API for this long asks it (getMe, see `bot.app`), at
# most once per this long: an idle bot is not an unreachable one.
API_PROBE_AFTER_SECONDS = 60.0


class ApiWatch:
    """When the Bot API last answered this process (any request, any HTTP status below 500:
    a 4xx is still Telegram answering; a 5xx is a proxy or a Telegram outage)."""

    def __init__(self, monotonic: Callable[[], float], unix_time: Callable[[], float]) -> None:
        self._monotonic = monotonic
        self._unix_time = unix_time
        self._last: float | None = None

    def answered(self) -> None:
        """The Bot API answered just now."""
        self._last = self._monotonic()
        api_answered(self._unix_time())

    def silence(self) -> float | None:
        """Seconds since the last answer; None if it never answered."""
        return None if self._last is None else self._monotonic() - self._last


@dataclass(frozen=True, slots=True)
class HealthReport:
    """What `/healthz` answers: healthy or not, and one line per check."""

    healthy: bool
    lines: tuple[str, ...]

    def text(self) -> str:
        return (
            ("ok" if self.healthy else "unhealthy") + "\n" + "".join(f"{x}\n" for x in self.lines)
        )


def check(
    *,
    store_error: str | None,
    store_seconds: float,
    sender_alive: bool | None,
    api_silence: float | None,
) -> HealthReport:
    """The verdict on the facts: `store_error` (None when the store answered, in
    `store_seconds`), `sender_alive` (None in a process that runs no sender), `api_silence`
    (seconds since the Bot API last answered, None if it never did)."""
    problems: list[str] = []
    lines: list[str] = []
    if store_error is None:
        lines.append(f"store: answered in {store_seconds * 1000:.1f} ms")
    else:
        problems.append(f"store: {store_error}")
    if sender_alive is None:
        lines.append("sender: not run by this process")
    elif sender_alive:
        lines.append("sender: running")
    else:
        problems.append("sender: not running")
    if api_silence is None:
        problems.append("Bot API: has not answered yet")
    elif api_silence > API_SILENCE_SECONDS:
        problems.append(
            f"Bot API: no answer for {api_silence:.0f} s (more than {API_SILENCE_SECONDS:.0f})"
        )
    else:
        lines.append(f"Bot API: answered {api_silence:.0f} s ago")
    return HealthReport(not problems, (*problems, *lines))
