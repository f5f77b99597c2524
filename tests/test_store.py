"""The store contract, run on SQLite and on PostgreSQL (see conftest.store)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from bot.deliver.rules import PushRules
from bot.errors import NotFound
from bot.models import NewArticle
from bot.store import (
    SqlStore,
    create_engine,
    current_revision,
    head_revision,
    open_store,
    upgrade,
)
from bot.store.articles import search_terms
from bot.store.base import BATCH_SIZE, async_url
from bot.store.schema import metadata
from tests.helpers import FakeClock

PARIS = timezone(timedelta(hours=1))


def art(n: int, **kw: object) -> NewArticle:
    fields: dict[str, object] = {
        "title": f"Titre numéro {n}",
        "text": f"Le corps de l'article {n}. Il parle de choses variées.",
    }
    fields.update(kw)
    return NewArticle(**fields)  # type: ignore[arg-type]


async def test_round_trip_keeps_every_field_in_utc(store: SqlStore) -> None:
    published = datetime(2025, 11, 26, 10, 30, tzinfo=PARIS)
    result = await store.add_articles(
        [
            NewArticle(
                title="Poutine et le Kirghizstan",
                text="Le président russe a visité Bichkek.",
                url="https://example.org/a/1",
                guid="guid-1",
                author="Louis Joubert",
                published=published,
                category="Politique",
                language="fr",
            )
        ]
    )
    assert result.duplicates == 0 and len(result.ids) == 1
    got = await store.get_article(result.ids[0])
    assert got.title == "Poutine et le Kirghizstan"
    assert got.text == "Le président russe a visité Bichkek."
    assert (got.url, got.guid, got.author, got.category, got.language) == (
        "https://example.org/a/1",
        "guid-1",
        "Louis Joubert",
        "Politique",
        "fr",
    )
    assert got.published == published and got.published.tzinfo == UTC
    assert got.stored_at.tzinfo == UTC
    assert got.stored_at == store.clock.now()  # the store's clock, not the machine's
    assert len(got.content_hash) == 32


async def test_naive_datetimes_are_taken_as_utc(store: SqlStore) -> None:
    ids = (await store.add_articles([art(1, published=datetime(2025, 1, 2, 3, 4, 5))])).ids
    got = await store.get_article(ids[0])
    assert got.published == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


async def test_missing_article_raises_not_found(store: SqlStore) -> None:
    with pytest.raises(NotFound):
        await store.get_article(424242)


async def test_get_articles_keeps_the_order_asked_and_skips_missing_ids(store: SqlStore) -> None:
    ids = (await store.add_articles([art(i, category="Sport") for i in range(3)])).ids
    got = await store.get_articles([ids[2], 999, ids[0], ids[2]])
    assert [a.id for a in got] == [ids[2], ids[0], ids[2]]
    assert got[1].category == "Sport"
    assert await store.get_articles([]) == []


async def test_find_article_by_url_matches_the_normalized_url(store: SqlStore) -> None:
    ids = (await store.add_articles([art(1, url="https://Example.org/a/?utm_source=x")])).ids
    found = await store.find_article_by_url("https://example.org/a#top")
    assert found is not None and found.id == ids[0]
    assert await store.find_article_by_url("https://example.org/b") is None


async def test_ids_are_small_and_increasing(store: SqlStore) -> None:
    first = (await store.add_articles([art(i) for i in range(3)])).ids
    second = (await store.add_articles([art(i) for i in range(3, 5)])).ids
    assert first == [1, 2, 3] and second == [4, 5]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"guid": "same"}, {"guid": "same"}),
        (
            {"url": "https://Example.org/story/?utm_source=tw#top"},
            {"url": "HTTPS://example.org/story"},
        ),
        (
            {"title": "Même titre", "text": "Même  texte."},
            {"title": "même TITRE", "text": "MÊME texte. "},
        ),
    ],
    ids=["guid", "normalized-url", "content-hash"],
)
async def test_duplicates_are_stored_once(
    store: SqlStore, a: dict[str, object], b: dict[str, object]
) -> None:
    first = await store.add_articles([art(1, **a)])
    second = await store.add_articles([art(2, **b)])
    within = await store.add_articles([art(3, guid="x"), art(4, guid="x")])
    assert (len(first.ids), first.duplicates) == (1, 0)
    assert (second.ids, second.duplicates) == ([], 1)
    assert (len(within.ids), within.duplicates) == (1, 1)
    assert await store.count_articles() == 2


async def test_racing_writers_store_each_article_once(store: SqlStore) -> None:
    batch = [art(i, guid=f"g{i}") for i in range(50)]
    results = await asyncio.gather(*(store.add_articles(batch) for _ in range(4)))
    assert sum(len(r.ids) for r in results) == 50
    assert sum(r.duplicates for r in results) == 150
    assert await store.count_articles() == 50


async def test_reads_run_alongside_a_write(store: SqlStore) -> None:
    await store.add_articles([art(i, category="Sport") for i in range(20)])
    write = store.add_articles([art(i, category="Sport") for i in range(20, 1200)])
    reads = [store.latest(5, category="sport") for _ in range(20)]
    added, *pages = await asyncio.gather(write, *reads)
    assert len(added.ids) == 1180
    assert all(len(page) == 5 for page in pages)
    assert await store.count_articles(category="sport") == 1200


async def test_an_in_memory_sqlite_store_works_on_its_one_connection() -> None:
    # No second engine can open the same in-memory database: it runs on the async engine.
    store = await open_store("sqlite+aiosqlite:///:memory:", clock=FakeClock(), rules=PushRules())
    try:
        (article_id,) = (await store.add_articles([art(1, text="Le pétrole monte.")])).ids
        assert [a.id for a in await store.search("petrole")] == [article_id]
        assert (await store.get_article(article_id)).title == "Titre numéro 1"
    finally:
        await store.close()


def test_a_sqlite_store_serves_one_event_loop_after_another(tmp_path: Path) -> None:
    async def write() -> SqlStore:
        store = await open_store(
            f"sqlite+aiosqlite:///{tmp_path / 'loops.db'}", clock=FakeClock(), rules=PushRules()
        )
        await store.add_articles([art(1)])
        return store

    store = asyncio.run(write())

    async def read() -> list[int]:
        try:
            return [a.id for a in await store.latest()]
        finally:
            await store.close()

    assert asyncio.run(read()) == [1]


async def test_latest_is_newest_first_with_future_dates_capped(store: SqlStore) -> None:
    now = store.clock.now()
    await store.add_articles(
        [
            art(1, published=now - timedelta(days=2)),
            art(2, published=now - timedelta(hours=1)),
            art(3, published=now + timedelta(days=30)),  # a feed lying about the future
            art(4, published=now - timedelta(days=1)),
        ]
    )
    titles = [a.title for a in await store.latest(10)]
    assert titles == ["Titre numéro 3", "Titre numéro 2", "Titre numéro 4", "Titre numéro 1"]
    assert [a.title for a in await store.latest(2, offset=1)] == [
        "Titre numéro 2",
        "Titre numéro 4",
    ]


async def test_categories_match_case_and_accent_insensitively(store: SqlStore) -> None:
    await store.add_articles(
        [
            art(1, category="Économie"),
            art(2, category="economie"),
            art(3, category="ÉCONOMIE "),
            art(4, category="Politique"),
            art(5),
        ]
    )
    cats = await store.categories()
    assert [(c.name, c.article_count) for c in cats] == [("Économie", 3), ("Politique", 1)]
    found = await store.find_category("economie")
    assert found is not None and found.name == "Économie" and found.article_count == 3
    assert await store.find_category("Sport") is None
    assert [a.title for a in await store.latest(10, category="ECONOMIE")] == [
        "Titre numéro 3",
        "Titre numéro 2",
        "Titre numéro 1",
    ]
    assert await store.latest(10, category="Sport") == []
    assert await store.count_articles(category="économie") == 3
    assert [c.name for c in await store.suggest_categories("ecnomie")] == ["Économie"]
    assert [c.name for c in await store.suggest_categories("pol")] == ["Politique"]


async def test_search_is_accent_and_case_insensitive_and_ands_words(store: SqlStore) -> None:
    await store.add_articles(
        [
            art(1, title="La croissance de l'économie française", text="Le PIB progresse."),
            art(2, title="Élections", text="Le président s'exprime sur l'ÉCONOMIE."),
            art(3, title="Football", text="Le match de samedi."),
        ]
    )
    assert [a.id for a in await store.search("economie")] == [2, 1]
    assert [a.id for a in await store.search("ÉCONOMIE président")] == [2]
    assert [a.id for a in await store.search("l'économie francaise")] == [1]
    assert [a.id for a in await store.search("econ")] == [2, 1]  # word prefix
    assert [a.id for a in await store.search("economie", 1, offset=1)] == [1]
    assert await store.search("   ") == []
    assert await store.search("rugby") == []


@pytest.mark.parametrize("query", ['"', "OR", "AND NOT", "*", "NEAR(a b)", "a:b", "!&|()", "x'--"])
async def test_search_treats_operators_as_words(store: SqlStore, query: str) -> None:
    await store.add_articles([art(1)])
    assert await store.search(query) == []


def test_search_terms_drop_single_letters_unless_alone() -> None:
    assert search_terms("l'Économie d'été") == ["economie", "ete"]
    assert search_terms("a") == ["a"]


async def test_newer_than_and_iter_articles(store: SqlStore) -> None:
    ids = (
        await store.add_articles(
            [art(i, category="Sport" if i % 2 else "Culture") for i in range(BATCH_SIZE + 20)]
        )
    ).ids
    newer = await store.newer_than(ids[9], category="sport", limit=3)
    assert [a.id for a in newer] == [ids[11], ids[13], ids[15]]
    assert all(a.category == "Sport" for a in newer)
    seen = [a.id async for a in store.iter_articles()]
    assert seen == ids
    culture = [a.id async for a in store.iter_articles(category="CULTURE")]
    assert culture == ids[::2]


async def test_feeds_upsert_keeps_one_row_per_url(store: SqlStore) -> None:
    first = await store.upsert_feed("https://ex.org/rss", category="Monde", language="fr")
    second = await store.upsert_feed("https://ex.org/rss", category="World", interval_minutes=5)
    assert first.id == second.id
    assert (second.category, second.language, second.interval_minutes) == ("World", None, 5)
    assert [f.url for f in await store.list_feeds()] == ["https://ex.org/rss"]


async def test_chats_settings_and_subscriptions(store: SqlStore) -> None:
    await store.add_articles([art(1, category="Économie"), art(2, category="Sport")])
    chat_id = -1001234567890  # a supergroup id: needs 64 bits
    chat = await store.upsert_chat(chat_id, language="en")
    assert (chat.id, chat.language, chat.settings) == (chat_id, "en", {})
    assert (await store.upsert_chat(chat_id)).language == "en"  # kept when not given
    updated = await store.update_chat_settings(chat_id, sentences=5, algorithm="lexrank")
    assert updated.settings == {"sentences": 5, "algorithm": "lexrank"}
    again = await store.find_chat(chat_id)
    assert again is not None and again.settings == {"sentences": 5, "algorithm": "lexrank"}
    assert await store.find_chat(42) is None
    with pytest.raises(NotFound):
        await store.update_chat_settings(42, sentences=1)

    sub = await store.subscribe(chat_id, "economie", ["+prix", "-bourse"])
    assert (sub.category, sub.filters) == ("Économie", ("+prix", "-bourse"))
    again_sub = await store.subscribe(chat_id, "ÉCONOMIE")
    assert again_sub.id == sub.id and again_sub.filters == ()
    await store.subscribe(chat_id, "sport")
    assert [s.category for s in await store.subscriptions(chat_id)] == ["Économie", "Sport"]
    with pytest.raises(NotFound):
        await store.subscribe(chat_id, "Météo")
    assert await store.unsubscribe(chat_id, "Sport") == 1
    assert await store.unsubscribe(chat_id, "Sport") == 0
    assert await store.unsubscribe(chat_id) == 1
    assert await store.subscriptions(chat_id) == []


async def test_summary_cache(store: SqlStore) -> None:
    (article_id,) = (await store.add_articles([art(1)])).ids
    assert await store.get_summary(article_id, "default", "3") is None
    await store.put_summary(article_id, "default", "3", ["Une.", "Deux."])
    await store.put_summary(article_id, "default", "3", ["Une.", "Trois."])
    await store.put_summary(article_id, "lead", "10%", ["Une."])
    assert await store.get_summary(article_id, "default", "3") == ["Une.", "Trois."]
    assert await store.get_summary(article_id, "lead", "10%") == ["Une."]


async def test_stats_counts_everything(store: SqlStore) -> None:
    await store.add_articles(
        [art(1, category="Économie"), art(2, category="Économie"), art(3, category="Sport"), art(4)]
    )
    await store.upsert_feed("https://ex.org/rss")
    await store.upsert_chat(7)
    await store.subscribe(7, "sport")
    stats = await store.stats()
    assert stats.articles == 4 and stats.uncategorized == 1
    assert stats.articles_per_category == [("Économie", 2), ("Sport", 1)]
    assert (stats.feeds, stats.feeds_failing, stats.chats, stats.subscriptions) == (1, 0, 1, 1)
    assert stats.deliveries == {}


async def test_schema_is_at_head_and_matches_the_metadata(store: SqlStore) -> None:
    assert await current_revision(store.engine) == head_revision()

    def diff(connection: object) -> list[object]:
        context = MigrationContext.configure(connection)  # type: ignore[arg-type]
        return [
            d
            for d in compare_metadata(context, metadata)
            # full-text search lives outside the metadata on purpose (see bot.store.schema)
            if "articles_fts" not in repr(d) and "search" not in repr(d)
        ]

    async with store.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_upgrading_again_keeps_data(store: SqlStore, store_url: str) -> None:
    await store.add_articles([art(1, category="Culture")])
    engine = create_engine(store_url)
    try:
        before, after = await upgrade(engine)
    finally:
        await engine.dispose()
    assert before == after == head_revision()
    assert [a.title for a in await store.latest(5, category="culture")] == ["Titre numéro 1"]


def test_async_url_maps_plain_urls_to_async_drivers() -> None:
    assert async_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    assert async_url("postgres://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert async_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert async_url("postgresql+asyncpg://u@h/db") == "postgresql+asyncpg://u@h/db"


async def test_refresh_article_replaces_the_text_in_place(store: SqlStore) -> None:
    first, other = (await store.add_articles([art(1, url="https://e.org/a"), art(2)])).ids
    await store.put_summary(first, "default", "3", ["Ancien résumé."])
    assert await store.refresh_article(
        first, title="Titre corrigé", text="Un texte entièrement nouveau sur les cormorans."
    )
    article = await store.get_article(first)
    assert (article.title, article.url) == ("Titre corrigé", "https://e.org/a")
    assert await store.get_summary(first, "default", "3") is None
    assert [a.id for a in await store.search("cormorans")] == [first]
    assert await store.search("variées") == [(await store.get_article(other))]
    # The text of another article is refused (content hashes stay unique); a missing id too.
    twin = await store.get_article(other)
    assert not await store.refresh_article(first, title=twin.title, text=twin.text)
    assert not await store.refresh_article(99_999, title="x", text="y")


async def test_feed_ids_beyond_the_column_are_no_feed(store: SqlStore) -> None:
    """`feeds remove 999999999999999999999999` was an overflow in the driver (issue 13)."""
    huge = 10**24
    for call in (store.get_feed, store.remove_feed, store.enable_feed):
        with pytest.raises(NotFound, match=f"no feed {huge}"):
            await call(huge)
    with pytest.raises(NotFound):
        await store.get_feed(2**31)
    assert await store.due_feeds(include_not_due=True, feed_ids=[huge, -1, 2**31]) == []


def test_two_upgrades_at_once_on_an_empty_postgresql_database_both_succeed() -> None:
    """Two processes starting together on an empty database: without the advisory lock one
    failed with a duplicate key in pg_type (issue 13)."""
    from tests.conftest import scratch_postgres

    async def race(url: str) -> list[tuple[str | None, str | None]]:
        engines = [create_engine(url) for _ in range(4)]
        try:
            return list(await asyncio.gather(*(upgrade(engine) for engine in engines)))
        finally:
            for engine in engines:
                await engine.dispose()

    with scratch_postgres("newsbot_race") as url:
        results = asyncio.run(race(url))
    head = head_revision()
    assert all(after == head for _, after in results)
    assert sorted(before or "" for before, _ in results) == ["", head, head, head]
