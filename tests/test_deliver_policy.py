"""When a chat may receive: instant, digest time, quiet hours, pause, across time zones and DST;
and the rate limiter's slots, on a clock the tests control."""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, time

import pytest

from bot.config import DeliveryConfig
from bot.deliver.limiter import RATE_MARGIN, WINDOW, Send, SendLimiter
from bot.deliver.policy import (
    FOREVER,
    DeliveryPolicy,
    decide,
    find_timezone,
    parse_hhmm,
    parse_quiet,
)

DEFAULTS = DeliveryConfig()  # 08:00 Europe/Paris


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def policy(**settings: object) -> DeliveryPolicy:
    return DeliveryPolicy.of(settings, DEFAULTS)


def test_parsing_times_ranges_and_zones() -> None:
    assert parse_hhmm("8h30") == time(8, 30) and parse_hhmm("08:00") == time(8)
    assert parse_hhmm("24:00") is None and parse_hhmm("8") is None
    assert parse_quiet("22:00-07:00") == (time(22), time(7))
    assert parse_quiet("23h à 6h30") is None  # "6h30" yes, "23h" is not a time
    assert parse_quiet("23:00 to 06:30") == (time(23), time(6, 30))
    assert parse_quiet("10:00-10:00") is None
    assert find_timezone("europe/paris") == "Europe/Paris"
    assert find_timezone("utc") == "UTC"
    assert find_timezone("Mars/Olympus") is None and find_timezone("../etc") is None


def test_instant_sends_now() -> None:
    assert decide(policy(), at("2026-11-27T10:00"), None).action == "send"


def test_quiet_hours_over_midnight_hold_until_their_end_in_local_time() -> None:
    quiet = policy(quiet=["22:00", "07:00"], timezone="Europe/Paris")  # UTC+1 in November
    late = decide(quiet, at("2026-11-27T22:30"), None)  # 23:30 Paris
    assert late.action == "hold" and late.until == at("2026-11-28T06:00")
    early = decide(quiet, at("2026-11-28T03:00"), None)  # 04:00 Paris
    assert early.until == at("2026-11-28T06:00")
    assert decide(quiet, at("2026-11-28T06:00"), late.until).action == "send"
    assert decide(quiet, at("2026-11-27T20:59"), None).action == "send"


def test_quiet_hours_within_a_day() -> None:
    lunch = policy(quiet=["12:00", "14:00"], timezone="UTC")
    assert decide(lunch, at("2026-11-27T13:00"), None).until == at("2026-11-27T14:00")
    assert decide(lunch, at("2026-11-27T14:00"), None).action == "send"


def test_digest_holds_until_its_time_then_is_due() -> None:
    digest = policy(delivery="digest", digest_time="08:00", timezone="Europe/Paris")
    first = decide(digest, at("2026-11-27T10:00"), None)
    # Switching to digest mode never sends one at once: the next 08:00 Paris is 07:00 UTC.
    assert first.action == "hold" and first.until == at("2026-11-28T07:00")
    due = decide(digest, at("2026-11-28T07:00:05"), first.until)
    assert due.action == "digest" and due.until == at("2026-11-29T07:00")


def test_digest_time_follows_daylight_saving() -> None:
    digest = policy(delivery="digest", digest_time="08:00", timezone="Europe/Paris")
    # The night of 2027-03-28 Paris moves to UTC+2: 08:00 is 06:00 UTC from then on.
    assert digest.next_digest(at("2027-03-27T12:00")) == at("2027-03-28T06:00")
    assert digest.next_digest(at("2027-03-26T12:00")) == at("2027-03-27T07:00")


def test_pause_holds_forever_and_wins() -> None:
    paused = policy(paused=True, delivery="digest")
    assert decide(paused, at("2026-11-27T10:00"), None) == decide(paused, at("2030-01-01"), None)
    assert decide(paused, at("2026-11-27T10:00"), None).until == FOREVER


def test_bad_settings_fall_back_to_defaults() -> None:
    odd = policy(delivery="hourly", digest_time="noon", timezone="Nowhere/City", quiet=["x"])
    assert odd.mode == "instant" and odd.digest_time == time(8)
    assert odd.timezone.key == "Europe/Paris" and odd.quiet is None and not odd.paused


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_limiter_spaces_messages_overall_and_per_chat() -> None:
    clock = FakeClock()
    limiter = SendLimiter(
        10, private_interval=1.0, group_interval=3.0, clock=clock, sleep=clock.sleep
    )
    times: list[tuple[int, float]] = []
    for chat in (1, 2, 3, 1, -5, -5):
        async with limiter.slot(chat):
            times.append((chat, clock.now))
    # Overall: at least 0.1 s apart; chat 1 again only 1 s after its first; the group 3 s.
    stamps = [t for _, t in times]
    assert all(b - a >= 0.1 - 1e-9 for a, b in itertools.pairwise(stamps))
    assert times[3][1] - times[0][1] >= 1.0
    assert times[5][1] - times[4][1] >= 3.0


async def test_limiter_pause_delays_every_slot() -> None:
    clock = FakeClock()
    limiter = SendLimiter(30, clock=clock, sleep=clock.sleep)
    async with limiter.slot(1):
        limiter.pause(5)
    async with limiter.slot(2):
        pass
    assert clock.now >= 105.0


@pytest.mark.parametrize("rate", [30.0, 1000.0])
async def test_limiter_rate_holds_with_many_chats(rate: float) -> None:
    clock = FakeClock()
    limiter = SendLimiter(rate, clock=clock, sleep=clock.sleep)
    released = []
    for chat in range(1, 3001):
        async with limiter.slot(chat):
            released.append(clock.now)
    achieved = (len(released) - 1) / (released[-1] - released[0])
    assert 0.95 * rate <= achieved <= RATE_MARGIN * rate + 1e-6  # the target, under the rate
    cap = int(rate)  # never more than the rate in any second
    assert all(released[i + cap] - released[i] >= 1.0 - 1e-9 for i in range(len(released) - cap))


async def test_a_chat_waiting_for_its_interval_does_not_hold_back_the_others() -> None:
    """A group's second message waits 3 s for its own interval; the private chats asking after
    it still get the free slots right away, at the overall rate."""
    slots: list[tuple[int, float]] = []
    now = 100.0

    async def no_sleep(seconds: float) -> None:  # record the slot, do not wait
        slots.append((current, now + seconds))

    # 20/s: the eleven sends stay within one window's count (the clock does not move here).
    limiter = SendLimiter(20, group_interval=3.0, clock=lambda: now, sleep=no_sleep)
    for current in (-1, -1, *range(1, 10)):
        async with limiter.slot(current):
            pass
    group_second = next(t for chat, t in slots if chat == -1)
    private = [t for chat, t in slots if chat > 0]
    assert group_second == pytest.approx(103.0)
    assert max(private) == pytest.approx(100 + 9 / (20 * RATE_MARGIN))  # none pushed past 103
    assert len(set(private)) == len(private)


def test_an_article_after_an_empty_digest_time_waits_for_the_next_one() -> None:
    digest = policy(delivery="digest", digest_time="08:00", timezone="UTC")
    held = at("2026-11-28T08:00")  # the hold set yesterday: today's 08:00
    # Nothing was pending at 08:00; an article queued at 15:00 waits for tomorrow's digest.
    late = decide(digest, at("2026-11-28T15:00:05"), held, oldest=at("2026-11-28T15:00"))
    assert late.action == "hold" and late.until == at("2026-11-29T08:00")
    # One that was waiting at 08:00 (the bot was down then) goes out now.
    waiting = decide(digest, at("2026-11-28T15:00:05"), held, oldest=at("2026-11-28T07:00"))
    assert waiting.action == "digest" and waiting.until == at("2026-11-29T08:00")


async def test_a_send_counts_in_the_window_until_its_answer() -> None:
    """Telegram counts a message when it arrives, some time after its slot; the limiter counts
    it until its answer: ten sends answered in the last 0.3 s (late, after a stall) hold the
    next one back until the oldest answer is a second old, whatever the slots say."""
    clock = FakeClock()  # now = 100
    limiter = SendLimiter(10, clock=clock, sleep=clock.sleep)
    for k in range(10):
        send = Send()
        send.answered_at = 99.7 + 0.03 * k
        limiter._recent.append(send)
    async with limiter.slot(1):  # its own slot is now...
        assert clock.now == pytest.approx(99.7 + WINDOW)  # ...but the window was full


async def test_a_send_still_in_flight_holds_the_window() -> None:
    clock = FakeClock()
    limiter = SendLimiter(2, clock=clock, sleep=clock.sleep)
    first = await limiter.acquire(1)
    async with limiter.slot(2):
        pass
    waiting = asyncio.ensure_future(limiter.acquire(3))
    await asyncio.sleep(0)
    assert not waiting.done()  # the first send has no answer yet
    limiter.answered(first)
    limiter.answered(await asyncio.wait_for(waiting, 1))
    assert clock.now >= first.answered_at + WINDOW  # type: ignore[operator]
