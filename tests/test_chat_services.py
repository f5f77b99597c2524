"""The reader and chat services on each backend: pages, unknown categories, preferences."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config import SummaryConfig
from bot.errors import BadArgument, NotFound, UnknownCategory
from bot.models import NewArticle
from bot.services.articles import ArticleService
from bot.services.chats import ChatService, language_for
from bot.services.summaries import SummaryService
from bot.store import SqlStore
from tests.helpers import FakeClock


async def fill(store: SqlStore) -> list[int]:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    items = [
        NewArticle(
            title=f"Article {i} sur le marché",
            text=f"Le marché numéro {i} évolue. Les analystes commentent la séance {i}.",
            category="Économie" if i % 3 else "Santé",
            published=start + timedelta(hours=i),
            language="fr",
        )
        for i in range(12)
    ]
    return (await store.add_articles(items)).ids


def service(store: SqlStore) -> ArticleService:
    return ArticleService(store, SummaryService(store, SummaryConfig()), clock=store.clock)


async def test_latest_pages_with_totals(store: SqlStore) -> None:
    ids = await fill(store)
    articles = service(store)
    first = await articles.latest(size=5)
    assert [a.id for a in first.articles] == ids[::-1][:5]
    assert (first.has_more, first.total, first.first, first.last) == (True, 12, 1, 5)
    last = await articles.latest(size=5, offset=10)
    assert ([a.id for a in last.articles], last.has_more) == (ids[1::-1], False)
    eco = await articles.latest(category="ECONOMIE", size=20)
    assert eco.total == 8 and len(eco.articles) == 8 and not eco.has_more
    assert eco.category is not None and eco.category.name == "Économie"
    by_id = await articles.latest(category_id=eco.category.id, size=3)
    assert [a.id for a in by_id.articles] == [a.id for a in eco.articles[:3]]


async def test_unknown_categories(store: SqlStore) -> None:
    await fill(store)
    articles = service(store)
    with pytest.raises(UnknownCategory) as caught:
        await articles.latest(category="econmie")
    assert [c.name for c in caught.value.suggestions] == ["Économie"]
    with pytest.raises(NotFound):
        await articles.latest(category_id=987654)
    with pytest.raises(BadArgument):
        await articles.latest(size=21)


async def test_search_pages_without_counting(store: SqlStore) -> None:
    await fill(store)
    articles = service(store)
    page = await articles.search("analystes marché", size=5)
    assert len(page.articles) == 5 and page.has_more and page.total is None
    rest = await articles.search("analystes marché", size=5, offset=10)
    assert len(rest.articles) == 2 and not rest.has_more
    assert (await articles.search("   ")).articles == ()


async def test_missing_and_impossible_ids(store: SqlStore) -> None:
    articles = service(store)
    for article_id in (0, -1, 123456, 2**63, 10**30):
        with pytest.raises(NotFound):
            await articles.article(article_id)


async def test_summary_in_n_sentences(store: SqlStore) -> None:
    ids = await fill(store)
    articles = service(store)
    result = await articles.summary(ids[0], sentences=1, algorithm="lead")
    assert len(result.sentences) == 1 and result.length == 1
    with pytest.raises(BadArgument):
        await articles.summary(ids[0], sentences=0, algorithm="lead")


def test_language_from_telegram() -> None:
    assert [language_for(c) for c in ("fr", "fr-CA", "FR", "en", "de", "", None)] == [
        "fr",
        "fr",
        "fr",
        "en",
        "en",
        "en",
        "en",
    ]


async def test_preferences_are_created_on_first_contact_and_persist(store: SqlStore) -> None:
    defaults = SummaryConfig(algorithm="default", sentences=3)
    chats = ChatService(store, defaults, clock=store.clock)
    prefs = await chats.preferences(10, "fr-FR")
    assert (prefs.language, prefs.sentences, prefs.algorithm) == ("fr", 3, "default")
    assert (await store.find_chat(10)) is not None
    assert (await chats.preferences(11, "pt-BR")).language == "en"
    await chats.set_sentences(10, 5)
    await chats.set_algorithm(10, "lexrank")
    await chats.set_language(10, "en")
    # A second service has nothing cached: it reads back from the store.
    fresh = ChatService(store, defaults, clock=store.clock)
    prefs = await fresh.preferences(10, "fr")
    assert (prefs.language, prefs.sentences, prefs.algorithm) == ("en", 5, "lexrank")


async def test_bad_values_are_refused_and_bad_rows_fall_back(store: SqlStore) -> None:
    chats = ChatService(store, SummaryConfig(sentences=3), clock=store.clock)
    await chats.preferences(12, "fr")
    for call in (
        chats.set_sentences(12, 0),
        chats.set_sentences(12, 21),
        chats.set_algorithm(12, "gpt"),
        chats.set_language(12, "de"),
    ):
        with pytest.raises(BadArgument):
            await call
    await store.update_chat_settings(12, sentences="many", algorithm="gpt")
    prefs = await ChatService(store, SummaryConfig(sentences=3), clock=store.clock).preferences(12)
    assert (prefs.sentences, prefs.algorithm) == (3, "default")


async def test_a_change_made_by_another_process_is_seen_once_the_cache_expires(
    store: SqlStore, clock: FakeClock
) -> None:
    """Several bot processes share one store: what one writes, the others' caches pick up
    within `cache_ttl`, not before (the second ChatService is the other process)."""
    here = ChatService(store, SummaryConfig(sentences=3), clock=clock, cache_ttl=30)
    there = ChatService(store, SummaryConfig(sentences=3), clock=clock, cache_ttl=30)
    assert (await here.preferences(20, "fr")).sentences == 3
    await there.set_sentences(20, 5)
    await there.set_language(20, "en")
    clock.advance(seconds=29)
    assert (await here.preferences(20)).sentences == 3  # still cached
    assert here.cached(20) is not None
    clock.advance(seconds=2)
    assert here.cached(20) is None
    prefs = await here.preferences(20)
    assert (prefs.sentences, prefs.language) == (5, "en")


async def test_a_forgotten_chat_is_read_again_at_once(store: SqlStore, clock: FakeClock) -> None:
    chats = ChatService(store, SummaryConfig(sentences=3), clock=clock)
    assert (await chats.preferences(21, "fr")).sentences == 3
    await store.update_chat_settings(21, sentences=1)  # e.g. the sender migrated a chat here
    assert (await chats.preferences(21)).sentences == 3
    chats.forget(21)
    chats.forget(99)  # never cached: nothing to do
    assert (await chats.preferences(21)).sentences == 1


async def test_latest_pages_are_reused_only_for_a_few_seconds(
    store: SqlStore, clock: FakeClock
) -> None:
    await fill(store)
    summaries = SummaryService(store, SummaryConfig())
    cached = ArticleService(store, summaries, clock=clock, pages_ttl=60)
    first = await cached.latest(size=3)
    arrival = NewArticle(title="Tout nouveau", text="Une nouvelle toute fraîche arrive ici.")
    new_id = (await store.add_articles([arrival])).ids[0]
    clock.advance(seconds=59)
    assert (await cached.latest(size=3)).articles == first.articles  # within pages_ttl
    clock.advance(seconds=2)
    assert (await cached.latest(size=3)).articles[0].id == new_id
