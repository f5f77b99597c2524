"""Several `newsbot run` processes on one PostgreSQL, acting as one bot: the send rate they
share, the processes seen, named leases, and the wake-up sent when deliveries are queued.

- `reserve_send_slots` takes the next N send slots of a rate all processes share: one row
  holds the earliest free slot, and one `INSERT ... ON CONFLICT DO UPDATE` moves it N
  spacings on, so slots handed out to any process are at least one spacing apart (a virtual
  clock, as the in-process limiter keeps; the time is the callers' clock, never the
  database's). A process that sends nothing takes nothing: the others get the whole rate.
- `see_process` records a process and when it was last seen, and returns the live ones.
- `take_lease` / `release_lease`: a named lease one process holds at a time, taken over
  when its holder stops renewing it (killed).
- On PostgreSQL, queueing deliveries (and giving claimed ones back) sends a `NOTIFY` on
  `DELIVERIES_CHANNEL` in the same transaction (PostgreSQL delivers it at commit);
  `listen_deliveries` calls back on each, so every process's sender claims at once instead
  of at its next poll.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.engine import Connection

from bot.store.base import StoreBase
from bot.store.schema import leases, processes, send_rate

log = logging.getLogger(__name__)

# The channel of the wake-up sent when deliveries are queued (PostgreSQL only).
DELIVERIES_CHANNEL = "newsbot_deliveries"
# How far ahead of now a reserved slot starts at the earliest: the reservation's round trip.
SLOT_LEAD = 0.02
# A shared rate's next slot further ahead than this (a clock that jumped, a far slower rate
# configured before) is ignored: slots start from now again.
MAX_AHEAD_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class ProcessSeen:
    """A running process, as the store last saw it."""

    worker: str
    role: str
    started_at: datetime
    seen_at: datetime


def notify_deliveries(conn: Connection) -> None:
    """Wake every listening sender when this transaction commits (PostgreSQL; a no-op
    elsewhere). PostgreSQL folds identical notifications of one transaction into one."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_notify(DELIVERIES_CHANNEL, "")))


class DeliveryListener:
    """A connection of its own that LISTENs on `DELIVERIES_CHANNEL` and calls `callback` on
    each notification; connects again (every `retry` seconds) when the connection is lost,
    the caller's poll covering the gap. `close()` stops it."""

    def __init__(self, store: ClusterMixin, callback: Callable[[], None], retry: float) -> None:
        self._store = store
        self._callback = callback
        self._retry = retry
        self._lost = asyncio.Event()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self, timeout: float = 10.0) -> None:
        """Connect and listen; returns once listening (or after *timeout*, retrying behind)."""
        self._task = asyncio.create_task(self._run(), name="newsbot-listen-deliveries")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout)

    @property
    def listening(self) -> bool:
        return self._ready.is_set() and not self._lost.is_set()

    async def _run(self) -> None:
        while True:
            try:
                async with self._store.engine.connect() as conn:
                    raw = await conn.get_raw_connection()
                    driver: Any = raw.driver_connection
                    self._lost.clear()

                    def on_notify(*_: object) -> None:
                        self._callback()

                    def on_lost(*_: object) -> None:
                        self._lost.set()

                    driver.add_termination_listener(on_lost)
                    await driver.add_listener(DELIVERIES_CHANNEL, on_notify)
                    self._ready.set()
                    # Deliveries queued while we were not listening: claim them now.
                    self._callback()
                    try:
                        await self._lost.wait()
                    finally:
                        with contextlib.suppress(Exception):
                            await driver.remove_listener(DELIVERIES_CHANNEL, on_notify)
                log.warning("the wake-up connection to the store was lost; polling meanwhile")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("cannot listen for queued deliveries (%s); polling meanwhile", exc)
            await asyncio.sleep(self._retry)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


class ClusterMixin(StoreBase):
    # -- the shared send rate --------------------------------------------------------------

    async def reserve_send_slots(
        self, count: int, spacing: float, name: str = "overall", *, lead: float = SLOT_LEAD
    ) -> float:
        """Take the next *count* send slots, *spacing* seconds apart, of the rate *name* that
        every process shares, the first at least *lead* seconds from now (the time this write
        takes: a slot must not be past when the caller gets it); the first slot's time in
        seconds since the epoch (the store's clock). The slots are the caller's: no other
        caller gets one within *spacing*."""
        now = self.clock.now().timestamp() + lead
        span = count * spacing
        current = send_rate.c.next_at
        start = case((and_(current > now, current <= now + MAX_AHEAD_SECONDS), current), else_=now)
        statement = (
            self._insert(send_rate)
            .values(name=name, next_at=now + span)
            .on_conflict_do_update(
                index_elements=[send_rate.c.name], set_={"next_at": start + span}
            )
            .returning(send_rate.c.next_at)
        )
        end: float = await self._write(lambda conn: conn.execute(statement).scalar_one())
        return end - span

    # -- processes -------------------------------------------------------------------------

    async def see_process(
        self, worker: str, role: str, started_at: datetime, *, alive_seconds: float
    ) -> list[ProcessSeen]:
        """Record that *worker* (of *role*) is alive now; every process seen in the last
        *alive_seconds* (this one included), oldest first. Forgets processes long dead."""
        now = self.clock.now()
        upsert = (
            self._insert(processes)
            .values(worker=worker, role=role, started_at=started_at, seen_at=now)
            .on_conflict_do_update(
                index_elements=[processes.c.worker], set_={"seen_at": now, "role": role}
            )
        )
        alive = now - timedelta(seconds=alive_seconds)

        def see(conn: Connection) -> list[ProcessSeen]:
            conn.execute(upsert)
            conn.execute(delete(processes).where(processes.c.seen_at < now - timedelta(days=1)))
            rows = conn.execute(
                select(processes)
                .where(processes.c.seen_at >= alive)
                .order_by(processes.c.started_at, processes.c.worker)
            ).all()
            return [ProcessSeen(r.worker, r.role, r.started_at, r.seen_at) for r in rows]

        result: list[ProcessSeen] = await self._write(see)
        return result

    async def forget_process(self, worker: str) -> None:
        """*worker* stops: the others no longer count it."""
        statement = delete(processes).where(processes.c.worker == worker)
        await self._write(lambda conn: conn.execute(statement))

    # -- named leases ----------------------------------------------------------------------

    async def take_lease(self, name: str, owner: str, seconds: float) -> bool:
        """Take (or renew) lease *name* for *owner* for *seconds*, unless another owner holds
        it unexpired; whether *owner* holds it now."""
        now = self.clock.now()
        until = now + timedelta(seconds=seconds)

        def take(conn: Connection) -> bool:
            conn.execute(
                self._insert(leases)
                .values(name=name, owner=owner, until=until)
                .on_conflict_do_nothing()
            )
            done = conn.execute(
                update(leases)
                .where(leases.c.name == name, or_(leases.c.owner == owner, leases.c.until <= now))
                .values(owner=owner, until=until)
            )
            return bool(done.rowcount)

        result: bool = await self._write(take)
        return result

    async def release_lease(self, name: str, owner: str) -> None:
        """Give lease *name* up at once, if *owner* holds it."""
        statement = delete(leases).where(leases.c.name == name, leases.c.owner == owner)
        await self._write(lambda conn: conn.execute(statement))

    # -- wake-ups --------------------------------------------------------------------------

    async def listen_deliveries(
        self, callback: Callable[[], None], *, retry: float = 2.0
    ) -> DeliveryListener | None:
        """Call *callback* whenever deliveries are queued by any process (PostgreSQL's
        LISTEN/NOTIFY); None on SQLite, where the sender's poll is the only way."""
        if self.dialect != "postgresql":
            return None
        listener = DeliveryListener(self, callback, retry)
        await listener.start()
        return listener
