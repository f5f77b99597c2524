"""The store methods ingest relies on, on SQLite and PostgreSQL (see conftest.store):
summaries and deliveries written with the articles, teaser pages, feeds and their state, and
the 0001 -> 0002 migration keeping existing data."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from bot.deliver.rules import PushRules
from bot.errors import NotFound
from bot.models import FeedSettings, FeedState, NewArticle
from bot.store import SqlStore, create_engine, head_revision, upgrade
from tests.helpers import START, FakeClock

NOW = datetime(2025, 6, 10, 12, 0, tzinfo=UTC)


def art(n: int, **kw: object) -> NewArticle:
    fields: dict[str, object] = {
        "title": f"Titre {n}",
        "text": f"Le corps de l'article {n}, sur la politique des prix.",
    }
    fields.update(kw)
    return NewArticle(**fields)  # type: ignore[arg-type]


async def subscribed_store(store: SqlStore) -> None:
    """Chats 1..4 on categories Économie and Sport, with filters, one inactive chat."""
    await store.add_articles([art(0, category="Économie"), art(100, category="Sport")])
    for chat in (1, 2, 3, 4):
        await store.upsert_chat(chat)
    await store.subscribe(1, "economie")
    await store.subscribe(2, "economie", ["+pétrole", "-bourse"])
    await store.subscribe(3, "sport")
    await store.subscribe(4, "economie")
    async with store.engine.begin() as conn:
        await conn.execute(text("UPDATE chats SET active = false WHERE id = 4"))


# -- summaries and deliveries in the same transaction -----------------------------------------


async def test_add_articles_writes_summary_and_queues_deliveries(store: SqlStore) -> None:
    await subscribed_store(store)
    result = await store.add_articles(
        [
            art(1, category="ÉCONOMIE", summary=("Une phrase.",)),
            art(2, category="Économie", title="Le Pétrole flambe", text="La bourse chute."),
            art(3, category="Économie", title="Le pétrole baisse", text="Les prix reculent."),
            art(4, category="Sport"),
            art(5),
        ],
        summary_key=("lead", "2"),
    )
    first, second, third, fourth, _ = result.ids
    assert await store.get_summary(first, "lead", "2") == ["Une phrase."]
    assert await store.get_summary(second, "lead", "2") is None
    queued = {(d.chat_id, d.article_id) for d in await store.list_deliveries(status="pending")}
    assert queued == {(1, first), (1, second), (1, third), (2, third), (3, fourth)}
    assert result.queued == 5
    delivery = (await store.list_deliveries(chat_id=2))[0]
    assert (delivery.status, delivery.attempts, delivery.article_id) == ("pending", 0, third)


async def test_duplicates_and_racing_writers_are_queued_once(store: SqlStore) -> None:
    await subscribed_store(store)
    batch = [art(i, guid=f"g{i}", category="Économie") for i in range(1, 30)]
    results = await asyncio.gather(*(store.add_articles(batch) for _ in range(3)))
    assert sum(len(r.ids) for r in results) == 29
    again = await store.add_articles(batch)
    assert again.ids == [] and again.queued == 0
    deliveries = await store.list_deliveries(chat_id=1, limit=1000)
    assert len(deliveries) == 29 and len({d.article_id for d in deliveries}) == 29
    assert sum(r.queued for r in results) == 29


# -- entries already stored -------------------------------------------------------------------


async def test_known_entries_by_guid_and_normalized_url(store: SqlStore) -> None:
    await store.add_articles(
        [art(1, guid="https://ex.org/rss#1"), art(2, url="https://ex.org/a/2?utm_source=x")]
    )
    known = await store.known_entries(
        guids=["https://ex.org/rss#1", "https://ex.org/rss#9"],
        urls=["HTTPS://ex.org/a/2/", "https://ex.org/a/3"],
    )
    assert known == {"https://ex.org/rss#1", "HTTPS://ex.org/a/2/"}
    assert await store.known_entries() == set()


# -- teasers waiting for their page ------------------------------------------------------------


async def test_teaser_pages_are_pending_then_failed_or_completed(store: SqlStore) -> None:
    await store.upsert_chat(7)
    ids = (
        await store.add_articles(
            [
                art(1, url="https://ex.org/1", page_error="HTTP 503", summary=("Teaser.",)),
                art(2, url="https://ex.org/2", page_error="timed out", category="Sport"),
                art(3, url="https://ex.org/3"),
            ]
        )
    ).ids
    pending = await store.pending_pages()
    assert [(p.id, p.attempts, p.last_error) for p in pending] == [
        (ids[0], 1, "HTTP 503"),
        (ids[1], 1, "timed out"),
    ]
    await store.subscribe(7, "sport")
    await store.fail_page(ids[1], "HTTP 404", give_up=True)
    await store.fail_page(ids[0], "HTTP 500")
    (still,) = await store.pending_pages()
    assert (still.id, still.attempts, still.last_error) == (ids[0], 2, "HTTP 500")

    await store.subscribe(7, "sport")  # already subscribed: the completed article joins Sport
    full = "Le texte intégral de la page, bien plus long que le chapeau du flux RSS."
    done = await store.complete_page(
        ids[0],
        text=full,
        title="Titre de la page",
        published=START - timedelta(hours=1),  # news when it arrived: pushed
        category="Sport",
        summary=["Phrase du texte intégral."],
    )
    assert done is True
    article = await store.get_article(ids[0])
    assert (article.text, article.title, article.published, article.category) == (
        full,
        "Titre de la page",
        START - timedelta(hours=1),
        "Sport",
    )
    assert await store.get_summary(ids[0], "default", "3w") == ["Phrase du texte intégral."]
    assert [a.id for a in await store.search("intégral")] == [ids[0]]
    assert await store.pending_pages() == []
    assert [d.article_id for d in await store.list_deliveries(chat_id=7)] == [ids[0]]
    assert (await store.find_category("sport")) is not None
    assert await store.complete_page(ids[0], text="again") is False  # no longer pending
    assert await store.complete_page(ids[2], text="not a teaser") is False


async def test_a_completed_teaser_goes_to_subscriptions_older_than_its_arrival_only(
    store: SqlStore, clock: FakeClock
) -> None:
    for chat in (1, 2):
        await store.upsert_chat(chat)
    await store.add_articles([art(0, category="Sport")])
    await store.subscribe(1, "sport")
    clock.advance(minutes=1)
    (teaser,) = (await store.add_articles([art(1, url="https://ex.org/1", page_error="503")])).ids
    clock.advance(minutes=1)
    await store.subscribe(2, "sport")  # after the teaser arrived: not for this subscription
    clock.advance(hours=1)
    assert await store.complete_page(teaser, text="La page entière.", category="Sport")
    assert [(d.chat_id, d.article_id) for d in await store.list_deliveries()] == [(1, teaser)]


async def test_a_completed_teaser_of_an_old_article_is_not_pushed(
    store: SqlStore, clock: FakeClock
) -> None:
    await store.upsert_chat(1)
    await store.add_articles([art(0, category="Sport")])
    await store.subscribe(1, "sport")
    (teaser,) = (await store.add_articles([art(1, url="https://ex.org/1", page_error="503")])).ids
    old = clock.now() - timedelta(days=3)
    assert await store.complete_page(teaser, text="Archive.", category="Sport", published=old)
    assert await store.list_deliveries() == []


# -- feeds ---------------------------------------------------------------------------------------


async def test_feed_lookup_remove_and_enable(store: SqlStore) -> None:
    feed = await store.upsert_feed("https://ex.org/rss", category="Monde")
    assert feed.origin == "admin" and feed.enabled
    assert (await store.get_feed(feed.id)).url == "https://ex.org/rss"
    assert await store.find_feed("https://ex.org/rss") == feed
    assert await store.find_feed("https://ex.org/other") is None
    with pytest.raises(NotFound):
        await store.get_feed(999)
    await store.save_feed_state(
        feed.id,
        FeedState(
            last_fetched=NOW,
            next_fetch=NOW + timedelta(days=1),
            failures=10,
            last_error="HTTP 404 Not Found",
            enabled=False,
            etag='"abc"',
            last_modified="Tue, 10 Jun 2025 10:00:00 GMT",
            title="Le Monde",
        ),
    )
    stored = await store.get_feed(feed.id)
    assert (stored.enabled, stored.failures, stored.last_error, stored.title) == (
        False,
        10,
        "HTTP 404 Not Found",
        "Le Monde",
    )
    assert (stored.etag, stored.next_fetch) == ('"abc"', NOW + timedelta(days=1))
    assert (await store.stats()).feeds_failing == 1
    enabled = await store.enable_feed(feed.id)
    assert (enabled.enabled, enabled.failures, enabled.last_error, enabled.next_fetch) == (
        True,
        0,
        None,
        None,
    )
    assert enabled.etag == '"abc"'  # validators survive
    with pytest.raises(NotFound):
        await store.enable_feed(999)

    (article_id,) = (await store.add_articles([art(1, feed_id=feed.id)])).ids
    removed = await store.remove_feed(feed.id)
    assert removed.id == feed.id and await store.list_feeds() == []
    assert (await store.get_article(article_id)).feed_id is None  # articles stay
    with pytest.raises(NotFound):
        await store.remove_feed(feed.id)


async def test_sync_feeds_adds_updates_claims_and_removes_config_feeds(store: SqlStore) -> None:
    admin = await store.upsert_feed("https://ex.org/admin", category="Perso")
    claimed = await store.upsert_feed("https://ex.org/claimed")
    first = await store.sync_feeds(
        [
            FeedSettings("https://ex.org/a", "Économie", "fr", 15),
            FeedSettings("https://ex.org/b", "World", "en"),
            FeedSettings("https://ex.org/claimed", "Sport"),
            FeedSettings("https://ex.org/a", "Ignored: the first entry of a URL wins"),
        ]
    )
    assert first.added == ["https://ex.org/a", "https://ex.org/b"]
    assert first.updated == ["https://ex.org/claimed"] and first.removed == []
    a = await store.find_feed("https://ex.org/a")
    assert a is not None and (a.category, a.language, a.interval_minutes, a.origin) == (
        "Économie",
        "fr",
        15,
        "config",
    )
    await store.save_feed_state(
        a.id, FeedState(last_fetched=NOW, next_fetch=NOW, failures=2, etag='"e"')
    )

    unchanged = await store.sync_feeds(
        [
            FeedSettings("https://ex.org/a", "Économie", "fr", 15),
            FeedSettings("https://ex.org/b", "World", "en"),
            FeedSettings("https://ex.org/claimed", "Sport"),
        ]
    )
    assert (unchanged.added, unchanged.updated, unchanged.removed) == ([], [], [])

    second = await store.sync_feeds([FeedSettings("https://ex.org/a", "Eco", "fr", 30)])
    assert second.updated == ["https://ex.org/a"]
    assert sorted(second.removed) == ["https://ex.org/b", "https://ex.org/claimed"]
    a2 = await store.get_feed(a.id)
    assert (a2.category, a2.interval_minutes, a2.failures, a2.etag) == ("Eco", 30, 2, '"e"')
    urls = [f.url for f in await store.list_feeds()]
    assert urls == [admin.url, "https://ex.org/a"]  # admin feeds are never touched
    assert claimed.id not in [f.id for f in await store.list_feeds()]


async def test_due_feeds(store: SqlStore, clock: FakeClock) -> None:
    never = await store.upsert_feed("https://ex.org/never")
    past = await store.upsert_feed("https://ex.org/past")
    future = await store.upsert_feed("https://ex.org/future")
    off = await store.upsert_feed("https://ex.org/off")
    now = clock.now()
    for feed, when, enabled in ((past, -1, True), (future, 1, True), (off, -1, False)):
        await store.save_feed_state(
            feed.id,
            FeedState(last_fetched=now, next_fetch=now + timedelta(hours=when), enabled=enabled),
        )
    assert [f.id for f in await store.due_feeds()] == [never.id, past.id]
    every = await store.due_feeds(include_not_due=True)
    assert [f.id for f in every] == [never.id, past.id, future.id]
    assert [f.id for f in await store.due_feeds(feed_ids=[future.id, past.id])] == [past.id]
    clock.advance(hours=2)  # the store's clock moves: everything is in the past
    assert len(await store.due_feeds()) == 3


# -- migration ---------------------------------------------------------------------------------


OLD_ROWS = [
    "INSERT INTO categories (id, name, key, article_count) VALUES (1, 'Économie', 'economie', 1)",
    "INSERT INTO feeds (id, url, category, enabled, failures, last_error, etag, created_at) "
    "VALUES (1, 'https://ex.org/rss', 'Économie', true, 2, 'HTTP 500', '\"v1\"', :now)",
    "INSERT INTO articles (id, guid, url, url_key, content_hash, title, text, sort_time, "
    "category_id, feed_id, stored_at, published) VALUES (1, 'g1', 'https://ex.org/a', "
    "'https://ex.org/a', 'h1', 'Le pétrole', 'Le prix du pétrole baisse encore.', :now, 1, 1, "
    ":now, :now)",
    "INSERT INTO chats (id, language, settings, active, created_at) "
    "VALUES (-1001234567890, 'en', '{\"sentences\": 5}', true, :now)",
    "INSERT INTO subscriptions (id, chat_id, category_id, filters, active, created_at) "
    "VALUES (1, -1001234567890, 1, '[\"+prix\"]', true, :now)",
    "INSERT INTO deliveries (id, chat_id, article_id, status, attempts, created_at) "
    "VALUES (1, -1001234567890, 1, 'sent', 1, :now)",
    "INSERT INTO summaries (article_id, algorithm, length, sentences, created_at) "
    "VALUES (1, 'default', '3', '[\"Le prix baisse.\"]', :now)",
]


async def test_a_0001_database_with_data_upgrades_to_head_keeping_it(empty_url: str) -> None:
    engine = create_engine(empty_url)
    try:
        assert await upgrade(engine, "0001") == (None, "0001")
        now = START
        if engine.dialect.name == "sqlite":
            now = now.replace(tzinfo=None)  # as UTCDateTime stores it
        async with engine.begin() as conn:
            for statement in OLD_ROWS:
                await conn.execute(text(statement), {"now": now} if ":now" in statement else {})
            if engine.dialect.name == "postgresql":
                for table in ("categories", "feeds", "articles", "subscriptions", "deliveries"):
                    await conn.execute(
                        text(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
                    )
        assert await upgrade(engine) == ("0001", head_revision())
    finally:
        await engine.dispose()

    store = SqlStore(create_engine(empty_url), FakeClock(), PushRules())
    try:
        article = await store.get_article(1)
        assert (article.title, article.category, article.feed_id) == ("Le pétrole", "Économie", 1)
        assert [a.id for a in await store.search("petrole")] == [1]
        (feed,) = await store.list_feeds()
        assert (feed.origin, feed.failures, feed.last_error, feed.etag) == (
            "admin",
            2,
            "HTTP 500",
            '"v1"',
        )
        chat = await store.find_chat(-1001234567890)
        assert chat is not None and chat.settings == {"sentences": 5}
        assert [s.filters for s in await store.subscriptions(-1001234567890)] == [("+prix",)]
        assert [d.status for d in await store.list_deliveries()] == ["sent"]
        assert await store.get_summary(1, "default", "3") == ["Le prix baisse."]
        assert await store.pending_pages() == []  # old articles are complete
        # and the new schema works on the upgraded database
        new = await store.add_articles(
            [art(2, category="economie", page_error="HTTP 503", url="https://ex.org/b")]
        )
        assert new.ids == [2] and new.queued == 1  # the old "+prix" subscription matches
        assert [p.id for p in await store.pending_pages()] == [2]
    finally:
        await store.close()
