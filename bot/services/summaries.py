"""Summaries as readers get them: looked up in the store's cache, computed off the event loop
on a miss, and computed ahead of time for new articles so a reader's request is a lookup."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from concurrent.futures import Executor

from bot.config import SummaryConfig
from bot.models import Article
from bot.progress import Progress
from bot.store.contract import SummaryCache
from bot.summarize import length_key, summarize, summarize_or_none

# How many articles to summarize per round trip to the store when precomputing.
PRECOMPUTE_BATCH = 64


class SummaryService:
    """Cached summaries of stored articles."""

    def __init__(self, store: SummaryCache, config: SummaryConfig) -> None:
        self.store = store
        self.config = config

    async def summary(
        self,
        article: Article,
        *,
        algorithm: str | None = None,
        sentences: int | None = None,
        ratio: float | None = None,
    ) -> list[str]:
        """The summary of *article*, from the cache or computed in a worker thread and cached.

        Raises SummaryError when the article has no summarizable text or the algorithm is
        unknown.
        """
        algorithm = algorithm or self.config.algorithm
        sentences = sentences or self.config.sentences
        cached = await self.store.get_summary(article.id, algorithm, length_key(sentences, ratio))
        if cached is not None:
            return cached
        return await self.compute(article, algorithm=algorithm, sentences=sentences, ratio=ratio)

    async def compute(
        self, article: Article, *, algorithm: str, sentences: int, ratio: float | None = None
    ) -> list[str]:
        """Summarize *article* in a worker thread and cache the result (the caller has looked
        in the cache already)."""
        result = await asyncio.to_thread(
            summarize,
            article.text,
            title=article.title,
            language=article.language,
            algorithm=algorithm,
            sentences=sentences,
            ratio=ratio,
            default_language=self.config.language,
        )
        await self.store.put_summary(article.id, algorithm, length_key(sentences, ratio), result)
        return result

    async def missing(self) -> list[int]:
        """Ids of the stored articles without their default summary: the new ones of an
        import, and those an interrupted import stored but never summarized (one query).

        Articles too short to summarize have none either, so they are tried again each time;
        that costs the summarizer's quick refusal, not a summary.
        """
        key = length_key(self.config.sentences, None)
        return await self.store.article_ids_without_summary(self.config.algorithm, key)

    async def precompute(
        self,
        article_ids: Sequence[int],
        executor: Executor | None = None,
        *,
        progress: Progress | None = None,
    ) -> int:
        """Compute and cache the default summary of each article; how many were cached.

        Runs in *executor* (a process pool spreads the work over the cores), else in threads.
        *progress* is told after each batch the articles done of all, and how many were
        summarized (an article too short to summarize has none).
        """
        loop = asyncio.get_running_loop()
        algorithm, sentences = self.config.algorithm, self.config.sentences
        key = length_key(sentences, None)
        summarizer = functools.partial(
            summarize_or_none,
            algorithm=algorithm,
            sentences=sentences,
            default_language=self.config.language,
        )
        done = 0
        for start in range(0, len(article_ids), PRECOMPUTE_BATCH):
            batch = await self.store.get_articles(article_ids[start : start + PRECOMPUTE_BATCH])
            results = await asyncio.gather(
                *(
                    loop.run_in_executor(
                        executor, summarizer, article.text, article.title, article.language
                    )
                    for article in batch
                )
            )
            rows = [
                (article.id, algorithm, key, result)
                for article, result in zip(batch, results, strict=True)
                if result is not None
            ]
            await self.store.put_summaries(rows)
            done += len(rows)
            if progress is not None:
                progress(start + len(batch), len(article_ids), summarized=done)
        return done
