"""The store's side of forum topics and of the admins' feed commands, on SQLite and PostgreSQL:
a subscription's topic travels with each delivery queued for it; subscribing from another topic
moves the category and its pending deliveries; a closed topic stops its own subscriptions and
queue only, once; feed alerts are recorded compare-and-set, so two processes never tell the
same change twice."""

from __future__ import annotations

from datetime import timedelta

from bot.models import FeedState, NewArticle
from bot.services.feeds import alert_for
from bot.store import SqlStore
from tests.helpers import FakeClock

GROUP = -100900


def article(n: int, category: str) -> NewArticle:
    return NewArticle(
        title=f"Titre {n}", text=f"Texte numéro {n} de {category}.", category=category
    )


async def test_deliveries_carry_the_topic_of_their_subscription(store: SqlStore) -> None:
    await store.add_articles([article(0, "Économie"), article(1, "Culture"), article(2, "Sport")])
    await store.upsert_chat(GROUP)
    sub = await store.subscribe(GROUP, "economie", thread_id=11)
    assert (sub.category, sub.thread_id) == ("Économie", 11)
    await store.subscribe(GROUP, "culture", thread_id=12)
    await store.subscribe(GROUP, "sport")  # outside topics
    await store.add_articles([article(3, "Économie"), article(4, "Culture"), article(5, "Sport")])
    claimed = await store.claim_deliveries("w", limit=10, lease_seconds=60)
    assert sorted(c.thread_id or 0 for c in claimed) == [0, 11, 12]
    await store.release_deliveries([c.id for c in claimed])
    # Subscribing from topic 13 moves Économie there, with its pending delivery.
    await store.subscribe(GROUP, "Économie", thread_id=13)
    claimed = await store.claim_deliveries("w", limit=10, lease_seconds=60)
    assert sorted(c.thread_id or 0 for c in claimed) == [0, 12, 13]
    subs = {s.category: s.thread_id for s in await store.subscriptions(GROUP)}
    assert subs == {"Culture": 12, "Économie": 13, "Sport": None}
    # "all" of one topic, or outside topics, leaves the others.
    assert await store.unsubscribe(GROUP, thread_id=12) == 1
    assert await store.unsubscribe(GROUP) == 1  # Sport, outside topics
    assert [s.category for s in await store.subscriptions(GROUP)] == ["Économie"]


async def test_a_closed_topic_stops_its_subscriptions_and_queue_only_once(
    store: SqlStore,
) -> None:
    await store.add_articles([article(0, "Économie"), article(1, "Culture")])
    await store.upsert_chat(GROUP)
    await store.subscribe(GROUP, "économie", thread_id=21)
    await store.subscribe(GROUP, "culture", thread_id=22)
    await store.add_articles(
        [article(2, "Économie"), article(3, "Économie"), article(4, "Culture")]
    )
    claimed = await store.claim_deliveries("w", limit=1, lease_seconds=60)  # one is sending
    assert await store.deactivate_topic(GROUP, 21, "TOPIC_CLOSED") == ["Économie"]
    assert await store.deactivate_topic(GROUP, 21, "TOPIC_CLOSED") == []  # told once
    active = {s.category: s.active for s in await store.subscriptions(GROUP)}
    assert active == {"Économie": False, "Culture": True}
    failed = await store.list_deliveries(status="failed")
    assert len(failed) == 2 and {d.last_error for d in failed} == {"TOPIC_CLOSED"}
    assert claimed[0].id in {d.id for d in failed}
    pending = await store.list_deliveries(status="pending")
    assert len(pending) == 1  # Culture's
    await store.add_articles([article(5, "Économie")])
    assert len(await store.list_deliveries(status="pending")) == 1  # nothing for the topic
    await store.subscribe(GROUP, "économie", thread_id=21)  # an admin subscribes again
    assert all(s.active for s in await store.subscriptions(GROUP))


async def test_feed_alerts_are_told_once_per_change(store: SqlStore, clock: FakeClock) -> None:
    feed = await store.upsert_feed("https://example.org/rss", category="Monde")
    assert alert_for(feed) is None
    now = clock.now()
    failing = FeedState(
        now, now + timedelta(hours=1), failures=3, last_error="HTTP 500", enabled=False
    )
    await store.save_feed_state(feed.id, failing)
    feed = await store.get_feed(feed.id)
    assert alert_for(feed) == "disabled"
    assert await store.set_feed_alert(feed.id, "disabled", expected=None)
    assert not await store.set_feed_alert(feed.id, "disabled", expected=None)  # the other process
    feed = await store.get_feed(feed.id)
    assert (feed.alert, alert_for(feed)) == ("disabled", None)
    clock.advance(minutes=5)
    feed = await store.enable_feed(feed.id)
    assert (feed.alert, feed.enabled, feed.failures, alert_for(feed)) == ("enabled", True, 0, None)
    clock.advance(minutes=5)
    await store.save_feed_state(feed.id, FeedState(clock.now(), clock.now() + timedelta(hours=1)))
    feed = await store.get_feed(feed.id)
    assert alert_for(feed) == "recovered"
    assert await store.set_feed_alert(feed.id, None, expected="enabled")
    assert alert_for(await store.get_feed(feed.id)) is None
    # Disabled by an admin: nobody is told.
    feed = await store.disable_feed(feed.id)
    assert (feed.enabled, feed.alert, alert_for(feed)) == (False, "disabled", None)


async def test_article_counts_per_feed(store: SqlStore) -> None:
    one = await store.upsert_feed("https://one.example.org/rss")
    two = await store.upsert_feed("https://two.example.org/rss")
    items = [
        NewArticle(title=f"T{n}", text=f"Texte {n}.", feed_id=one.id if n < 3 else two.id)
        for n in range(4)
    ]
    await store.add_articles(items)
    await store.upsert_feed("https://three.example.org/rss")
    assert await store.feed_article_counts() == {one.id: 3, two.id: 1}
