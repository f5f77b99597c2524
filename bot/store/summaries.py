"""The summaries cache of `SqlStore`: summaries computed once, read by every reader."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    exists,
    select,
)

from bot.store.base import StoreBase, _execute, _first
from bot.store.schema import (
    articles,
    summaries,
)


def _summary_row(
    article_id: int, key: tuple[str, str], sentences: Sequence[str], now: datetime
) -> dict[str, Any]:
    return {
        "article_id": article_id,
        "algorithm": key[0],
        "length": key[1],
        "sentences": list(sentences),
        "created_at": now,
    }


class SummariesMixin(StoreBase):
    async def get_summary(self, article_id: int, algorithm: str, length: str) -> list[str] | None:
        query = select(summaries.c.sentences).where(
            summaries.c.article_id == article_id,
            summaries.c.algorithm == algorithm,
            summaries.c.length == length,
        )
        row = await self._read(_first, query)
        return list(row.sentences) if row is not None and row.sentences is not None else None

    async def put_summary(
        self, article_id: int, algorithm: str, length: str, sentences: Sequence[str]
    ) -> None:
        await self.put_summaries([(article_id, algorithm, length, sentences)])

    async def put_summaries(self, items: Iterable[tuple[int, str, str, Sequence[str]]]) -> None:
        """Cache many summaries in one transaction (import computes them in batches)."""
        now = self.clock.now()
        rows = [
            _summary_row(article_id, (algorithm, length), sentences, now)
            for article_id, algorithm, length, sentences in items
        ]
        if not rows:
            return
        statement = self._insert(summaries)
        statement = statement.on_conflict_do_update(
            index_elements=["article_id", "algorithm", "length"],
            set_={
                "sentences": statement.excluded.sentences,
                "created_at": statement.excluded.created_at,
            },
        )
        await self._write(_execute, statement, rows)

    async def article_ids_without_summary(self, algorithm: str, length: str) -> list[int]:
        """Ids of the stored articles with no cached summary for (algorithm, length), oldest
        first, in one query: what an import interrupted before its summaries left to do."""
        cached = exists().where(
            summaries.c.article_id == articles.c.id,
            summaries.c.algorithm == algorithm,
            summaries.c.length == length,
        )
        query = select(articles.c.id).where(~cached).order_by(articles.c.id)

        def run(conn: Any) -> list[int]:
            return [int(article_id) for article_id in conn.execute(query).scalars()]

        return await self._read(run)
