"""The sender over the real store, on SQLite and PostgreSQL, with an outbox the tests script:
order, exactly once across a killed sender, leases shared by two senders, flood control, blocked
and migrated chats, retries, quiet hours, digests and pause on a clock the tests control."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.config import DeliveryConfig, SummaryConfig
from bot.deliver.limiter import SendLimiter
from bot.deliver.sender import SENT, Outcome, Sender
from bot.models import ClaimedDelivery, NewArticle
from bot.services.articles import ArticleService
from bot.services.chats import ChatService
from bot.services.subscriptions import SubscriptionService
from bot.services.summaries import SummaryService
from bot.store import SqlStore
from tests.helpers import FakeClock, drain, until

USER = 1001
GROUP = -2002
FAST = DeliveryConfig(
    messages_per_second=1000, private_chat_per_second=1000, group_per_minute=60_000
)


class ScriptedOutbox:
    """Records what would reach Telegram; `script` gives the outcomes of the next sends."""

    def __init__(self, script: Sequence[Outcome] = ()) -> None:
        self.script = list(script)
        self.sent: list[tuple[int, int]] = []
        self.digests: list[tuple[int, tuple[int, ...]]] = []
        self.calls = 0

    def _next(self) -> Outcome:
        self.calls += 1
        return self.script.pop(0) if self.script else SENT

    async def prepare_article(self, claim: ClaimedDelivery) -> None:
        """Nothing to render here."""

    async def send_article(self, chat_id: int, article_id: int, claim: ClaimedDelivery) -> Outcome:
        outcome = self._next()
        if outcome.kind in ("sent", "unconfirmed"):
            self.sent.append((chat_id, article_id))
        return outcome

    async def send_digest(
        self, chat_id: int, digest_id: int, article_ids: Sequence[int], claim: ClaimedDelivery
    ) -> Outcome:
        outcome = self._next()
        if outcome.kind == "sent":
            self.digests.append((chat_id, tuple(article_ids)))
        return outcome


def art(n: int, category: str = "Sport", **kw: object) -> NewArticle:
    return NewArticle(
        title=f"Article {n}", text=f"Le texte numéro {n}, assez long.", category=category, **kw
    )  # type: ignore[arg-type]


async def subscribed(
    store: SqlStore, *chats: int, settings: dict[str, object] | None = None
) -> None:
    await store.add_articles([art(0)])  # the category exists before anyone subscribes
    for chat in chats:
        await store.upsert_chat(chat, language="fr")
        await store.subscribe(chat, "sport")
        if settings:
            await store.update_chat_settings(chat, **settings)


def sender(store: SqlStore, outbox: ScriptedOutbox, **kw: object) -> Sender:
    """A sender on the store and its clock, which the test drives (`drain`)."""
    config = replace(
        FAST, **{k: v for k, v in kw.items() if k in DeliveryConfig.__dataclass_fields__}
    )
    return Sender(
        store,
        outbox,
        config,
        clock=store.clock,
        lease_seconds=float(kw.get("lease_seconds", 60.0)),  # type: ignore[arg-type]
        worker=str(kw.get("worker", "test-worker")),
    )


async def statuses(store: SqlStore, chat: int | None = None) -> list[str]:
    return [d.status for d in await store.list_deliveries(chat_id=chat)]


async def test_instant_sends_each_new_article_once_in_order(store: SqlStore) -> None:
    await subscribed(store, USER, GROUP)
    ids = (await store.add_articles([art(i) for i in range(1, 4)])).ids
    outbox = ScriptedOutbox()
    s = sender(store, outbox)
    assert await drain(s) == 6
    assert [a for c, a in outbox.sent if c == USER] == ids
    assert [a for c, a in outbox.sent if c == GROUP] == ids
    assert set(await statuses(store)) == {"sent"}
    assert await drain(s) == 0 and len(outbox.sent) == 6


async def test_a_chat_never_gets_articles_older_than_its_subscription(store: SqlStore) -> None:
    await store.add_articles([art(i) for i in range(5)])
    await store.upsert_chat(USER)
    await store.subscribe(USER, "Sport")
    outbox = ScriptedOutbox()
    assert await drain(sender(store, outbox)) == 0
    new = (await store.add_articles([art(9)])).ids
    await drain(sender(store, outbox))
    assert outbox.sent == [(USER, new[0])]


async def test_two_senders_claim_disjoint_rows_and_chats(store: SqlStore, clock: FakeClock) -> None:
    await subscribed(store, *range(1, 41))
    await store.add_articles([art(i) for i in range(1, 6)])
    clock.now()
    claims = await asyncio.gather(
        *(store.claim_deliveries(f"w{i}", limit=60, lease_seconds=60) for i in range(4))
    )
    ids = [c.id for batch in claims for c in batch]
    assert len(ids) == len(set(ids)) and ids
    # A chat's rows all go to one sender, which keeps their order and the chat's rate.
    owners: dict[int, set[int]] = {}
    for worker, batch in enumerate(claims):
        for claim in batch:
            owners.setdefault(claim.chat_id, set()).add(worker)
    assert all(len(workers) == 1 for workers in owners.values())
    # Once they are done with theirs, the rest of the queue is anyone's.
    await store.finish_deliveries(ids, "sent")
    while batch := await store.claim_deliveries("w9", limit=500, lease_seconds=60):
        await store.finish_deliveries([c.id for c in batch], "sent")
    assert set(await statuses(store)) == {"sent"}


async def test_a_killed_sender_is_resumed_exactly_once(store: SqlStore, clock: FakeClock) -> None:
    await subscribed(store, USER, GROUP, 3003)
    await store.add_articles([art(i) for i in range(1, 5)])
    first = ScriptedOutbox()
    dead = sender(store, first, worker="dead", lease_seconds=30, batch_size=4)
    # It claims a batch, sends two of it, then dies without a word to the store.
    claimed = await store.claim_deliveries("dead", limit=4, lease_seconds=30)
    for claim in claimed[:2]:
        await first.send_article(claim.chat_id, claim.article_id, claim)
        await store.finish_deliveries([claim.id], "sent")
    del dead
    second = ScriptedOutbox()
    alive = sender(store, second, worker="alive", lease_seconds=30)
    await drain(alive)
    # The chats with a message the dead one was sending wait for its lease to run out; the
    # one whose claimed row it had finished is free.
    assert {chat for chat, _ in second.sent} == {USER} and len(second.sent) == 3
    clock.advance(timedelta(seconds=31))
    await drain(alive)
    everything = first.sent + second.sent
    assert len(everything) == len(set(everything)) == 12
    assert set(await statuses(store)) == {"sent"}


async def test_stop_gives_claimed_rows_back_at_once(store: SqlStore) -> None:
    await subscribed(store, USER)
    await store.add_articles([art(i) for i in range(1, 6)])
    entered, gate = asyncio.Event(), asyncio.Event()

    class Slow(ScriptedOutbox):
        async def send_article(
            self, chat_id: int, article_id: int, claim: ClaimedDelivery
        ) -> Outcome:
            entered.set()
            await gate.wait()
            return await super().send_article(chat_id, article_id, claim)

    slow = Slow()
    s = sender(store, slow, private_chat_per_second=1.0)
    s.start()
    # Stop while the first message is in flight (not merely once the chat's task exists: a task
    # not yet started when the stop comes sends nothing, which made this test flaky).
    await asyncio.wait_for(entered.wait(), 30)
    gate.set()
    await s.stop(grace=5)
    assert len(slow.sent) == 1  # the message in flight finishes; nothing after it is sent
    assert (await statuses(store)).count("pending") == 4
    rest = ScriptedOutbox()
    await drain(sender(store, rest, worker="next"))
    assert len(slow.sent) + len(rest.sent) == 5 == len(set(slow.sent + rest.sent))


async def test_flood_control_pauses_and_resends_the_same_message(store: SqlStore) -> None:
    await subscribed(store, USER)
    ids = (await store.add_articles([art(1), art(2)])).ids
    outbox = ScriptedOutbox([Outcome("retry", "429", retry_after=0.2)])
    s = sender(store, outbox)
    started = asyncio.get_running_loop().time()
    await drain(s)
    assert asyncio.get_running_loop().time() - started >= 0.2
    assert outbox.sent == [(USER, ids[0]), (USER, ids[1])] and s.stats.flood_waits == 1
    assert [d.attempts for d in await store.list_deliveries()] == [1, 1]


async def test_a_blocked_bot_deactivates_the_chat(store: SqlStore) -> None:
    await subscribed(store, USER, GROUP)
    await store.add_articles([art(1), art(2)])
    outbox = ScriptedOutbox([Outcome("gone", "Forbidden: bot was blocked by the user")])
    # The first send goes to whichever chat comes first; make it the user's by queue order.
    await drain(sender(store, outbox))
    gone = [c for c in (USER, GROUP) if not (await store.find_chat(c)).active]  # type: ignore[union-attr]
    assert len(gone) == 1
    assert set(await statuses(store, gone[0])) == {"failed"}
    assert not any(s.active for s in await store.subscriptions(gone[0]))
    kept = GROUP if gone[0] == USER else USER
    assert set(await statuses(store, kept)) == {"sent"}
    result = await store.add_articles([art(3)])
    assert result.queued == 1  # only the chat still there
    stats = await store.stats()
    assert stats.chats_inactive == 1 and stats.deliveries["failed"] == 2


async def test_a_migrated_group_moves_with_its_queue(store: SqlStore) -> None:
    await subscribed(store, GROUP)
    ids = (await store.add_articles([art(1), art(2)])).ids
    outbox = ScriptedOutbox([Outcome("moved", "migrated", new_chat_id=-100777)])
    await drain(sender(store, outbox))
    assert outbox.sent == [(-100777, ids[0]), (-100777, ids[1])]
    assert await store.find_chat(GROUP) is None
    assert [s.category for s in await store.subscriptions(-100777)] == ["Sport"]
    new = (await store.add_articles([art(3)])).ids
    await drain(sender(store, outbox))
    assert outbox.sent[-1] == (-100777, new[0])


async def test_transient_errors_are_retried_with_backoff_then_failed(
    store: SqlStore, clock: FakeClock
) -> None:
    await subscribed(store, USER)
    await store.add_articles([art(1)])
    outbox = ScriptedOutbox([Outcome("retry", "Bad Gateway")] * 3)
    s = sender(store, outbox, max_attempts=3)
    await drain(s)
    assert outbox.calls == 1 and await statuses(store) == ["pending"]
    await drain(s)
    assert outbox.calls == 1  # not before its backoff
    for _ in range(2):
        clock.advance(timedelta(minutes=5))
        await drain(s)
    [delivery] = await store.list_deliveries()
    assert outbox.calls == 3 and delivery.status == "failed"
    assert delivery.last_error == "Bad Gateway" and delivery.attempts == 3


async def test_quiet_hours_hold_then_deliver(store: SqlStore, clock: FakeClock) -> None:
    await subscribed(store, USER, settings={"quiet": ["22:00", "07:00"], "timezone": "UTC"})
    clock.set(datetime(2026, 11, 27, 23, 0, tzinfo=UTC))
    await store.add_articles([art(1), art(2)])
    outbox = ScriptedOutbox()
    s = sender(store, outbox)
    await drain(s)
    assert outbox.sent == [] and await statuses(store) == ["pending", "pending"]
    clock.set(datetime(2026, 11, 28, 6, 59, tzinfo=UTC))
    assert await drain(s) == 0  # held: not even claimed
    clock.set(datetime(2026, 11, 28, 7, 0, tzinfo=UTC))
    await drain(s)
    assert len(outbox.sent) == 2


async def test_digest_sends_one_message_at_its_time(store: SqlStore, clock: FakeClock) -> None:
    settings = {"delivery": "digest", "digest_time": "08:00", "timezone": "Europe/Paris"}
    await subscribed(store, USER, settings=settings)
    clock.set(datetime(2026, 11, 27, 12, 0, tzinfo=UTC))
    ids = (await store.add_articles([art(i) for i in range(1, 8)])).ids
    outbox = ScriptedOutbox()
    s = sender(store, outbox)
    await drain(s)
    assert outbox.digests == [] and outbox.sent == []
    clock.set(datetime(2026, 11, 28, 6, 0, tzinfo=UTC))
    more = (await store.add_articles([art(8)])).ids
    await drain(s)
    assert outbox.digests == []
    clock.set(datetime(2026, 11, 28, 7, 0, 30, tzinfo=UTC))  # 08:00:30 in Paris
    await drain(s)
    assert outbox.digests == [(USER, tuple(reversed(ids + more)))]  # newest first
    assert set(await statuses(store)) == {"sent"} and outbox.sent == []
    clock.advance(timedelta(hours=1))
    await store.add_articles([art(9)])
    await drain(s)
    assert len(outbox.digests) == 1  # the next one is tomorrow


async def test_pause_and_resume(store: SqlStore) -> None:
    await subscribed(store, USER, settings={"paused": True})
    await store.add_articles([art(1)])
    outbox = ScriptedOutbox()
    s = sender(store, outbox)
    await drain(s)
    assert outbox.sent == []
    await store.update_chat_settings(USER, paused=False)  # clears the hold
    await drain(s)
    assert len(outbox.sent) == 1


async def test_running_sender_delivers_within_seconds_and_respects_the_rate(
    store: SqlStore,
) -> None:
    await subscribed(store, *range(1, 21))
    outbox = ScriptedOutbox()
    times: list[float] = []
    loop = asyncio.get_running_loop()

    class Timed(ScriptedOutbox):
        async def send_article(
            self, chat_id: int, article_id: int, claim: ClaimedDelivery
        ) -> Outcome:
            times.append(loop.time())
            return await outbox.send_article(chat_id, article_id, claim)

    s = Sender(
        store,
        Timed(),
        replace(FAST, poll_seconds=0.2),
        clock=store.clock,
        limiter=SendLimiter(50, clock=store.clock.monotonic),
        worker="w",
    )
    s.start()
    try:
        await store.add_articles([art(1)])  # queued by "another process": found by polling
        await until(lambda: len(outbox.sent) == 20)
    finally:
        await s.stop()
    assert len(outbox.sent) == 20
    assert times[-1] - times[0] >= 19 / 50 - 0.01  # 50/s at most


@pytest.mark.parametrize("field", ["messages_per_second", "group_per_minute"])
def test_config_rejects_nonsense_rates(field: str) -> None:
    from bot.config import Config, _check
    from bot.errors import ConfigError

    bad = Config(delivery=replace(DeliveryConfig(), **{field: 0}))
    with pytest.raises(ConfigError, match=f"delivery.{field}"):
        _check(bad)


async def test_an_archive_is_stored_but_not_pushed(store: SqlStore, clock: FakeClock) -> None:
    await subscribed(store, USER)
    now = clock.now()
    result = await store.add_articles(
        [
            art(1, published=now - timedelta(days=400)),  # an archive
            art(2, published=now - timedelta(hours=30)),  # late, still news
            art(3),  # no date: news
        ]
    )
    assert len(result.ids) == 3 and result.queued == 2
    outbox = ScriptedOutbox()
    await drain(sender(store, outbox))
    assert [a for _, a in outbox.sent] == result.ids[1:]


async def test_unsubscribing_drops_what_was_queued_for_that_category(store: SqlStore) -> None:
    await subscribed(store, USER, settings={"paused": True})
    await store.add_articles([art(0, category="Culture")])
    await store.subscribe(USER, "culture")
    await store.add_articles([art(1), art(2, category="Culture")])
    assert len(await store.list_deliveries(status="pending")) == 2
    assert await store.unsubscribe(USER, "sport") == 1
    [left] = await store.list_deliveries(status="pending")
    assert (await store.get_article(left.article_id)).category == "Culture"
    await store.unsubscribe(USER)
    assert await store.list_deliveries(status="pending") == []


async def test_a_settings_change_during_a_send_is_not_overwritten(
    store: SqlStore, clock: FakeClock
) -> None:
    """The sender decided "hold until tomorrow's digest" on the settings it claimed with; the
    user switched back to instant meanwhile: the hold it writes must not stick."""
    await subscribed(store, USER, settings={"delivery": "digest", "timezone": "UTC"})
    await store.add_articles([art(1)])
    now = clock.now()
    [claim] = await store.claim_deliveries("w", limit=10, lease_seconds=60)
    await store.update_chat_settings(USER, delivery="instant")  # clears the hold
    assert not await store.hold_chat(
        USER, now + timedelta(hours=5), release=[claim.id], version=claim.settings_version
    )
    outbox = ScriptedOutbox()
    await drain(sender(store, outbox))
    assert len(outbox.sent) == 1


async def test_an_error_of_ours_backs_off_instead_of_spinning(
    store: SqlStore, clock: FakeClock
) -> None:
    await subscribed(store, USER)
    await store.add_articles([art(1)])

    class Broken(ScriptedOutbox):
        async def send_article(
            self, chat_id: int, article_id: int, claim: ClaimedDelivery
        ) -> Outcome:
            self.calls += 1
            raise RuntimeError("a rendering bug")

    broken = Broken()
    s = sender(store, broken, max_attempts=2)
    await drain(s)
    await drain(s)
    assert broken.calls == 1  # backed off, not retried at once
    [delivery] = await store.list_deliveries()
    assert delivery.status == "pending" and delivery.attempts == 1
    clock.advance(timedelta(minutes=1))
    await drain(s)
    [delivery] = await store.list_deliveries()
    assert broken.calls == 2 and delivery.status == "failed"
    assert "a rendering bug" in (delivery.last_error or "")


async def test_a_chat_being_sent_by_another_sender_stays_with_it(
    store: SqlStore, clock: FakeClock
) -> None:
    await subscribed(store, USER, GROUP)
    await store.add_articles([art(1)])
    clock.now()
    [first] = await store.claim_deliveries("a", limit=1, lease_seconds=60)
    await store.add_articles([art(2)])
    second = await store.claim_deliveries("b", limit=10, lease_seconds=60)
    other = GROUP if first.chat_id == USER else USER
    assert {c.chat_id for c in second} == {other}  # the first chat's rows wait for "a"
    again = await store.claim_deliveries("a", limit=10, lease_seconds=60)
    assert {c.chat_id for c in again} == {first.chat_id}


async def test_a_chat_that_took_the_bot_back_is_reactivated(store: SqlStore) -> None:
    await subscribed(store, USER)
    await store.add_articles([art(1)])
    assert await store.deactivate_chat(USER, "blocked the bot") == 1
    assert not any(s.active for s in await store.subscriptions(USER))
    assert await store.reactivate_chat(USER)
    assert not await store.reactivate_chat(USER)  # already active
    assert all(s.active for s in await store.subscriptions(USER))
    assert (await store.add_articles([art(2)])).queued == 1
    assert [d.status for d in await store.list_deliveries()] == ["failed", "pending"]


async def test_a_digest_is_dated_by_its_readers_clock(store: SqlStore, clock: FakeClock) -> None:
    await subscribed(store, USER, settings={"timezone": "Asia/Tokyo"})
    [article_id] = (await store.add_articles([art(1)])).ids
    tokyo_morning = datetime(2026, 11, 27, 23, 0, tzinfo=UTC)  # 08:00 on the 28th in Tokyo
    clock.set(tokyo_morning)
    digest_id = await store.create_digest(USER, [article_id])
    chats = ChatService(store, SummaryConfig(), clock=store.clock)
    articles = ArticleService(store, SummaryService(store, SummaryConfig()), clock=clock)
    service = SubscriptionService(store, articles, chats, FAST)
    page = await service.digest_page(digest_id, 1, await chats.preferences(USER))
    assert page.created_at.date().isoformat() == "2026-11-28"
    assert [e.article.id for e in page.entries] == [article_id]
