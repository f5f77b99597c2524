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
`per_second`, and a process alone (the others idle) gets all of it; a send answered too late
after its shared slot costs its process one more slot, left unused, which is how the window
of answers holds across processes. The per-chat limits hold across processes without it: a
chat is claimed by one sender at a time.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable

from bot.clock import Clock
from bot.store.contract import SendRate

log = logging.getLogger(__name__)

# Slots are planned at 97% of the rate: exactly 1/rate apart, the answers' delays would make
# the window below bind all the time.
RATE_MARGIN = 0.97
# Slots of a rate shared by processes are planned at 96%: a message may then arrive up to
# 1/0.96 - 1 = 41 ms after its slot before its process pays for it (see `SharedSlots`).
SHARED_RATE_MARGIN = 0.96
# A reservation of shared slots asks for its first slot this far ahead at least, and further
# when its round trips take longer (the last one's time, at most `MAX_LEAD`): a slot already
# past when the reservation returns is lost.
MIN_LEAD = 0.02
MAX_LEAD = 0.25
# The window Telegram counts its overall limit in.
WINDOW = 1.0
# A send whose answer has not come after this long no longer holds the window (its request has
# timed out by then).
STUCK_SECONDS = 30.0


class Send:
    """One send through the limiter: when its answer came (None while in flight), and the slot
    of the shared rate it took (None without one)."""

    __slots__ = ("answered", "answered_at", "shared_slot")

    def __init__(self, shared_slot: float | None = None) -> None:
        self.answered_at: float | None = None
        self.answered = asyncio.Event()
        self.shared_slot = shared_slot


class SharedSlots:
    """Send slots of an overall rate shared by every process on one store.

    Slots are taken from the store (`SendRate.reserve_send_slots`) a few at a time, as many as
    sends are waiting for one, at most a tenth of a second's worth: a process takes only what
    it is about to use, so an idle process leaves the whole rate to the others and a busy one
    never holds more than a fraction of a second ahead.

    Slots are a plan; Telegram counts a message when it arrives, some time after its slot. The
    margin lets each arrive up to `allowance` after its slot: any second of arrivals then holds
    the arrivals of slots planned within 1 + `allowance` seconds, `per_second` at most. A
    message later than that (its answer came later: a stalled loop, a slow request) may have
    landed in a second that already holds `per_second` others, so its process pays for it
    (`answered`): it leaves one more slot unused, one it holds or the store's next. That gap
    comes before the end of every second the late message may have crowded (when it is taken
    before the late one's slot + 1 s, which `paid_too_late` counts the misses of), so no
    second Telegram looks at holds more than `per_second` in all, whatever the delays, without
    a window of answers shared by the processes (bench/cluster.py: 429s with margins alone).
    A slot this process wakes up for later than `allowance` (a stalled loop) is given up:
    sent, it would cost a slot all the same.
    """

    def __init__(
        self,
        store: SendRate,
        per_second: float,
        *,
        clock: Clock,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.store = store
        self._sleep = sleep
        self.spacing = 1.0 / (per_second * SHARED_RATE_MARGIN)
        self.batch = max(1, int(per_second / 10))
        # How long after its slot a message may arrive without crowding a second (a hair less,
        # for the rounding of the times).
        self.allowance = 1.0 / SHARED_RATE_MARGIN - 1.0 - 0.001
        self._lead = MIN_LEAD
        self._given = 0.0  # the last slot handed out
        self.late_paid = 0  # slots taken and left unused for late answers
        self.given_up = 0  # slots woken up for too late
        self._clock = clock
        self._slots: deque[float] = deque()  # monotonic times, ascending
        self._lock = asyncio.Lock()
        self._waiting = 0
        self._owed: list[float] = []  # the deadlines of the slots to take unused
        self.paid_too_late = 0
        self._paying: asyncio.Task[None] | None = None

    async def next_slot(self) -> float:
        """The monotonic time of this process's next slot of the shared rate, taken."""
        self._waiting += 1
        try:
            async with self._lock:
                while True:
                    now = self._clock.monotonic()
                    while self._slots and self._slots[0] < now - self.allowance:
                        self._slots.popleft()
                        self.given_up += 1
                    if self._slots:
                        self._given = self._slots.popleft()
                        return self._given
                    # The slots handed out already are its sends' for the next `_lead` at
                    # most: a waiter that took a slot seconds ahead would hold it idle, and
                    # the store's next slot would run away from now.
                    if self._given > now + self._lead:
                        await self._sleep(self._given - self._lead - now)
                        continue
                    count = min(self._waiting, self.batch)
                    first = await self.store.reserve_send_slots(
                        count, self.spacing, lead=self._lead
                    )
                    took = self._clock.monotonic() - now
                    self._lead = min(MAX_LEAD, max(MIN_LEAD, took))
                    # Wall time to monotonic time, on this process's one clock.
                    offset = self._clock.monotonic() - self._clock.now().timestamp()
                    self._slots.extend(first + offset + i * self.spacing for i in range(count))
        finally:
            self._waiting -= 1

    def answered(self, slot: float, at: float) -> None:
        """A send of *slot* was answered at *at* (monotonic): pay for it if it was late. The
        unused slot must lie between *at* - `allowance` and *slot* + 1 + `allowance`: one
        this process holds if it has one there (at once, no round trip), else the next one
        of the store's."""
        if at - slot <= self.allowance:
            return
        deadline = slot + 1.0 + self.allowance
        for held in self._slots:
            if held > deadline:
                break
            if held >= at - self.allowance:
                self._slots.remove(held)
                self.late_paid += 1
                return
        self._owed.append(deadline)
        if self._paying is None:
            self._paying = asyncio.create_task(self._pay(), name="newsbot-pay-late-slots")

    async def _pay(self) -> None:
        try:
            while self._owed:
                owed, self._owed = self._owed, []
                try:
                    first = await self.store.reserve_send_slots(len(owed), self.spacing, lead=0)
                except Exception as exc:  # the store is down: nobody is sending anyway
                    log.warning("cannot take the slots of late messages (%s)", exc)
                    return
                offset = self._clock.monotonic() - self._clock.now().timestamp()
                for i, deadline in enumerate(owed):
                    if first + offset + i * self.spacing > deadline:
                        self.paid_too_late += 1
                self.late_paid += len(owed)
        finally:
            self._paying = None


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

    @property
    def shared(self) -> SharedSlots | None:
        """The slots of the rate shared with other processes, if any."""
        return self._shared

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
            shared_slot = None
            if self._shared is not None:  # and a slot of the rate all processes share
                if self._paused_until > slot:  # not a shared slot to throw away in a pause
                    continue
                shared_slot = await self._shared_slot()
                slot = max(slot, shared_slot)
            # A pause that began while we slept voids the slot: take a new one after it.
            if self._paused_until > slot:
                continue
            if self._shared is None:
                await self._within_window()
            send = Send(shared_slot)
            self._recent.append(send)
            return send

    async def _shared_slot(self) -> float:
        """Wait for this process's window, then for a slot of the shared rate, on time: a
        slot this process wakes up for later than the shared rate allows (a stalled loop) is
        given up for the next (see `SharedSlots`)."""
        shared = self._shared
        assert shared is not None
        while True:
            await self._within_window()
            slot = await shared.next_slot()
            wait = slot - self._clock()
            if wait > 0:
                await self._sleep(wait)
            if self._clock() - slot <= shared.allowance:
                return slot
            shared.given_up += 1

    def answered(self, send: Send) -> None:
        """The send is over (answered, failed or given up)."""
        if send.answered_at is None:
            send.answered_at = self._clock()
            send.answered.set()
            if self._shared is not None and send.shared_slot is not None:
                self._shared.answered(send.shared_slot, send.answered_at)

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
