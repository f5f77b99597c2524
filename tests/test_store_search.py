"""Search follows one rule on SQLite and PostgreSQL (README, "Search"):

- a word is a run of letters and digits, case and accents aside; anything else separates words
  (`<script>` is the word "script", `covid-19` the words "covid" and "19");
- an article matches when it has every word of the query (one-letter words are dropped unless
  nothing else is left);
- each word matches whole, except the last one, which of 3 letters or more also matches as the
  start of a word (search as you type);
- newest first.

Each query runs on both backends (the `store` fixture).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection

from bot.deliver.rules import PushRules
from bot.models import NewArticle
from bot.store import SqlStore, create_engine, upgrade
from bot.store.articles import PG_MERGE_AFTER, search_terms, search_words
from bot.store.migrate import alembic_config
from tests.helpers import FakeClock

ARTICLES = {
    "script": ("<script>alert(1)</script>", "Une page piégée."),
    "covid": ("Covid-19 : la vague d’hiver", "Les hôpitaux se préparent."),
    "site": (
        "news.example.org change d’adresse",
        "Le site https://news.example.org/a_b?x=1 déménage.",
    ),
    "pi": ("Le prix passe à 3.14 euros", "Écrire à user@example.com ou lire foo_bar."),
    "eco": ("L’économie « repart »", "Croissance de 0,5 %, selon l’Insee."),
    "ru": ("Москва под снегом", "Зима пришла рано."),
}


def articles() -> list[NewArticle]:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    return [
        NewArticle(
            title=title,
            text=text,
            url=f"https://example.net/{name}",
            published=start + timedelta(hours=i),
            category="Tests",
        )
        for i, (name, (title, text)) in enumerate(ARTICLES.items())
    ]


QUERIES = [
    # Markup, hyphens, hosts, numbers, addresses and underscores are words and separators.
    ("script alert", ["script"]),
    ("<script>", ["script"]),
    ("alert(1)", ["script"]),
    ("covid 19", ["covid"]),
    ("covid-19", ["covid"]),
    ("19", ["covid"]),
    ("news example org", ["site"]),
    ("news.example.org", ["site"]),
    ("https", ["site"]),
    ("example", ["pi", "site"]),
    ("3.14", ["pi"]),
    ("14", ["pi"]),
    ("foo_bar", ["pi"]),
    ("bar", ["pi"]),
    ("user@example.com", ["pi"]),
    ("l’économie", ["eco"]),
    ("ECONOMIE repart", ["eco"]),
    ("0,5", ["eco"]),
    # Only the last word, of 3 letters or more, also matches as a prefix.
    ("scri", ["script"]),
    ("alert scri", ["script"]),
    ("scri alert", []),
    ("econ", ["eco"]),
    ("repart econ", ["eco"]),
    ("econ repart", []),
    ("ec", []),
    ("hopitau", ["covid"]),
    ("hopitau prepar", []),
    ("hopitaux prepar", ["covid"]),
    # SQLite reads prefixes of 3 and 4 letters from a prefix index (migration 0012), longer
    # ones from the words: the same rule whatever the length, in letters, not bytes.
    ("rep", ["eco"]),
    ("Éco", ["eco"]),
    ("hôp", ["covid"]),
    ("vague hiv", ["covid"]),
    ("hiver vag", ["covid"]),
    ("МОС", ["ru"]),
    ("снегом моск", ["ru"]),
    ("моск", ["ru"]),
    ("москв", ["ru"]),
    ("scr alert", []),
]


@pytest.mark.parametrize(("query", "expected"), QUERIES)
async def test_search_follows_one_rule_on_both_backends(
    store: SqlStore, query: str, expected: list[str]
) -> None:
    result = await store.add_articles(articles())
    names = dict(zip(result.ids, ARTICLES, strict=True))
    found = [names[a.id] for a in await store.search(query)]
    assert found == expected, f"{store.dialect}: {query!r}"


def test_search_terms_are_runs_of_letters_and_digits() -> None:
    assert search_terms("<script>alert(1)</script>") == ["script", "alert", "script"]
    assert search_terms("foo_bar covid-19") == ["foo", "bar", "covid", "19"]
    assert search_terms("3.14 l’été") == ["14", "ete"]


def test_an_article_is_indexed_by_the_words_a_query_reads() -> None:
    """PostgreSQL's index holds `search_words` (computed by the store): every word a query
    can ask for, folded as the query is, once; never a word PostgreSQL cannot index."""
    title = "L’économie « repart » : Straße, ﬁn, <b>covid-19</b>"
    body = "Re\u0301sultats de l’économie : foo_bar, 3.14 " + "x" * 3000
    words = search_words(title, body)
    assert len(words) == len(set(words))
    for query in ("l’économie", "STRASSE", "fin", "covid-19", "résultats", "foo_bar", "3.14"):
        assert set(search_terms(query)) <= set(words), query
    assert "x" * 3000 not in words  # over PostgreSQL's 2,047 bytes a lexeme
    assert search_words("Titre", "") == ["titre"]


async def test_an_article_written_by_another_path_is_found_too(store: SqlStore) -> None:
    """On PostgreSQL the store writes the search words itself (migration 0009); a row that
    another program inserts or edits with SQL still gets them from the database."""
    if store.dialect != "postgresql":
        pytest.skip("SQLite's full-text table is kept by triggers on every path")
    async with store.engine.begin() as conn:
        await conn.exec_driver_sql(
            "INSERT INTO articles (content_hash, title, text, sort_time, stored_at) "
            "VALUES ('h1', 'Écluses', 'Le canal rouvre.', '2025-01-01Z', '2025-01-01Z')"
        )
    (article,) = await store.search("ecluses canal")
    async with store.engine.begin() as conn:
        await conn.exec_driver_sql("UPDATE articles SET text = 'La péniche passe.'")
    assert await store.search("canal") == []
    assert [a.id for a in await store.search("ecluses peniche")] == [article.id]


@pytest.mark.parametrize(("window", "analyzed"), [(3, False), (3, True), (1000, False)])
async def test_search_finds_the_same_newest_first_whichever_plan_answers(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch, window: int, analyzed: bool
) -> None:
    """PostgreSQL looks among the newest articles first, then asks the index: a small window
    (most matches older than it) and a large one (all within it) give the same pages; so
    does the index when the table's statistics say a prefix is best checked on the rows of
    the other words."""
    import bot.store.articles as store_articles

    monkeypatch.setattr(store_articles, "PG_SEARCH_WINDOW", window)
    ids = (
        await store.add_articles(
            NewArticle(title=f"Dépêche {i}", text=("marée haute" if i % 4 == 0 else "calme"))
            for i in range(24)
        )
    ).ids
    answers: list[bool] = []
    if store.dialect == "postgresql" and analyzed:
        async with store.engine.begin() as conn:
            await conn.exec_driver_sql("ANALYZE articles")
        # (a table of 24 rows has no prefix 10 times as common as a word: any will do here)
        monkeypatch.setattr(store_articles, "PG_PREFIX_AS_FILTER_RATIO", 0)
        few_rows = store_articles._in_few_rows

        def spy(conn: Connection, whole: str, typed: str, statistics: Any) -> bool:
            answers.append(few_rows(conn, whole, typed, statistics))
            return answers[-1]

        monkeypatch.setattr(store_articles, "_in_few_rows", spy)
    matching = [i for n, i in enumerate(ids) if n % 4 == 0][::-1]
    assert [a.id for a in await store.search("maree", limit=4)] == matching[:4]
    assert [a.id for a in await store.search("haute mar", limit=4, offset=4)] == matching[4:]
    assert [a.id for a in await store.search("calme", limit=2)] == ids[:-3:-1]
    assert await store.search("maree calme") == []
    assert [a.id for a in await store.search("haute mar", limit=20)] == matching
    assert [a.id for a in await store.search("haute dep", limit=20)] == matching
    assert await store.search("calme mar") == []
    if store.dialect == "postgresql" and analyzed:
        assert True in answers  # "dep" was checked on the rows of "haute"


async def test_a_word_the_index_reads_as_two_finds_nothing_instead_of_failing(
    store: SqlStore,
) -> None:
    """A New Tai Lue vowel sign is a letter to Python but a separator to SQLite's FTS5 (its
    Unicode tables are older); the quoted word is then a phrase, which an index without word
    positions cannot answer."""
    await store.add_articles(articles())
    assert await store.search("script a\u19b0b") == []
    assert [a.title for a in await store.search("script")] == [ARTICLES["script"][0]]


@pytest.mark.parametrize("revision", ["0010", "0012"])
async def test_search_survives_a_downgrade_and_upgrade_of_its_index(
    empty_url: str, revision: str
) -> None:
    """Migrations 0010 (no word positions) and 0012 (prefix indexes) rebuild SQLite's index
    from the stored articles, and their downgrades rebuild the old one: each answers the same
    searches, and keeps up with articles stored, changed and deleted afterwards."""
    before = ScriptDirectory.from_config(alembic_config()).get_revision(revision).down_revision
    assert isinstance(before, str)
    engine = create_engine(empty_url)
    try:
        await upgrade(engine, before)
        store = SqlStore(engine, FakeClock(), PushRules())
        ids = (await store.add_articles(articles())).ids
        names = dict(zip(ids, ARTICLES, strict=True))
        for step in (command.upgrade, command.downgrade, command.upgrade):
            target = before if step is command.downgrade else "head"
            async with engine.begin() as conn:
                await conn.run_sync(_migrate, step, target)
            for query, expected in QUERIES:
                found = [names[a.id] for a in await store.search(query)]
                assert found == expected, f"{target}: {query!r}"
        new = (await store.add_articles([NewArticle(title="Marée basse", text="Au port.")])).ids
        assert [a.id for a in await store.search("maree bas")] == new
        async with engine.begin() as conn:
            await conn.execute(
                text("UPDATE articles SET title = 'Marée haute' WHERE id = :i"), {"i": new[0]}
            )
            await conn.execute(text("DELETE FROM articles WHERE id = :i"), {"i": ids[0]})
        assert await store.search("maree bas") == []
        assert [a.id for a in await store.search("maree haut")] == new
        assert await store.search("script alert") == []
    finally:
        await engine.dispose()


async def test_a_bulk_write_leaves_the_search_index_merged(empty_url: str) -> None:
    """Migration 0011 moves the GIN pending-list limit from the index to the sessions: the
    store's keep 1 MB, a bulk write (an import's batch) lets the list grow in its own
    transactions and merges it once at its end, a small write leaves its entries pending.
    The downgrade puts the limit back on the index; both backends migrate both ways."""
    engine = create_engine(empty_url)
    index_options = (
        "SELECT reloptions FROM pg_class WHERE relname = 'ix_articles_search'",
        "SELECT gin_clean_pending_list('ix_articles_search')",
    )
    try:
        await upgrade(engine, "0010")
        for step, target in ((command.upgrade, "head"), (command.downgrade, "0010")):
            async with engine.begin() as conn:
                await conn.run_sync(_migrate, step, target)
                if engine.dialect.name == "postgresql":
                    options = (await conn.exec_driver_sql(index_options[0])).scalar_one()
                    assert options == (
                        None if target == "head" else ["gin_pending_list_limit=1024"]
                    )
        async with engine.begin() as conn:
            await conn.run_sync(_migrate, command.upgrade, "head")
        store = SqlStore(engine, FakeClock(), PushRules())
        bulk = [
            NewArticle(title=f"Dépêche {i}", text=f"Mot{i} marée") for i in range(PG_MERGE_AFTER)
        ]
        ids = (await store.add_articles(bulk)).ids
        small = (await store.add_articles([NewArticle(title="Dernière", text="Marée basse")])).ids
        assert [a.id for a in await store.search("maree", limit=3)] == (small + ids[::-1])[:3]
        assert [a.id for a in await store.search("mot7 depeche")] == [ids[7]]
        if engine.dialect.name == "postgresql":
            async with engine.begin() as conn:
                limit = (await conn.exec_driver_sql("SHOW gin_pending_list_limit")).scalar_one()
                assert limit == "1MB"
                # Only the small write's page was left to merge.
                assert (await conn.exec_driver_sql(index_options[1])).scalar_one() == 1
    finally:
        await engine.dispose()


def _migrate(connection: Connection, step: Callable[[Config, str], None], target: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    step(config, target)
