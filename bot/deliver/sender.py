"""The sender: drains the deliveries queue into Telegram, on time, once, within its limits.

One loop per process claims batches of due deliveries (`store.claim_deliveries`: rows leased to
this sender, a chat to one sender at a time, so several processes on one PostgreSQL never send
the same row nor a chat's rows out of order), decides for each chat (`policy`: send now, send
its digest, or hold it), hands each chat's rows to one task that renders a message, then sends
it in its slot of the shared `SendLimiter` (at most `in_flight` requests at once), and records
every outcome as soon as it is known ("sent" marks are written in group commits).

A lease renewed while the sender lives and expiring soon after it dies is what lets a restart
(or another process) resume what a killed sender had claimed: rows are marked sent right after
Telegram confirms them, so a restart re-sends at most the messages in flight at the moment of
the kill, never the queue.

Telegram itself sits behind the `Outbox` protocol (implemented in `bot.chat.outbox`), which turns
the API's answers into `Outcome`s: flood control pauses every send, a blocked bot deactivates the
chat, a migrated group moves the chat, transient errors are retried up to `max_attempts`, and a
timeout after the request was sent is recorded as unconfirmed rather than risk a duplicate.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from bot import metrics
from bot.clock import Clock
from bot.config import DeliveryConfig
from bot.deliver.limiter import SendLimiter
from bot.deliver.policy import DeliveryPolicy, decide
from bot.models import ClaimedDelivery
from bot.store import lease_owner
from bot.store.contract import DeliveryQueue

log = logging.getLogger(__name__)

# Requests the sender keeps in flight; the outbox's connection pool holds as many.
MAX_IN_FLIGHT = 32
# Most articles listed in one digest; a busier day is cut to its newest.
MAX_DIGEST_ARTICLES = 50


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one message.

    kind: "sent"; "unconfirmed" (the request went out but no answer came back: not resent);
    "retry" (transient: network, server error), optionally after `retry_after` seconds of
    flood control for everyone; "gone" (blocked, kicked, chat deleted); "topic_gone" (the
    forum topic of the message was closed or deleted: that topic's subscriptions stop, the
    chat's others go on); "moved" (group became
    supergroup `new_chat_id`); "failed" (Telegram refused this message for good); "error"
    (ours: a render or store failure, retried with back-off by the sender).
    """

    kind: str
    error: str | None = None
    retry_after: float | None = None
    new_chat_id: int | None = None


SENT = Outcome("sent")

DONE = "done"
AGAIN = "again"


class Outbox(Protocol):
    """Renders and sends what the queue holds; knows Telegram, the sender does not."""

    async def prepare_article(self, claim: ClaimedDelivery) -> None:
        """Make the message of *claim* ready (read, summarize, render) before its send slot,
        so that the slot is spent on the request alone: the less time between the limiter's
        release and Telegram's receipt, the less a second there can hold more than the rate."""

    async def send_article(self, chat_id: int, article_id: int, claim: ClaimedDelivery) -> Outcome:
        """One new article of a subscribed category (title, category, summary, buttons)."""

    async def send_digest(
        self, chat_id: int, digest_id: int, article_ids: Sequence[int], claim: ClaimedDelivery
    ) -> Outcome:
        """The first page of digest *digest_id* listing *article_ids*, in the forum topic of
        *claim* (`thread_id`)."""

    async def topic_closed(
        self, chat_id: int, categories: Sequence[str], claim: ClaimedDelivery
    ) -> Outcome:
        """Tell the chat (outside any topic, where its admins see it) that the topic of
        *claim* is closed or deleted and *categories* are no longer posted there."""


@dataclass
class SenderStats:
    """Counts since start, for benchmarks and logs."""

    sent: int = 0
    unconfirmed: int = 0
    retried: int = 0
    failed: int = 0
    flood_waits: int = 0
    deactivated: int = 0
    topics_closed: int = 0
    migrated: int = 0
    digests: int = 0
    held: int = 0
    claims: int = 0
    outcomes: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class Sender:
    def __init__(
        self,
        store: DeliveryQueue,
        outbox: Outbox,
        config: DeliveryConfig,
        *,
        clock: Clock,
        limiter: SendLimiter | None = None,
        lease_seconds: float = 60.0,
        worker: str | None = None,
        in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self.store = store
        self.outbox = outbox
        self.config = config
        self.limiter = limiter or SendLimiter(
            config.messages_per_second,
            private_interval=1.0 / config.private_chat_per_second,
            group_interval=60.0 / config.group_per_minute,
            clock=clock.monotonic,
        )
        self.lease_seconds = lease_seconds
        self.clock = clock
        self.worker = worker or lease_owner()
        self.stats = SenderStats()
        self._wake = asyncio.Event()
        self._queues: dict[int, deque[ClaimedDelivery]] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}
        # chat id -> the claims whose message is being sent right now (one, or a digest's).
        self._sending: dict[int, list[ClaimedDelivery]] = {}
        # Requests in flight at once: within the outbox's connection pool, so no request waits
        # in the pool (httpx rescans its connections for each one waiting: at 1,000 messages/s
        # that, not Telegram, was the limit).
        self._in_flight = asyncio.Semaphore(in_flight)
        # Sent messages waiting for the write in progress to be marked (see `_mark_sent`).
        self._marks: list[tuple[list[int], asyncio.Future[None]]] = []
        self._marking: asyncio.Task[None] | None = None
        self._outstanding = 0
        self._room = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._lease_task: asyncio.Task[None] | None = None
        self._stopping = False

    # -- lifetime ----------------------------------------------------------------------------

    def start(self) -> None:
        """Run the sender in the background until `stop()`."""
        if self._loop_task is None:
            self._stopping = False
            self._loop_task = asyncio.create_task(self._run(), name="newsbot-sender")
            self._lease_task = asyncio.create_task(self._renew(), name="newsbot-sender-lease")

    @property
    def alive(self) -> bool:
        """Started, not stopped, and its loop has not died (for the health check)."""
        return self._loop_task is not None and not self._loop_task.done()

    def wake(self) -> None:
        """New deliveries were queued in this process: claim now instead of at the next poll."""
        self._wake.set()

    async def stop(self, grace: float = 15.0) -> None:
        """Stop claiming, let the messages in flight finish (up to *grace* seconds: PTB's
        timeouts), and give back what was claimed but not sent, so the next start or another
        process sends it at once instead of after the lease. A message cut off in the middle
        of its request may have reached the chat: it is recorded as sent, unconfirmed, rather
        than risk sending it twice."""
        self._stopping = True
        self._wake.set()
        self._room.set()
        # The loop is not cancelled but let finish its step: a claim cancelled half-way would
        # still commit in its thread and leave rows leased to nobody until the lease ends.
        if self._loop_task is not None:
            _, late = await asyncio.wait([self._loop_task], timeout=grace)
            for task in late:
                task.cancel()
        if self._lease_task is not None:
            self._lease_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lease_task
        self._loop_task = self._lease_task = None
        if self._tasks:
            _, late = await asyncio.wait(list(self._tasks.values()), timeout=grace)
            for task in late:
                task.cancel()
            if late:
                await asyncio.wait(late)
        if self._marking is not None:  # what was sent is marked before anything is given back
            await asyncio.wait([self._marking], timeout=grace)
        cut = [claim for claims in self._sending.values() for claim in claims]
        self._sending.clear()
        if cut:
            await self.store.finish_deliveries(
                [c.id for c in cut],
                "sent",
                error="unconfirmed: stopped while sending",
            )
        done = {c.id for c in cut}
        left = [c.id for queue in self._queues.values() for c in queue if c.id not in done]
        self._queues.clear()
        self._outstanding = 0
        if left:
            await self.store.release_deliveries(left)
            log.info("sender stopped; %d claimed deliveries given back to the queue", len(left))

    # -- the loop ----------------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            try:
                claimed = await self.drain_once()
            except Exception:
                log.exception("claiming deliveries failed; retrying in %.0f s", self.poll)
                claimed = 0
            if claimed:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll)

    @property
    def poll(self) -> float:
        return self.config.poll_seconds

    async def drain_once(self) -> int:
        """Claim one batch (waiting for room while the chats' queues are full) and dispatch it;
        how many deliveries were claimed."""
        room = self.config.batch_size - self._outstanding
        while room < self.config.batch_size // 2 and not self._stopping:
            self._room.clear()
            await self._room.wait()
            room = self.config.batch_size - self._outstanding
        if self._stopping:
            return 0
        claims = await self.store.claim_deliveries(
            self.worker, limit=room, lease_seconds=self.lease_seconds
        )
        if not claims:
            return 0
        self.stats.claims += 1
        by_chat: dict[int, list[ClaimedDelivery]] = defaultdict(list)
        for claim in claims:
            by_chat[claim.chat_id].append(claim)
        for chat_id, rows in by_chat.items():
            try:
                await self._dispatch(chat_id, rows)
            except Exception as exc:
                log.exception("deliveries to chat %s failed before sending", chat_id)
                await self._give_back(rows, f"sender error: {exc!r}"[:200])
        return len(claims)

    async def _give_back(self, claims: Sequence[ClaimedDelivery], error: str) -> None:
        """Return claims that met an error of ours to the queue, with an attempt counted and a
        back-off, so one bad article or chat cannot spin the sender; failed after
        `max_attempts`."""
        now = self.clock.now()
        attempts = max((c.attempts for c in claims), default=0) + 1
        ids = [c.id for c in claims]
        with contextlib.suppress(Exception):
            if attempts >= self.config.max_attempts:
                self.stats.failed += len(ids)
                await self.store.finish_deliveries(ids, "failed", error=error)
            else:
                await self.store.release_deliveries(
                    ids, error=error, attempt=True, not_before=now + _backoff(attempts)
                )

    async def _dispatch(self, chat_id: int, rows: list[ClaimedDelivery]) -> None:
        first = rows[0]
        now = self.clock.now()
        policy = DeliveryPolicy.of(first.settings, self.config)
        decision = decide(policy, now, first.hold_until, first.created_at)
        if decision.action == "hold":
            assert decision.until is not None
            self.stats.held += len(rows)
            await self.store.hold_chat(
                chat_id,
                decision.until,
                release=[r.id for r in rows],
                version=first.settings_version,
            )
            return
        if decision.action == "digest":
            assert decision.until is not None
            await self._digest(chat_id, rows, decision.until)
            return
        if first.hold_until is not None:  # quiet hours are over: clear the stale hold
            await self.store.hold_chat(chat_id, None, version=first.settings_version)
        if decision.silent:  # quiet hours, and the chat wants its posts silent, not held
            rows = [replace(row, silent=True) for row in rows]
        self._outstanding += len(rows)
        queue = self._queues.setdefault(chat_id, deque())
        queue.extend(rows)
        if chat_id not in self._tasks:
            task = asyncio.create_task(self._drain_chat(chat_id), name=f"newsbot-send-{chat_id}")
            self._tasks[chat_id] = task

    async def _drain_chat(self, chat_id: int) -> None:
        """Send a chat's claimed deliveries in order; the head of the queue is removed only once
        its outcome is recorded, so a stop in between gives it back to the store."""
        queue = self._queues[chat_id]
        cancelled = False
        try:
            while queue and not self._stopping:
                claim = queue[0]
                await self.limiter.wait_for_chat(chat_id)
                try:
                    await self.outbox.prepare_article(claim)
                    async with self._in_flight, self.limiter.slot(chat_id):
                        self._sending[chat_id] = [claim]
                        try:
                            outcome = await self.outbox.send_article(
                                chat_id, claim.article_id, claim
                            )
                        finally:
                            self._sending.pop(chat_id, None)
                except Exception as exc:  # ours (render, store), not Telegram's: back off
                    log.exception("delivery %s to chat %s failed", claim.id, chat_id)
                    outcome = Outcome("error", f"sender error: {exc!r}"[:200])
                self.stats.outcomes[outcome.kind] += 1
                metrics.delivery(outcome.kind)
                if outcome.kind == "error":
                    await self._give_back([claim], outcome.error or "sender error")
                elif await self._record(chat_id, [claim], outcome) == AGAIN:
                    continue
                queue.popleft()
                self._release_room(1)
                if outcome.kind == "topic_gone":  # the store failed the topic's other rows
                    self._drop_topic(queue, claim.thread_id)
                if outcome.kind in ("gone", "moved"):
                    self._leave(chat_id)
                    break
        except asyncio.CancelledError:
            cancelled = True
            raise
        except Exception:
            log.exception("sending to chat %s failed; its deliveries go back to the queue", chat_id)
            claims = list(queue)
            queue.clear()
            self._release_room(len(claims))
            await self._give_back(claims, "sender error")
        finally:
            self._tasks.pop(chat_id, None)
            if self._queues.get(chat_id) is queue:
                if not queue:
                    del self._queues[chat_id]
                elif not (self._stopping or cancelled):  # rows added while it was ending
                    self._tasks[chat_id] = asyncio.create_task(
                        self._drain_chat(chat_id), name=f"newsbot-send-{chat_id}"
                    )

    def _leave(self, chat_id: int) -> None:
        """The chat is gone or moved: forget what is queued for it in memory. The store has
        already failed its rows (gone) or put them back in the queue under the new id (moved),
        where the next claim finds them."""
        queue = self._queues.pop(chat_id, deque())
        self._release_room(len(queue))
        queue.clear()
        self._wake.set()

    def _drop_topic(self, queue: deque[ClaimedDelivery], thread_id: int | None) -> None:
        """Forget what is queued in memory for a closed topic (failed in the store already)."""
        kept = [c for c in queue if c.thread_id != thread_id]
        self._release_room(len(queue) - len(kept))
        queue.clear()
        queue.extend(kept)

    def _release_room(self, count: int) -> None:
        self._outstanding -= count
        self._room.set()

    async def _record(self, chat_id: int, claims: list[ClaimedDelivery], outcome: Outcome) -> str:
        """Write down what became of *claims*: DONE, or AGAIN to send them again now (after a
        flood wait, or to the chat's new id)."""
        ids = [c.id for c in claims]
        now = self.clock.now()
        kind = outcome.kind
        if kind in ("sent", "unconfirmed", "failed"):
            status = "failed" if kind == "failed" else "sent"
            if kind == "failed":
                self.stats.failed += len(ids)
                log.warning("delivery to chat %s failed: %s", chat_id, outcome.error)
            elif kind == "unconfirmed":
                self.stats.unconfirmed += len(ids)
            else:
                self.stats.sent += len(ids)
            if kind == "sent":
                await self._mark_sent(ids)
            else:
                await self.store.finish_deliveries(ids, status, error=outcome.error)
            return DONE
        if kind == "gone":
            self.stats.deactivated += 1
            log.info(
                "chat %s is gone (%s): its subscriptions are deactivated", chat_id, outcome.error
            )
            await self.store.deactivate_chat(chat_id, outcome.error or "gone")
            return DONE
        topic = claims[0].thread_id
        if kind == "topic_gone" and topic is not None:
            claim = claims[0]
            stopped = await self.store.deactivate_topic(
                chat_id, topic, outcome.error or "topic closed"
            )
            await self.store.finish_deliveries(ids, "failed", error=outcome.error)
            self.stats.failed += len(ids)
            if stopped:  # the first to see it tells the chat, once
                self.stats.topics_closed += 1
                log.info(
                    "topic %s of chat %s is closed or deleted (%s): %s stopped",
                    claim.thread_id,
                    chat_id,
                    outcome.error,
                    ", ".join(stopped),
                )
                told = await self.outbox.topic_closed(chat_id, stopped, claim)
                if told.kind != "sent":
                    log.warning("could not tell chat %s: %s", chat_id, told.error)
            return DONE
        if kind == "moved" and outcome.new_chat_id is not None:
            self.stats.migrated += 1
            log.info("chat %s moved to %s", chat_id, outcome.new_chat_id)
            await self.store.migrate_chat(chat_id, outcome.new_chat_id)
            return DONE  # back in the queue under the new id
        if outcome.retry_after is not None:  # flood control: everyone waits, then again
            self.stats.flood_waits += 1
            log.warning("flood control: sending paused for %.0f s", outcome.retry_after)
            self.limiter.pause(outcome.retry_after)
            return AGAIN
        self.stats.retried += 1
        attempts = max(c.attempts for c in claims) + 1
        if attempts >= self.config.max_attempts:
            self.stats.failed += len(ids)
            log.warning(
                "delivery to chat %s failed after %d attempts: %s", chat_id, attempts, outcome.error
            )
            await self.store.finish_deliveries(ids, "failed", error=outcome.error)
            return DONE
        await self.store.release_deliveries(
            ids, error=outcome.error, attempt=True, not_before=now + _backoff(attempts)
        )
        return DONE

    async def _mark_sent(self, ids: list[int]) -> None:
        """Mark *ids* sent, returning once that is committed, as `finish_deliveries` does.
        Messages confirmed while a mark is being written are marked together in the next
        transaction (a group commit): a transaction per message would make the store's
        threads, not Telegram, the limit of a paid broadcast."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._marks.append((ids, done))
        if self._marking is None or self._marking.done():
            self._marking = asyncio.create_task(self._write_marks(), name="newsbot-sender-marks")
        await done

    async def _write_marks(self) -> None:
        while self._marks:
            batch, self._marks = self._marks, []
            ids = [i for marked, _ in batch for i in marked]
            try:
                await self.store.finish_deliveries(ids, "sent")
            except Exception as exc:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    async def _digest(self, chat_id: int, rows: list[ClaimedDelivery], next_time: datetime) -> None:
        """Send one digest of everything pending for the chat (one per forum topic its
        subscriptions go to), then hold it until the next."""
        more = await self.store.claim_chat_deliveries(
            chat_id, self.worker, lease_seconds=self.lease_seconds
        )
        by_topic: dict[int | None, list[ClaimedDelivery]] = defaultdict(list)
        for claim in rows + more:
            by_topic[claim.thread_id].append(claim)
        retried = False
        for claims in by_topic.values():
            kind = await self._digest_of_topic(chat_id, claims, rows[0])
            if kind in ("gone", "moved"):
                return
            retried = retried or kind == "retry"
        if not retried:  # else the hold stays due: the next claim sends what is left
            await self.store.hold_chat(chat_id, next_time, version=rows[0].settings_version)

    async def _digest_of_topic(
        self, chat_id: int, claims: list[ClaimedDelivery], first: ClaimedDelivery
    ) -> str:
        """One digest message of *claims* (one chat, one topic); the outcome's kind."""
        article_ids = [c.article_id for c in sorted(claims, key=lambda c: c.id, reverse=True)]
        listed = article_ids[:MAX_DIGEST_ARTICLES]
        digest_id = await self.store.create_digest(chat_id, listed)
        # The chat's settings, the topic of these claims.
        head = dataclasses.replace(first, thread_id=claims[0].thread_id)
        await self.limiter.wait_for_chat(chat_id)
        async with self._in_flight, self.limiter.slot(chat_id):
            self._sending[chat_id] = claims
            try:
                outcome = await self.outbox.send_digest(chat_id, digest_id, listed, head)
            finally:
                self._sending.pop(chat_id, None)
        self.stats.outcomes[outcome.kind] += 1
        metrics.delivery(outcome.kind)
        if outcome.kind == "retry":
            # The hold stays due: the next claim tries again, after the flood wait or the
            # back-off of a counted attempt.
            if outcome.retry_after is not None:
                self.limiter.pause(outcome.retry_after)
                await self.store.release_deliveries([c.id for c in claims], error=outcome.error)
            else:
                await self._give_back(claims, outcome.error or "retry")
            return outcome.kind
        if outcome.kind in ("sent", "unconfirmed"):
            self.stats.digests += 1
        await self._record(chat_id, claims, outcome)
        return outcome.kind

    async def _renew(self) -> None:
        """Keep this sender's leases alive while it runs."""
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                await self.store.renew_leases(self.worker, self.lease_seconds)
            except Exception:
                log.exception("renewing delivery leases failed")


def _backoff(attempts: int) -> timedelta:
    """Wait before retry number *attempts*: 5 s, 10 s, 20 s ... capped at 10 minutes."""
    return timedelta(seconds=min(600, 5 * 2 ** (attempts - 1)))
