"""Telegram's broadcast limits, as one scheduler of send slots.

Written here rather than taken from PTB's `AIORateLimiter` because that one has no per-private-
chat limit, retries flood errors inside the request (the queue must see them to keep its
bookkeeping true) and throttles replies to users as well. This one only paces the sender.

Each `acquire(chat_id)` reserves the earliest slot that respects three limits at once: the
overall rate (reserved slots at least `1 / per_second` apart), one message per
`private_interval` to a private chat (positive ids) and one per `group_interval` to a group or
channel (negative ids), then sleeps until that slot. A chat that must wait for its own interval
takes a slot in the future without holding back the other chats: they fill the free slots
before it. Slots are reserved without awaiting in between, so concurrent callers never share
one and the overall rate holds with any number of tasks. `pause()` (a 429's `retry_after`)
voids every slot before the end of the pause.

Slots are a plan; Telegram counts messages when they arrive, which is some time after their
slot (milliseconds, tens of them when a shared machine stalls). So a send is also held back
until the send `per_second` places before it got its answer at least a second ago: that one
arrived before its answer, this one arrives after now, so no second of arrivals holds more than
`per_second` messages, whatever the delays. Use `async with limiter.slot(chat_id): send()`.

Several processes on one PostgreSQL share the overall rate through the store (`SharedSlots`):
each send also takes a slot of the shared rate, so that together they send at most
`per_second`, and a process alone (the others idle) gets all of it. The per-chat limits hold
across processes without it: a chat is claimed by one sender at a time.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

from bot.clock import Clock
from bot.store.contract import SendRate

# Slots are planned at 97% of the rate: exactly 1/rate apart, the answers' delays would make
# the window below bind all the time.
RATE_MARGIN = 0.97
# Slots of a rate shared by processes are planned at 96%: without a window of answers across
# processes (see above), the margin is what absorbs their messages' different delays
# (bench/cluster.py: 429s at 97%).
SHARED_RATE_MARGIN = 0.96
# A slot of the shared rate used later than this is given up (see `SharedSlots`).
LATE_SECONDS = 0.02
# The window Telegram counts its overall limit in.
WINDOW = 1.0
# A send whose answer has not come after this long no longer holds the window (its request has
# timed out by then).
STUCK_SECONDS = 30.0


class Send:
    """One send through the limiter: when its answer came (None while in flight)."""

    __slots__ = ("answered", "answered_at")

    def __init__(self) -> None:
        self.answered_at: float | None = None
        self.answered = asyncio.Event()


class SharedSlots:
    """Send slots of an overall rate shared by every process on one store.

    Slots are taken from the store (`SendRate.reserve_send_slots`) a few at a time, as many as
    sends are waiting for one, at most a tenth of a second's worth: a process takes only what
    it is about to use, so an idle process leaves the whole rate to the others and a busy one
    never holds more than a fraction of a second ahead. A slot whose time has passed by more
    than `tolerance` (the process stalled) is dropped rather than used late, which could put
    two processes' messages in the same instant.
    """

    def __init__(self, store: SendRate, per_second: float, *, clock: Clock) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.store = store
        self.spacing = 1.0 / (per_second * SHARED_RATE_MARGIN)
        self.batch = max(1, int(per_second / 10))
        # How late a slot may still be used: later, it is given up.
        self.tolerance = min(self.spacing / 2, LATE_SECONDS)
        self._clock = clock
        self._slots: deque[float] = deque()  # monotonic times, ascending
        self._lock = asyncio.Lock()
        self._waiting = 0

    async def next_slot(self) -> float:
        """The monotonic time of this process's next slot of the shared rate, taken."""
        self._waiting += 1
        try:
            async with self._lock:
                while True:
                    now = self._clock.monotonic()
                    while self._slots and self._slots[0] < now - self.tolerance:
                        self._slots.popleft()
                    if self._slots:
                        return self._slots.popleft()
                    count = min(self._waiting, self.batch)
                    first = await self.store.reserve_send_slots(count, self.spacing)
                    # Wall time to monotonic time, on this process's one clock.
                    offset = self._clock.monotonic() - self._clock.now().timestamp()
                    self._slots.extend(first + offset + i * self.spacing for i in range(count))
        finally:
            self._waiting -= 1


class SendLimiter:
    def __init__(
        self,
        per_second: float,
        *,
        clock: Callable[[], float],
        private_interval: float = 1.0,
        group_interval: float = 3.0,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
        shared: SharedSlots | None = None,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        # Slots exactly 1/rate apart put rate + 1 messages in a closed second, and network
        # jitter moves arrivals by milliseconds: keep a 3% margin, so that no second Telegram
        # looks at holds more than the rate (bench/broadcast.py: 429s without it).
        self.spacing = 1.0 / (per_second * RATE_MARGIN)
        self.private_interval = private_interval
        self.group_interval = group_interval
        self._clock = clock
        self._sleep = sleep
        # The last sends, as many as a window may hold: the next waits until the oldest has
        # been answered for a `WINDOW`.
        self._recent: deque[Send] = deque(maxlen=max(1, int(per_second)))
        # Reserved send times, sorted; those more than `spacing` in the past are pruned.
        self._slots: list[float] = []
        self._paused_until = 0.0
        # chat id -> earliest time of its next message; pruned of past entries as it grows.
        self._chat_next: dict[int, float] = {}
        self._prune_at = 10_000
        self._shared = shared

    def interval(self, chat_id: int) -> float:
        """The least time between two messages to this chat."""
        return self.private_interval if chat_id > 0 else self.group_interval

    async def wait_for_chat(self, chat_id: int) -> None:
        """Sleep until *chat_id* may receive again, without reserving anything: a sender waits
        here before taking one of its few requests in flight, so a chat that must wait for its
        interval does not hold one idle."""
        wait = self._chat_next.get(chat_id, 0.0) - self._clock()
        if wait > 0:
            await self._sleep(wait)

    @contextlib.asynccontextmanager
    async def slot(self, chat_id: int) -> AsyncIterator[Send]:
        """Wait for the next send slot for *chat_id*; the send happens in the block, and its
        end is taken as the answer's arrival."""
        send = await self.acquire(chat_id)
        try:
            yield send
        finally:
            self.answered(send)

    async def acquire(self, chat_id: int) -> Send:
        """Wait for the next send slot for *chat_id*; call `answered` when the send is over
        (`slot` does both)."""
        while True:
            now = self._clock()
            earliest = max(now, self._chat_next.get(chat_id, 0.0), self._paused_until)
            slot = self._reserve(now, earliest)
            self._chat_next[chat_id] = slot + self.interval(chat_id)
            if len(self._chat_next) > self._prune_at:
                self._prune(now)
            if slot > now:
                await self._sleep(slot - now)
            if self._shared is not None:  # and a slot of the rate all processes share
                if self._paused_until > slot:  # not a shared slot to throw away in a pause
                    continue
                slot = max(slot, await self._shared_slot())
            # A pause that began while we slept voids the slot: take a new one after it.
            if self._paused_until > slot:
                continue
            if self._shared is None:
                await self._within_window()
            send = Send()
            self._recent.append(send)
            return send

    async def _shared_slot(self) -> float:
        """Wait for this process's window, then for a slot of the shared rate, on time: a
        slot this process wakes up for too late (a stalled loop) is given up for the next,
        since sent late it could meet another process's message in the same instant."""
        shared = self._shared
        assert shared is not None
        while True:
            await self._within_window()
            slot = await shared.next_slot()
            wait = slot - self._clock()
            if wait > 0:
                await self._sleep(wait)
            if self._clock() - slot <= shared.tolerance:
                return slot

    def answered(self, send: Send) -> None:
        """The send is over (answered, failed or given up)."""
        if send.answered_at is None:
            send.answered_at = self._clock()
            send.answered.set()

    async def _within_window(self) -> None:
        recent = self._recent
        while len(recent) == recent.maxlen:
            oldest = recent[0]
            if oldest.answered_at is None:
                try:
                    await asyncio.wait_for(oldest.answered.wait(), STUCK_SECONDS)
                except TimeoutError:
                    self.answered(oldest)
                continue
            wait = oldest.answered_at + WINDOW - self._clock()
            if wait <= 0:
                return
            await self._sleep(wait)

    def _reserve(self, now: float, earliest: float) -> float:
        """The earliest time from *earliest* at least `spacing` away from every reserved slot,
        reserved."""
        slots = self._slots
        past = bisect.bisect_left(slots, now - self.spacing)
        if past:
            del slots[:past]
        slot = earliest
        i = bisect.bisect_right(slots, slot - self.spacing)
        while i < len(slots) and slots[i] < slot + self.spacing:
            slot = max(slot, slots[i] + self.spacing)
            i += 1
        bisect.insort(slots, slot)
        return slot

    def pause(self, seconds: float) -> None:
        """Stop every send for *seconds* (Telegram's `retry_after`)."""
        until = self._clock() + seconds
        self._paused_until = max(self._paused_until, until)

    def _prune(self, now: float) -> None:
        self._chat_next = {c: t for c, t in self._chat_next.items() if t > now}
        self._prune_at = max(10_000, 2 * len(self._chat_next))
