"""Retention (`[store] keep_*_days`, `newsbot prune`), on SQLite and PostgreSQL: exactly what is
old and finished goes, nothing still to be sent, and the counts stay right."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.config import StoreConfig
from bot.models import NewArticle
from bot.services.retention import describe, prune
from bot.store import SqlStore
from bot.store.retention import ARTICLE_BATCH
from bot.store.schema import articles, deliveries, digests, summaries
from tests.helpers import FakeClock, run_cli

KEEP_30 = StoreConfig(keep_deliveries_days=30, keep_articles_days=30)
WORKER = "test-worker"


def article(name: str, category: str | None = "Sport") -> NewArticle:
    return NewArticle(
        title=f"Match {name}",
        text=f"Le récit du match {name}, minute par minute.",
        category=category,
        summary=[f"Résumé {name}."],
    )


async def rows(store: SqlStore, table: object) -> int:
    async with store.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


async def statuses(store: SqlStore) -> dict[tuple[int, int], str]:
    found = await store.list_deliveries(limit=1000)
    return {(d.chat_id, d.article_id): d.status for d in found}


async def test_prune_deletes_exactly_the_old_finished_rows(
    store: SqlStore, clock: FakeClock
) -> None:
    for chat in (1, 2):
        await store.upsert_chat(chat)
    await store.add_articles([article("seed")])  # the category exists before the subscriptions
    for chat in (1, 2):
        await store.subscribe(chat, "sport")
    # 40 days ago: A1 sent to chat 1, failed for chat 2; a digest; A2 claimed by a sender
    # that died (still "sending"); A3 queued but never sent (chat 2 paused, say); an article
    # with no category (nothing queued).
    (a1,) = (await store.add_articles([article("A1")])).ids
    claimed = await store.claim_deliveries(WORKER, limit=10, lease_seconds=30)
    assert {c.article_id for c in claimed} == {a1}
    by_chat = {c.chat_id: c.id for c in claimed}
    await store.finish_deliveries([by_chat[1]], "sent")
    await store.finish_deliveries([by_chat[2]], "failed", error="blocked")
    digest = await store.create_digest(1, [a1])
    (a2,) = (await store.add_articles([article("A2")])).ids
    assert len(await store.claim_deliveries(WORKER, limit=10, lease_seconds=30)) == 2
    (a3,) = (await store.add_articles([article("A3")])).ids
    (loose,) = (await store.add_articles([article("loose", category=None)])).ids
    clock.advance(days=40)
    # Today: A4 sent to both chats.
    (a4,) = (await store.add_articles([article("A4")])).ids
    a4_ids = [d.id for d in await store.list_deliveries(limit=100) if d.article_id == a4]
    assert len(a4_ids) == 2
    await store.finish_deliveries(a4_ids, "sent")
    before = await statuses(store)

    counted = await prune(store, KEEP_30, clock, dry_run=True)
    assert (counted.deliveries, counted.digests, counted.articles) == (2, 1, 3)
    assert describe(counted) == "would delete 2 deliveries, 1 digests, 3 articles"
    assert await statuses(store) == before  # a dry run deletes nothing

    seen: list[tuple[str, int, int]] = []
    done = await prune(store, KEEP_30, clock, progress=lambda *step: seen.append(step))
    assert (done.deliveries, done.digests, done.articles) == (2, 1, 3)
    assert ("deliveries", 2, 2) in seen and ("articles", 3, 3) in seen

    after = await statuses(store)
    assert after == {k: v for k, v in before.items() if k[1] != a1}
    assert {k: v for k, v in after.items() if k[1] in (a2, a3)} == {
        (1, a2): "sending",
        (2, a2): "sending",
        (1, a3): "pending",
        (2, a3): "pending",
    }
    # A1 and the loose article went with their summaries; the seed article (no delivery, as
    # nobody was subscribed yet) went too; the others are whole, with their summaries.
    kept = {a.id for a in await store.latest(20)}
    assert a1 not in kept and loose not in kept
    assert {a2, a3, a4} <= kept
    assert await store.get_summary(a1, "default", "3") is None
    assert await store.get_summary(a2, "default", "3") == ["Résumé A2."]
    assert await store.search("A1") == []
    assert [a.id for a in await store.search("match A2")] == [a2]
    (sport,) = await store.categories()
    assert sport.article_count == await store.count_articles(category="sport") == 3
    with pytest.raises(Exception, match="digest"):
        await store.get_digest(digest)
    # Nothing more to do: a second prune deletes nothing.
    again = await prune(store, KEEP_30, clock)
    assert (again.deliveries, again.digests, again.articles) == (0, 0, 0)


async def test_keep_days_zero_keeps_forever(store: SqlStore, clock: FakeClock) -> None:
    await store.upsert_chat(1)
    await store.add_articles([article("seed")])
    await store.subscribe(1, "sport")
    await store.add_articles([article("old")])
    claimed = await store.claim_deliveries(WORKER, limit=10, lease_seconds=30)
    await store.finish_deliveries([c.id for c in claimed], "sent")
    clock.advance(days=400)
    forever = StoreConfig(keep_deliveries_days=0, keep_articles_days=0)
    result = await prune(store, forever, clock)
    assert (result.deliveries, result.digests, result.articles) == (0, 0, 0)
    assert await rows(store, deliveries) == 1 and await rows(store, articles) == 2
    # The default: deliveries 30 days, articles forever.
    result = await prune(store, StoreConfig(), clock)
    assert (result.deliveries, result.articles) == (1, 0)
    assert await rows(store, articles) == 2


async def test_articles_go_in_batches(store: SqlStore, clock: FakeClock) -> None:
    count = ARTICLE_BATCH * 2 + 7
    await store.add_articles([article(str(i), category=f"c{i % 3}") for i in range(count)])
    assert await rows(store, summaries) == count
    clock.advance(days=31)
    seen: list[tuple[str, int, int]] = []
    result = await prune(store, KEEP_30, clock, progress=lambda *step: seen.append(step))
    assert result.articles == count
    assert [s for s in seen if s[0] == "articles"] == [
        ("articles", ARTICLE_BATCH, count),
        ("articles", ARTICLE_BATCH * 2, count),
        ("articles", count, count),
    ]
    assert await rows(store, articles) == 0 and await rows(store, summaries) == 0
    assert await rows(store, digests) == 0
    assert all(c.article_count == 0 for c in await store.categories())
    if store.dialect == "sqlite":  # a new file is in incremental auto-vacuum mode
        assert result.vacuumed_pages > 0
        async with store.engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA auto_vacuum")).scalar_one() == 2
            assert (await conn.exec_driver_sql("PRAGMA freelist_count")).scalar_one() == 0


def test_newsbot_prune_on_the_command_line(
    sqlite_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "prune", "--dry-run")
    assert code == 0 and out.strip() == "would delete 0 deliveries, 0 digests, 0 articles"
    code, out, _ = run_cli(capsys, "prune")
    assert code == 0 and out.startswith("deleted 0 deliveries, 0 digests, 0 articles")


async def test_old_deliveries_are_found_by_their_date_on_sqlite(tmp_path: Path) -> None:
    """The batches read ix_deliveries_created_at, never every sent delivery by status."""
    from sqlalchemy.dialects import sqlite

    from bot.deliver.rules import PushRules
    from bot.store import open_store
    from bot.store.retention import _old_deliveries

    store = await open_store(
        f"sqlite+aiosqlite:///{tmp_path / 'plan.db'}", clock=FakeClock(), rules=PushRules()
    )
    try:
        query = (
            select(func.count()).select_from(deliveries).where(_old_deliveries(FakeClock().now()))
        )
        compiled = query.compile(dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True})
        async with store.engine.connect() as conn:
            plan = (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")).all()
        assert "ix_deliveries_created_at" in " ".join(str(row[-1]) for row in plan)
    finally:
        await store.close()
