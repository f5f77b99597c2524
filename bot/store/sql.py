"""`SqlStore`: the article store on SQLAlchemy 2, for SQLite and PostgreSQL, assembled from one
part per table group over `StoreBase` (bot/store/base.py), which runs each method's statements
as one synchronous function on one connection:

    articles.py   articles, teasers, reading, search, categories
    queue.py      deliveries (queued as articles are stored), claims, holds, digests
    feeds.py      feeds, their fetch state and ingestion leases
    chats.py      chats, settings, subscriptions
    summaries.py  the summaries cache
    cluster.py    several processes as one bot: shared send rate, processes, leases, wake-ups
    retention.py  deleting old deliveries and articles in short batches

The two backends share every query but two: full-text search (FTS5 vs tsvector) and the
dialect-specific `INSERT ... ON CONFLICT DO NOTHING`, which both support with the same
semantics. See `bot.store.contract` for what each method promises.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    func,
    or_,
    select,
)
from sqlalchemy.engine import Connection

from bot.models import (
    StoreStats,
)
from bot.store.articles import ArticlesMixin
from bot.store.base import async_url, create_engine, describe_store, redact
from bot.store.chats import ChatsMixin
from bot.store.cluster import ClusterMixin
from bot.store.feeds import FeedsMixin
from bot.store.retention import RetentionMixin
from bot.store.schema import (
    articles,
    chats,
    deliveries,
    feeds,
    subscriptions,
)
from bot.store.summaries import SummariesMixin

__all__ = ["SqlStore", "async_url", "create_engine", "describe_store", "redact"]


class SqlStore(ArticlesMixin, FeedsMixin, ChatsMixin, SummariesMixin, RetentionMixin, ClusterMixin):
    """The article store on an SQLAlchemy engine. Build it with `bot.store.open_store`."""

    async def stats(self) -> StoreStats:
        category_rows = self._category_rows()

        def run(conn: Connection) -> StoreStats:
            def count(query: Any) -> int:
                return int(conn.execute(query).scalar_one())

            total = count(select(func.count()).select_from(articles))
            uncategorized = count(
                select(func.count()).select_from(articles).where(articles.c.category_id.is_(None))
            )
            per_category = conn.execute(category_rows).all()
            feed_count = count(select(func.count()).select_from(feeds))
            failing = count(
                select(func.count())
                .select_from(feeds)
                .where(or_(feeds.c.failures > 0, feeds.c.enabled.is_(False)))
            )
            chat_count = count(select(func.count()).select_from(chats))
            sub_count = count(select(func.count()).select_from(subscriptions))
            by_status = conn.execute(
                select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
            ).all()
            ordered = sorted(per_category, key=lambda r: (-r.article_count, r.key))
            return StoreStats(
                articles=total,
                articles_per_category=[(r.name, r.article_count) for r in ordered],
                uncategorized=uncategorized,
                feeds=feed_count,
                feeds_failing=failing,
                chats=chat_count,
                subscriptions=sub_count,
                deliveries={status: n for status, n in by_status},
                chats_inactive=count(
                    select(func.count()).select_from(chats).where(chats.c.active.is_(False))
                ),
            )

        return await self._read(run)
