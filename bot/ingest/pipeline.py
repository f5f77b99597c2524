"""The ingest pipeline: feeds in, articles with summaries and deliveries out, in named phases.

    sync       the config's [[feeds]] -> the store's feeds table (once per pipeline)
    select     the feeds that are due (store)
    per feed, several at once (bounded), each one isolated from the others:
      fetch feed   conditionally: a 304 costs nothing more               -> Fetcher
      retry        pages of teasers an earlier run could not fetch (below)
      parse        bytes -> entries (worker)                             -> parse_feed
      decide       which entries are new (one store lookup), which need their page -> Decider
      fetch page   the page of each new teaser                           -> Fetcher
      extract      its article (worker)                                  -> extract_page
      summarize    the default summary of each new article (worker)      -> bot.summarize
      store        `add_articles` per 100 articles: articles, summaries and deliveries,
                   each batch one transaction
      record       the feed's new fetch state: validators, schedule, failures

"Worker" is one thread by default (an `executor` of the caller's choice otherwise): the
CPU-bound phases run off the event loop, so the bot sharing it stays responsive, and those of
one entry go in one hop. Each phase's time is measured for the report and the benchmark.

One feed failing in any way (network, garbage, a bug) is caught, logged, recorded in its row
with the reason and backed off; it never delays or breaks the others. Every decision is the
Decider's (`bot.ingest.decide`), every byte comes through the Fetcher (`bot.ingest.fetch`),
and the parser, extractor and summarizer are injectable callables, so tests swap any of them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Protocol, TypeVar

from bot import metrics
from bot.clock import Clock
from bot.config import Config
from bot.errors import FetchError, IngestError
from bot.ingest.decide import Decider, PageCompletion
from bot.ingest.extract import PageContent, extract_page
from bot.ingest.fetch import PAGE_ACCEPT, Fetcher, FetchResult, Trust, media_type
from bot.ingest.parse import FeedEntry, ParsedFeed, parse_feed
from bot.models import (
    Feed,
    FeedSettings,
    FeedState,
    FeedSyncResult,
    NewArticle,
    PendingPage,
)
from bot.progress import Progress
from bot.store import lease_owner
from bot.store.contract import IngestStore
from bot.summarize import length_key, summarize_or_none

log = logging.getLogger(__name__)

# How long a run holds the feeds it fetches; a process that dies holding them delays those
# feeds for the others by at most this.
FEED_LEASE_SECONDS = 15 * 60
# Teaser articles retried per feed and run.
RETRY_BATCH = 20
# New articles of a feed stored per transaction: memory stays flat whatever the feed's size,
# and a run interrupted midway keeps what it stored.
STORE_BATCH = 100

OK, NOT_MODIFIED, FAILED = "ok", "not modified", "failed"

_T = TypeVar("_T")
_FAR_FUTURE = datetime.max.replace(tzinfo=UTC)


class Parser(Protocol):
    """What `parse_feed` is: bytes of one response -> entries (FeedParseError if none)."""

    def __call__(
        self,
        content: bytes,
        *,
        url: str,
        headers: Mapping[str, str] | None = None,
        base: str | None = None,
    ) -> ParsedFeed: ...


class Extractor(Protocol):
    """What `extract_page` is: page bytes -> its article, None if it has none."""

    def __call__(
        self, content: bytes | str, *, url: str | None = None, charset: str | None = None
    ) -> PageContent | None: ...


Summarizer = Callable[[str, str, str | None], tuple[str, ...] | None]
"""(text, title, language) -> the default summary, None when the text has none."""


def config_feeds(config: Config) -> list[FeedSettings]:
    """The config file's [[feeds]] (or the built-in list) as the store's feed settings."""
    return [
        FeedSettings(
            url=feed.url,
            category=feed.category or None,
            language=feed.language or None,
            interval_minutes=feed.interval_minutes,
        )
        for feed in config.feeds
    ]


@dataclass(slots=True)
class FeedReport:
    """What happened to one feed in a run."""

    feed_id: int
    url: str
    status: str = OK
    new: int = 0
    duplicates: int = 0
    queued: int = 0
    pages: int = 0
    pages_failed: int = 0
    pages_completed: int = 0
    pages_given_up: int = 0
    error: str | None = None
    malformed: str | None = None
    failures: int = 0
    disabled: bool = False
    next_fetch: datetime | None = None

    def describe(self) -> str:
        """One line for `newsbot ingest`: new / duplicate / failed with reason / not modified."""
        if self.status == FAILED:
            if self.disabled:
                return f"failed, disabled after {self.failures} failures in a row: {self.error}"
            when = self.next_fetch.strftime("%Y-%m-%d %H:%M UTC") if self.next_fetch else "?"
            return f"failed ({self.failures} in a row, next try {when}): {self.error}"
        parts = (
            [NOT_MODIFIED]
            if self.status == NOT_MODIFIED
            else [
                f"{self.new} new",
                f"{self.duplicates} duplicate(s)",
            ]
        )
        if self.pages:
            parts.append(f"{self.pages} page(s) fetched")
        if self.pages_failed:
            parts.append(f"{self.pages_failed} page(s) failed (teaser kept, retried later)")
        if self.pages_completed:
            parts.append(f"{self.pages_completed} earlier teaser(s) completed")
        if self.pages_given_up:
            parts.append(f"{self.pages_given_up} page(s) given up")
        if self.malformed:
            parts.append(f"malformed but readable: {self.malformed}")
        return ", ".join(parts)


@dataclass(slots=True)
class IngestReport:
    """What a run did, feed by feed, plus the time spent in each phase: `phases` in wall
    seconds summed over concurrent work (they can add up to more than `elapsed`),
    `phases_cpu` in CPU seconds (see `PhaseTimes`)."""

    feeds: list[FeedReport] = field(default_factory=list)
    sync: FeedSyncResult | None = None
    elapsed: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    skipped: bool = False
    phases_cpu: dict[str, float] = field(default_factory=dict)

    @property
    def new(self) -> int:
        """Articles stored by the run."""
        return sum(feed.new for feed in self.feeds)

    @property
    def failed(self) -> list[FeedReport]:
        """The feeds that failed."""
        return [feed for feed in self.feeds if feed.status == FAILED]


class PhaseTimes:
    """Time spent per phase, for the report and `bench/ingest.py`: wall seconds, and CPU
    seconds of the thread that ran the block. CPU is exact for the worker-thread phases; for
    the event-loop phases it also counts the coroutines that ran while the block awaited, so
    it is exact only when nothing runs concurrently (the benchmark's profiling pass). There,
    `cpu_clock=time.process_time` also counts what a phase hands to another thread and waits
    for, as the store does with its database work."""

    def __init__(self, cpu_clock: Callable[[], float] = time.thread_time) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)
        self._cpu_clock = cpu_clock

    @contextmanager
    def measure(self, phase: str) -> Iterator[None]:
        """Add the time spent in the block to *phase*."""
        start, start_cpu = time.perf_counter(), self._cpu_clock()
        try:
            yield
        finally:
            self.seconds[phase] += time.perf_counter() - start
            self.cpu[phase] += self._cpu_clock() - start_cpu

    def add(self, other: PhaseTimes) -> None:
        """Add the times measured elsewhere (in a worker) to these."""
        for phase, seconds in other.seconds.items():
            self.seconds[phase] += seconds
        for phase, seconds in other.cpu.items():
            self.cpu[phase] += seconds


def timed_call(
    phase: str, function: Callable[..., _T], *args: Any, **kwargs: Any
) -> tuple[_T, PhaseTimes]:
    """*function*'s result and the time it took, measured where it runs (in a worker)."""
    times = PhaseTimes()
    with times.measure(phase):
        return function(*args, **kwargs), times


class IngestPipeline:
    """Runs ingest over the store's feeds. One per process: it owns the HTTP client (unless
    given a `fetcher`) and makes sure two runs never overlap. Close it with `aclose()` or use
    it as an async context manager.

    `parser`, `extractor`, `summarizer` replace the real ones (tests pass fakes); `executor`
    runs the CPU-bound steps instead of the pipeline's own single worker thread (a process
    pool spreads them over several cores); `clock` gives "now" (the program's one clock; tests
    move a fake one); `sync_config=False` skips syncing the config's feeds; `feed_concurrency`
    and `page_concurrency` override `[ingest]`'s; `cpu_clock` is the CPU clock of the
    event-loop phases (`PhaseTimes`).
    """

    def __init__(
        self,
        store: IngestStore,
        config: Config,
        *,
        fetcher: Fetcher | None = None,
        parser: Parser = parse_feed,
        extractor: Extractor = extract_page,
        summarizer: Summarizer | None = None,
        clock: Clock,
        executor: Executor | None = None,
        decider: Decider | None = None,
        sync_config: bool = True,
        feed_concurrency: int | None = None,
        page_concurrency: int | None = None,
        cpu_clock: Callable[[], float] = time.thread_time,
    ) -> None:
        self.store = store
        self.config = config
        self._owns_fetcher = fetcher is None
        self.fetcher = fetcher or Fetcher.from_config(config, clock=clock)
        self.parser = parser
        self.extractor = extractor
        self.summarizer: Summarizer = summarizer or functools.partial(
            summarize_or_none,
            algorithm=config.summary.algorithm,
            sentences=config.summary.sentences,
            default_language=config.summary.language,
        )
        self.summary_key = (config.summary.algorithm, length_key(config.summary.sentences, None))
        # One worker thread by default: parsing, extraction and summaries hold the GIL, so
        # more threads would only take turns (and pay for switching); one is enough to keep
        # the event loop, and the bot's handlers on it, responsive.
        self._owns_executor = executor is None
        self.executor: Executor = executor or ThreadPoolExecutor(1, thread_name_prefix="ingest")
        self.clock = clock
        self.decider = decider or Decider(
            default_interval_minutes=config.ingest.interval_minutes,
            max_failures=config.ingest.max_failures,
        )
        self.sync_config = sync_config
        self.feed_concurrency = feed_concurrency or config.ingest.feed_concurrency
        self._pages = asyncio.Semaphore(page_concurrency or config.ingest.page_concurrency)
        self._running = asyncio.Lock()
        self._synced = False
        self._cpu_clock = cpu_clock
        # Who holds this pipeline's feed leases (see `run`).
        self.owner = lease_owner()

    async def __aenter__(self) -> IngestPipeline:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client and the worker thread if this pipeline created them."""
        if self._owns_fetcher:
            await self.fetcher.aclose()
        if self._owns_executor:
            self.executor.shutdown(wait=False)

    # -- the run ---------------------------------------------------------------------------

    async def sync_feeds(self) -> FeedSyncResult:
        """Phase "sync": make the store's config feeds match the config file."""
        result = await self.store.sync_feeds(config_feeds(self.config))
        self._synced = True
        for url in result.added:
            log.info("feeds: added %s from the config", url)
        for url in result.removed:
            log.info("feeds: removed %s, no longer in the config", url)
        return result

    async def run(
        self,
        *,
        include_not_due: bool = False,
        feed_ids: Sequence[int] | None = None,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Fetch every due feed once (every enabled one with `include_not_due`, or only
        `feed_ids`), concurrently. A run asked for while one is going returns at once with
        `skipped` set: the scheduler's next tick will pick up what is due then. *progress* is
        told as each feed is done: feeds done of those leased, new articles, failed feeds."""
        if self._running.locked():
            log.info("ingest: the previous run is still going; skipping this one")
            return IngestReport(skipped=True)
        async with self._running:
            started = time.perf_counter()
            times = PhaseTimes(self._cpu_clock)
            sync = None
            if self.sync_config and not self._synced:
                with times.measure("sync"):
                    sync = await self.sync_feeds()
            with times.measure("select"):
                feeds = await self.store.due_feeds(
                    include_not_due=include_not_due, feed_ids=feed_ids
                )
                # Several bot processes may share the store: each feed goes to the one that
                # takes its lease, the others leave it alone until the lease is given back.
                leased = set(
                    await self.store.lease_feeds(
                        [feed.id for feed in feeds],
                        self.owner,
                        lease_seconds=FEED_LEASE_SECONDS,
                        due_only=not include_not_due and feed_ids is None,
                    )
                )
                feeds = [feed for feed in feeds if feed.id in leased]
            claimed: set[str] = set()
            slots = asyncio.Semaphore(self.feed_concurrency)
            finished: list[FeedReport] = []

            async def one(feed: Feed) -> FeedReport:
                async with slots:
                    done = await self.ingest_feed(feed, claimed, times)
                if progress is not None:
                    finished.append(done)
                    new = sum(r.new for r in finished)
                    failed = sum(r.status == FAILED for r in finished)
                    progress(len(finished), len(feeds), new=new, failed=failed)
                return done

            try:
                reports = list(await asyncio.gather(*(one(feed) for feed in feeds)))
            finally:
                await self.store.release_feeds(sorted(leased), self.owner)
            report = IngestReport(
                reports,
                sync,
                time.perf_counter() - started,
                dict(times.seconds),
                phases_cpu=dict(times.cpu),
            )
            log.info(
                "ingest: %d feed(s), %d new article(s), %d failed, in %.1fs",
                len(reports),
                report.new,
                len(report.failed),
                report.elapsed,
            )
            return report

    async def ingest_fetched(self, feed: Feed, fetched: FetchResult) -> FeedReport | None:
        """Ingest a feed whose bytes the caller fetched already (an admin's /addfeed checked
        them before adding it), under the feed's lease; None when another process holds it
        (it ingests the feed itself)."""
        if not await self.store.lease_feeds(
            [feed.id], self.owner, lease_seconds=FEED_LEASE_SECONDS
        ):
            return None
        try:
            return await self.ingest_feed(feed, fetched=fetched)
        finally:
            await self.store.release_feeds([feed.id], self.owner)

    async def ingest_feed(
        self,
        feed: Feed,
        claimed: set[str] | None = None,
        times: PhaseTimes | None = None,
        *,
        fetched: FetchResult | None = None,
    ) -> FeedReport:
        """Every phase for one feed (from *fetched* on, when given). Never raises (but for
        cancellation): whatever goes wrong is the feed's failure, recorded in its row and in
        the report."""
        claimed = set() if claimed is None else claimed
        times = times or PhaseTimes()
        now = self.clock.now()
        report = FeedReport(feed.id, feed.url)
        state: FeedState
        try:
            state = await self._fetch_and_store(feed, now, claimed, times, report, fetched)
        except IngestError as exc:
            log.info("ingest: feed %d (%s) failed: %s", feed.id, feed.url, exc)
            state = self._failed(feed, now, exc, report)
        except Exception as exc:  # a bug or a store error must cost this feed only
            log.exception("ingest: feed %d (%s) failed unexpectedly", feed.id, feed.url)
            error = IngestError(f"internal error: {type(exc).__name__}: {exc}")
            state = self._failed(feed, now, error, report)
        report.failures, report.disabled = state.failures, not state.enabled
        metrics.feed_fetched(report.status)
        report.next_fetch = state.next_fetch
        try:
            with times.measure("record"):
                await self.store.save_feed_state(feed.id, state)
        except Exception:
            log.exception("ingest: could not record the state of feed %d", feed.id)
        if not state.enabled and feed.enabled:
            log.warning(
                "ingest: feed %d (%s) disabled after %d failures in a row: %s",
                feed.id,
                feed.url,
                state.failures,
                state.last_error,
            )
        return report

    def _failed(
        self, feed: Feed, now: datetime, error: IngestError, report: FeedReport
    ) -> FeedState:
        report.status, report.error = FAILED, str(error)
        return self.decider.after_failure(feed, now, error)

    async def _fetch_and_store(
        self,
        feed: Feed,
        now: datetime,
        claimed: set[str],
        times: PhaseTimes,
        report: FeedReport,
        fetched: FetchResult | None = None,
    ) -> FeedState:
        if fetched is None:
            with times.measure("fetch feed"):
                fetched = await self.fetcher.fetch(
                    feed.url,
                    trust=Trust.feed(feed.url),
                    etag=feed.etag,
                    last_modified=feed.last_modified,
                )
        await self._retry_pages(feed, times, report)
        if fetched.not_modified:
            report.status = NOT_MODIFIED
            return self.decider.after_success(
                feed,
                now,
                etag=fetched.etag or feed.etag,
                last_modified=fetched.last_modified or feed.last_modified,
            )
        parsed, spent = await self._off_loop(
            functools.partial(
                timed_call,
                "parse",
                self.parser,
                fetched.content,
                url=feed.url,
                headers=fetched.headers,
                base=fetched.url,
            )
        )
        times.add(spent)
        report.malformed = parsed.malformed
        # The feed's title as it is now names the articles' source (`Decider.article`).
        titled = dataclasses.replace(feed, title=parsed.title or feed.title)
        await self._store_entries(titled, parsed.entries, claimed, times, report)
        return self.decider.after_success(
            feed,
            now,
            etag=fetched.etag,
            last_modified=fetched.last_modified,
            title=parsed.title,
        )

    async def _store_entries(
        self,
        feed: Feed,
        entries: list[FeedEntry],
        claimed: set[str],
        times: PhaseTimes,
        report: FeedReport,
    ) -> None:
        with times.measure("decide"):
            known = await self.store.known_entries(
                guids=[e.guid for e in entries if e.guid], urls=[e.url for e in entries if e.url]
            )
            fresh, report.duplicates = self.decider.new_entries(entries, known, claimed)
        # Feeds list newest first; storing oldest first makes ids follow publication order.
        fresh.reverse()
        for start in range(0, len(fresh), STORE_BATCH):
            articles = await asyncio.gather(
                *(
                    self._article(feed, entry, times, report)
                    for entry in fresh[start : start + STORE_BATCH]
                )
            )
            ordered = sorted(articles, key=lambda a: a.published or _FAR_FUTURE)
            with times.measure("store"):
                added = await self.store.add_articles(ordered, summary_key=self.summary_key)
            report.new += len(added.ids)
            metrics.articles_ingested("feed", len(added.ids))
            report.duplicates += added.duplicates
            report.queued += added.queued

    async def _article(
        self, feed: Feed, entry: FeedEntry, times: PhaseTimes, report: FeedReport
    ) -> NewArticle:
        if not (self.decider.needs_page(entry) and entry.url):
            article, _, spent = await self._off_loop(
                functools.partial(
                    build_article, self.extractor, self.summarizer, self.decider, feed, entry
                )
            )
            times.add(spent)
            return article
        async with self._pages:  # bounds the pages held in memory, fetched or extracting
            page, error, _ = await self._fetch_page(feed, entry.url, times)
            article, error, spent = await self._off_loop(
                functools.partial(
                    build_article,
                    self.extractor,
                    self.summarizer,
                    self.decider,
                    feed,
                    entry,
                    page,
                    error,
                )
            )
        times.add(spent)
        if error is None:
            report.pages += 1
        else:
            report.pages_failed += 1
        return article

    async def _fetch_page(
        self, feed: Feed, url: str, times: PhaseTimes, *, retry: bool = False
    ) -> tuple[FetchResult | None, str | None, bool]:
        """An article page, or the reason it could not be had and whether the guard refused
        it (a page off the feed's origin at a private address, on another port...): such an
        entry keeps the feed's teaser, it is logged once (on its first try), and the feed is
        not counted as failing."""
        try:
            with times.measure("fetch page"):
                fetched = await self.fetcher.fetch(
                    url, trust=Trust.feed(feed.url), accept=PAGE_ACCEPT
                )
        except FetchError as exc:
            if exc.refused and not retry:
                log.warning(
                    "ingest: feed %d (%s): page %s refused, teaser kept: %s",
                    feed.id,
                    feed.url,
                    url,
                    exc,
                )
            return None, str(exc), exc.refused
        except IngestError as exc:
            return None, str(exc), False
        kind = media_type(fetched)
        if kind is None:
            return None, "not an HTML page (no Content-Type, and not HTML)", False
        if "html" not in kind and "xml" not in kind and not kind.startswith("text/"):
            return None, f"not an HTML page ({kind})", False
        return fetched, None, False

    async def _retry_pages(self, feed: Feed, times: PhaseTimes, report: FeedReport) -> None:
        """Phase "retry": fetch the pages earlier runs could not, for this feed's teasers."""
        with times.measure("decide"):
            pending = await self.store.pending_pages(feed_id=feed.id, limit=RETRY_BATCH)
        await asyncio.gather(*(self._retry_page(feed, item, times, report) for item in pending))

    async def _retry_page(
        self, feed: Feed, item: PendingPage, times: PhaseTimes, report: FeedReport
    ) -> None:
        async with self._pages:
            page, error, refused = await self._fetch_page(feed, item.url, times, retry=True)
            done, summary, error, spent = await self._off_loop(
                functools.partial(
                    build_completion,
                    self.extractor,
                    self.summarizer,
                    self.decider,
                    feed,
                    item,
                    page,
                    error,
                )
            )
        times.add(spent)
        if done is None:
            # A refused page stays refused: no point asking again.
            give_up = refused or self.decider.give_up_page(item.attempts + 1)
            with times.measure("store"):
                await self.store.fail_page(item.id, error or "failed", give_up=give_up)
            if give_up:
                report.pages_given_up += 1
            else:
                report.pages_failed += 1
            return
        with times.measure("store"):
            completed = await self.store.complete_page(
                item.id,
                text=done.text,
                title=done.title,
                author=done.author,
                published=done.published,
                category=done.category,
                summary=summary,
                summary_key=self.summary_key,
                image=done.image,
                site_name=done.site_name,
            )
        report.pages_completed += completed

    async def _off_loop(self, call: Callable[[], _T]) -> _T:
        """Run CPU-bound *call* off the event loop (in one hop: a hand-off between threads
        costs more than the call's parts), so the bot stays responsive meanwhile."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, call)


# -- the CPU-bound work, run in the executor ----------------------------------------------------
#
# Module-level functions of picklable arguments, so a process pool can run them too; each one
# returns the time it spent per phase, which the caller adds to the run's.


def _extract(
    extractor: Extractor, page: FetchResult | None, error: str | None, times: PhaseTimes
) -> tuple[PageContent | None, str | None]:
    if page is None:
        return None, error
    try:
        with times.measure("extract"):
            content = extractor(page.content, url=page.url, charset=page.charset)
    except Exception as exc:  # an extractor bug: this page only
        log.warning("ingest: extracting %s failed", page.url, exc_info=True)
        return None, f"extraction failed: {type(exc).__name__}: {exc}"
    if content is None:
        return None, "no article text in the page"
    return content, None


def _summarize(
    summarizer: Summarizer, text: str, title: str, language: str | None, times: PhaseTimes
) -> tuple[str, ...] | None:
    try:
        with times.measure("summarize"):
            return summarizer(text, title, language)
    except Exception:  # no summary is not worth losing the article over
        log.warning("ingest: summarizing %r failed", title, exc_info=True)
        return None


def build_article(
    extractor: Extractor,
    summarizer: Summarizer,
    decider: Decider,
    feed: Feed,
    entry: FeedEntry,
    page: FetchResult | None = None,
    error: str | None = None,
) -> tuple[NewArticle, str | None, PhaseTimes]:
    """Phases "extract" and "summarize" of one entry: the article to store (with its page
    when fetched), why the page failed if it did, and the time spent."""
    times = PhaseTimes()
    content, error = _extract(extractor, page, error, times)
    article = decider.article(feed, entry, content, error)
    summary = _summarize(summarizer, article.text, article.title, article.language, times)
    return dataclasses.replace(article, summary=summary), error, times


def build_completion(
    extractor: Extractor,
    summarizer: Summarizer,
    decider: Decider,
    feed: Feed,
    teaser: PendingPage,
    page: FetchResult | None,
    error: str | None,
) -> tuple[PageCompletion | None, tuple[str, ...] | None, str | None, PhaseTimes]:
    """The same for a stored teaser's retried page: how to complete it and its new summary,
    or why the page failed again."""
    times = PhaseTimes()
    content, error = _extract(extractor, page, error, times)
    if content is None:
        return None, None, error, times
    done = decider.completion(feed, teaser, content)
    title = done.title or teaser.title
    summary = _summarize(summarizer, done.text, title, teaser.language, times)
    return done, summary, None, times
