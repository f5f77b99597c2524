"""Ingest inside `newsbot run`: a PTB JobQueue job that fetches feeds as they come due.

The only ingest module that knows Telegram exists, and only for the JobQueue type.

One job ticking every minute, not one job per feed interval: when a feed is due lives in the
store (`feeds.next_fetch`), which already folds in each feed's own interval, its back-off after
failures and the server's Retry-After, survives restarts, and sees feeds an admin adds while
the bot runs. Each tick asks the store what is due, so every feed is fetched within a minute
of its time. A tick that finds the previous run still going is skipped by the pipeline.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot.config import Config
from bot.ingest.pipeline import IngestPipeline

if TYPE_CHECKING:
    from telegram.ext import CallbackContext, Job, JobQueue

log = logging.getLogger(__name__)

JOB_NAME = "ingest"
TICK = timedelta(minutes=1)


def ingest_tick(config: Config) -> timedelta:
    """How often the job asks the store what is due: a minute, or less when a feed (or the
    default) is fetched more often than that (never, with whole-minute intervals)."""
    intervals = [feed.interval_minutes for feed in config.feeds if feed.interval_minutes]
    shortest = timedelta(minutes=min([config.ingest.interval_minutes, *intervals]))
    return min(TICK, shortest)


def schedule_ingest(
    job_queue: JobQueue[Any],
    pipeline: IngestPipeline,
    config: Config,
    *,
    first: timedelta = timedelta(seconds=5),
) -> Job[Any]:
    """Register the repeating ingest job; the first run is *first* after start (the config's
    feeds are synced then). The pipeline's lifetime is the caller's: close it at shutdown."""

    async def run(context: CallbackContext[Any, Any, Any, Any]) -> None:
        report = await pipeline.run()
        for feed in report.failed:
            log.info("ingest: feed %d %s: %s", feed.feed_id, feed.url, feed.describe())

    return job_queue.run_repeating(run, interval=ingest_tick(config), first=first, name=JOB_NAME)
