"""Retention for `SqlStore`: deleting finished deliveries and old articles in small batches.

Each batch is its own short transaction (a few thousand rows at most), so a prune never holds
SQLite's write lock, or PostgreSQL's row locks, for long: the bot keeps answering and sending
between two batches. Nothing still to be sent is ever deleted: a delivery is deleted only once
sent or failed, and an article only when no delivery of it is pending or being sent (deleting
it would cascade to those).

On SQLite, the pages freed are then handed back to the file system a slice at a time
(`PRAGMA incremental_vacuum`) when the database was created with `auto_vacuum = INCREMENTAL`
(every database created since migration 0007; see `bot.store.base`). An older file keeps its
size but reuses the freed pages, so it stops growing all the same.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, exists, func, or_, select
from sqlalchemy.engine import Connection

from bot.store.base import StoreBase
from bot.store.contract import PruneResult
from bot.store.queue import FAILED, PENDING, SENDING, SENT
from bot.store.schema import articles, categories, deliveries, digests

# Rows deleted per transaction. A batch of deliveries (narrow rows, two indexes) takes a few
# milliseconds; an article also deletes its search rows, summaries and deliveries, hence fewer.
DELIVERY_BATCH = 5000
ARTICLE_BATCH = 500
# SQLite pages (4 KiB) returned to the file system per transaction.
VACUUM_PAGES = 2000

# FTS5 "merge" slices (pages of index work each) after deleting articles, at most.
FTS_MERGE_PAGES = 500
FTS_MERGE_STEPS = 200

# (what, done, total): called after each batch; `what` is "deliveries", "digests", "articles"
# or "vacuum" (pages), `total` the count found before deleting.
PruneProgress = Callable[[str, int, int], None]


class RetentionMixin(StoreBase):
    """`prune`: what `[store] keep_deliveries_days` and `keep_articles_days` ask for."""

    async def prune(
        self,
        *,
        deliveries_before: datetime | None,
        articles_before: datetime | None,
        dry_run: bool = False,
        progress: PruneProgress | None = None,
    ) -> PruneResult:
        result = PruneResult(dry_run=dry_run)
        steps: list[tuple[str, Any, Callable[[Connection], int]]] = []
        if deliveries_before is not None:
            steps.append(
                (
                    "deliveries",
                    _old_deliveries(deliveries_before),
                    lambda conn: _delete_deliveries(conn, deliveries_before),
                )
            )
            steps.append(
                (
                    "digests",
                    digests.c.created_at < deliveries_before,
                    lambda conn: _delete_digests(conn, deliveries_before),
                )
            )
        if articles_before is not None:
            steps.append(
                (
                    "articles",
                    _old_articles(articles_before),
                    lambda conn: _delete_articles(conn, articles_before),
                )
            )
        for what, where, step in steps:
            table = {"deliveries": deliveries, "digests": digests, "articles": articles}[what]
            total = await self._read(_count, table, where)
            done = 0
            if not dry_run:
                while done < total:
                    deleted = await self._write(step)
                    if not deleted:
                        break  # what is left became unprunable meanwhile (queued again)
                    done += deleted
                    if progress is not None:
                        progress(what, done, total)
            setattr(result, what, total if dry_run else done)
        if not dry_run and self.dialect == "sqlite" and self._sync_engine is not None:
            if result.articles:
                await self._merge_search_index()
            result.vacuumed_pages = await self._vacuum(progress)
        return result

    async def _merge_search_index(self) -> None:
        """Let FTS5 merge its segments, a bounded slice of work per transaction: deleting an
        article only adds a tombstone to the index, whose space comes back when the segments
        holding it are merged (without this the index kept growing after the window)."""
        for _ in range(FTS_MERGE_STEPS):
            if not await self._write(_fts_merge_step):
                return

    async def _vacuum(self, progress: PruneProgress | None) -> int:
        """Hand SQLite's free pages back to the file system, VACUUM_PAGES per transaction;
        how many were freed (0 on a file not in incremental auto-vacuum mode)."""
        mode, free = await self._read(_vacuum_state)
        if mode != 2 or not free:  # 2: INCREMENTAL
            return 0
        done = 0
        while done < free:
            freed = await self._write(_vacuum_step)
            if not freed:
                break
            done += freed
            if progress is not None:
                progress("vacuum", min(done, free), free)
        return done


def _old_deliveries(before: datetime) -> Any:
    """Finished deliveries queued before *before*, and finished before it too (a delivery
    held a month by a pause and sent yesterday is kept a while)."""
    return and_(
        deliveries.c.created_at < before,
        # Wrapped (status is never NULL) so that no planner reaches for ix_deliveries_status_id:
        # SQLite did, and then counted or scanned every sent delivery (3 million at 30 days of
        # bench/retention.py) instead of the old ones through ix_deliveries_created_at.
        func.coalesce(deliveries.c.status, "").in_((SENT, FAILED)),
        or_(deliveries.c.sent_at.is_(None), deliveries.c.sent_at < before),
    )


def _old_articles(before: datetime) -> Any:
    """Articles dated (as `latest` sorts them) before *before* with nothing left to send."""
    waiting = exists().where(
        deliveries.c.article_id == articles.c.id,
        deliveries.c.status.in_((PENDING, SENDING)),
    )
    return and_(articles.c.sort_time < before, ~waiting)


def _count(conn: Connection, table: Any, where: Any) -> int:
    return int(conn.execute(select(func.count()).select_from(table).where(where)).scalar_one())


def _delete_deliveries(conn: Connection, before: datetime) -> int:
    # The oldest first, through ix_deliveries_created_at: a batch never scans recent rows.
    ids = select(deliveries.c.id).where(_old_deliveries(before)).limit(DELIVERY_BATCH)
    done = conn.execute(delete(deliveries).where(deliveries.c.id.in_(ids.scalar_subquery())))
    return int(done.rowcount)


def _delete_digests(conn: Connection, before: datetime) -> int:
    ids = select(digests.c.id).where(digests.c.created_at < before).limit(DELIVERY_BATCH)
    done = conn.execute(delete(digests).where(digests.c.id.in_(ids.scalar_subquery())))
    return int(done.rowcount)


def _delete_articles(conn: Connection, before: datetime) -> int:
    """One batch of old articles; their summaries, search rows and (finished) deliveries go
    with them (foreign keys with ON DELETE CASCADE, the FTS5 trigger on SQLite). The category
    counts are kept right in the same transaction."""
    rows = conn.execute(
        select(articles.c.id, articles.c.category_id)
        .where(_old_articles(before))
        .order_by(articles.c.sort_time, articles.c.id)
        .limit(ARTICLE_BATCH)
    ).all()
    if not rows:
        return 0
    ids = [row.id for row in rows]
    # Deleted explicitly rather than left to the cascade, so that a delivery queued since the
    # select (a racing writer) makes this delete skip its article: it is checked again here.
    conn.execute(
        delete(deliveries).where(
            deliveries.c.article_id.in_(ids), deliveries.c.status.in_((SENT, FAILED))
        )
    )
    still_waiting = set(
        conn.execute(
            select(deliveries.c.article_id).where(deliveries.c.article_id.in_(ids))
        ).scalars()
    )
    doomed = [row for row in rows if row.id not in still_waiting]
    if not doomed:
        return 0
    conn.execute(delete(articles).where(articles.c.id.in_([row.id for row in doomed])))
    removed = Counter(row.category_id for row in doomed if row.category_id is not None)
    if removed:
        conn.execute(
            categories.update()
            .where(categories.c.id == bindparam("category"))
            .values(article_count=categories.c.article_count - bindparam("removed")),
            [{"category": cid, "removed": n} for cid, n in removed.items()],
        )
    return len(doomed)


def _fts_merge_step(conn: Connection) -> bool:
    """One slice of FTS5 merge work; whether there was any to do."""
    before = int(conn.exec_driver_sql("SELECT total_changes()").scalar_one())
    conn.exec_driver_sql(
        f"INSERT INTO articles_fts(articles_fts, rank) VALUES ('merge', {-FTS_MERGE_PAGES})"
    )
    return int(conn.exec_driver_sql("SELECT total_changes()").scalar_one()) != before


def _vacuum_state(conn: Connection) -> tuple[int, int]:
    mode = int(conn.exec_driver_sql("PRAGMA auto_vacuum").scalar_one())
    free = int(conn.exec_driver_sql("PRAGMA freelist_count").scalar_one())
    return mode, free


def _vacuum_step(conn: Connection) -> int:
    before = int(conn.exec_driver_sql("PRAGMA freelist_count").scalar_one())
    conn.exec_driver_sql(f"PRAGMA incremental_vacuum({VACUUM_PAGES})")
    after = int(conn.exec_driver_sql("PRAGMA freelist_count").scalar_one())
    return before - after
