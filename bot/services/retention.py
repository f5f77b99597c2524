"""Bounded growth: what `[store] keep_deliveries_days` and `keep_articles_days` let go, deleted
by the daily job of `newsbot run` and by `newsbot prune`. The cut-off dates are decided here,
from the clock; the store deletes in short batches and never what is still to be sent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from bot.clock import Clock
from bot.config import StoreConfig
from bot.store.contract import PruneResult, Retention

# (what, done, total) after each batch: "deliveries", "digests", "articles" or "vacuum".
Progress = Callable[[str, int, int], None]


async def prune(
    store: Retention,
    config: StoreConfig,
    clock: Clock,
    *,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> PruneResult:
    """Delete (with `dry_run`, count) deliveries finished more than `keep_deliveries_days`
    ago and, when `keep_articles_days` is set, articles dated before that; 0 keeps forever."""
    now = clock.now()
    days_deliveries, days_articles = config.keep_deliveries_days, config.keep_articles_days
    return await store.prune(
        deliveries_before=now - timedelta(days=days_deliveries) if days_deliveries else None,
        articles_before=now - timedelta(days=days_articles) if days_articles else None,
        dry_run=dry_run,
        progress=progress,
    )


def describe(result: PruneResult) -> str:
    """One line for a log or a terminal."""
    verb = "would delete" if result.dry_run else "deleted"
    line = (
        f"{verb} {result.deliveries} deliveries, {result.digests} digests, "
        f"{result.articles} articles"
    )
    if result.vacuumed_pages:
        line += f"; {result.vacuumed_pages} free pages returned to the file system"
    return line
