"""Feed management, independent of Telegram: list, add, remove, enable, OPML in and out.

Both the CLI (`newsbot feeds ...`) and the admin chat commands (/feeds, /addfeed, /delfeed)
call this, and get plain data back to render their own way. The chat's /addfeed checks a feed
before adding it (`add_checked`: fetched through the one guarded Fetcher and parsed, its first
items ingested at once), and the bot tells its admins when a feed is disabled after repeated
failures and when it works again (`alerts`: once per change, whichever process notices).

Feeds have two origins. Those of the config file's [[feeds]] (or the built-in list) are
"config" feeds: every use of this service first syncs them into the store, and they can only
be changed in the config, since the next sync would undo any other change. Feeds added here
or by OPML import are "admin" feeds, which the sync never touches.
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.clock import Clock
from bot.config import MAX_INTERVAL_MINUTES, Config
from bot.errors import DuplicateFeed, FeedError
from bot.ingest.fetch import Trust
from bot.ingest.opml import parse_opml, render_opml
from bot.ingest.pipeline import FeedReport, IngestPipeline, config_feeds
from bot.models import Feed, FeedSyncResult
from bot.store.contract import FeedAdmin
from bot.text import clean_line
from bot.urls import normalize_url

_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*")
_MAX_CATEGORY = 200
# Feeds per page of /feeds.
FEEDS_PER_PAGE = 5
# What the admins were last told of a feed (`Feed.alert`).
ALERT_DISABLED = "disabled"
ALERT_ENABLED = "enabled"


@dataclass(frozen=True, slots=True)
class FeedChange:
    """The outcome of `add`: the feed as stored and "added", "updated" or "re-enabled"."""

    feed: Feed
    action: str


@dataclass(slots=True)
class OpmlImport:
    """The outcome of an OPML import: feeds added, updated, and skipped with the reason."""

    added: list[Feed] = field(default_factory=list)
    updated: list[Feed] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class FeedLine:
    """A feed as /feeds lists it: the feed and how many articles it brought."""

    feed: Feed
    articles: int


@dataclass(frozen=True, slots=True)
class FeedPage:
    """One page of /feeds: `number` of `pages` (1-based), `total` feeds in all."""

    lines: tuple[FeedLine, ...]
    number: int
    pages: int
    total: int


@dataclass(frozen=True, slots=True)
class FeedAdded:
    """What /addfeed did: the feed as stored after its first ingest, the feed's title, and
    that ingest's report (None when another process took the feed and ingests it)."""

    feed: Feed
    title: str | None
    report: FeedReport | None


@dataclass(frozen=True, slots=True)
class FeedAlert:
    """A change the admins are told of: "disabled" (after repeated failures) or
    "recovered" (its first good fetch since it was turned back on)."""

    feed: Feed
    kind: str


def alert_for(feed: Feed) -> str | None:
    """The alert *feed* calls for, given what the admins were last told of it: "disabled"
    once it is disabled (an admin who disables it is recorded as told); "recovered" once a
    fetch works after it was re-enabled (a fetch after the last alert, no failure since).
    Never one per failed fetch: a feed that fails but is still enabled calls for none."""
    if not feed.enabled:
        return None if feed.alert == ALERT_DISABLED else "disabled"
    if (
        feed.alert in (ALERT_DISABLED, ALERT_ENABLED)
        and not feed.failures
        and feed.last_fetched is not None
        and (feed.alert_at is None or feed.last_fetched >= feed.alert_at)
    ):
        return "recovered"
    return None


def feed_state(feed: Feed) -> str:
    """A short state for lists: "disabled", "failing (3)", "ok", or "new" (never fetched)."""
    if not feed.enabled:
        return "disabled"
    if feed.failures:
        return f"failing ({feed.failures})"
    return "ok" if feed.last_fetched else "new"


def check_feed_url(url: str) -> str:
    """*url* stripped, or FeedError unless it is an absolute http(s) URL."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or " " in url:
        raise FeedError(f"not an http(s) URL: {url!r}")
    return url


def _check_settings(
    category: str | None, language: str | None, interval_minutes: int | None
) -> str | None:
    """The category cleaned (None for none); FeedError for a setting a feed cannot have."""
    category = clean_line(category or "") or None
    if category and len(category) > _MAX_CATEGORY:
        raise FeedError(f"category longer than {_MAX_CATEGORY} characters")
    if language is not None and not _LANGUAGE.fullmatch(language.strip()):
        raise FeedError(f'not a language code like "fr" or "en-GB": {language!r}')
    if interval_minutes is not None and not 1 <= interval_minutes <= MAX_INTERVAL_MINUTES:
        raise FeedError(f"the interval must be from 1 to {MAX_INTERVAL_MINUTES} minutes (a year)")
    return category


class FeedService:
    """Feed management over the store, with the config's feeds kept in step."""

    def __init__(
        self,
        store: FeedAdmin,
        config: Config,
        *,
        clock: Clock,
        pipeline: Callable[[], IngestPipeline] | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        # What fetches, parses and ingests for /addfeed and "fetch now": the bot's own
        # pipeline, built when first needed (the shell never needs one).
        self.pipeline = pipeline
        self._synced = False

    async def sync(self) -> FeedSyncResult:
        """Bring the store's config feeds in line with the config (done once, on first use)."""
        self._synced = True
        return await self.store.sync_feeds(config_feeds(self.config))

    async def _ensure_synced(self) -> None:
        if not self._synced:
            await self.sync()

    async def feeds(self) -> list[Feed]:
        """Every feed with its state, in id order."""
        await self._ensure_synced()
        return await self.store.list_feeds()

    async def get(self, feed_id: int) -> Feed:
        """One feed; NotFound if there is none."""
        await self._ensure_synced()
        return await self.store.get_feed(feed_id)

    async def add(
        self,
        url: str,
        category: str | None,
        *,
        language: str | None = None,
        interval_minutes: int | None = None,
    ) -> FeedChange:
        """Add a feed, or update the settings of the one with this URL (re-enabling it if it
        was disabled: adding it again is the admin saying it works now)."""
        await self._ensure_synced()
        url = check_feed_url(url)
        category = _check_settings(category, language, interval_minutes)
        existing = await self.store.find_feed(url)
        if existing is not None and existing.origin == "config":
            raise FeedError(self._managed(existing))
        feed = await self.store.upsert_feed(
            url,
            category=category,
            language=language.strip() if language else None,
            interval_minutes=interval_minutes,
        )
        if existing is None:
            return FeedChange(feed, "added")
        if not existing.enabled:
            return FeedChange(await self.store.enable_feed(feed.id), "re-enabled")
        return FeedChange(feed, "updated")

    async def page(self, number: int, size: int = FEEDS_PER_PAGE) -> FeedPage:
        """Page *number* of the feeds (the last one if past it), with their article counts."""
        feeds = await self.feeds()
        counts = await self.store.feed_article_counts()
        pages = max(1, -(-len(feeds) // size))
        number = min(max(1, number), pages)
        chosen = feeds[(number - 1) * size : number * size]
        lines = tuple(FeedLine(feed, counts.get(feed.id, 0)) for feed in chosen)
        return FeedPage(lines, number, pages, len(feeds))

    async def page_with(self, feed_id: int, size: int = FEEDS_PER_PAGE) -> FeedPage:
        """The page of /feeds that shows feed *feed_id* (the first if it is gone)."""
        ids = [feed.id for feed in await self.feeds()]
        return await self.page(ids.index(feed_id) // size + 1 if feed_id in ids else 1, size)

    async def add_checked(
        self, url: str, category: str | None, *, language: str | None = None
    ) -> FeedAdded:
        """Add a feed only once it is known to work: fetched (through the guarded Fetcher, as
        a feed the operator chose) and parsed first, then stored with its category (given, or
        the feed's own), and its first items ingested at once from the same bytes.

        Raises FeedError for a bad URL or language, DuplicateFeed for a URL that is a feed
        already, FetchError when it cannot be fetched (unreachable, HTTP error: `reason`,
        `status`), FeedParseError when what it serves is not a feed."""
        await self._ensure_synced()
        pipeline = self._pipeline()
        url = check_feed_url(url)
        # The same feed under another spelling (host case, default port, trailing slash,
        # tracking parameters) is a duplicate too; the feeds are few, so compare them all.
        key = normalize_url(url)
        for existing in await self.store.list_feeds():
            if normalize_url(existing.url) == key:
                raise DuplicateFeed(existing.id, existing.url)
        _check_settings(category, language, None)
        fetched = await pipeline.fetcher.fetch(url, trust=Trust.feed(url))
        parse = functools.partial(
            pipeline.parser, fetched.content, url=url, headers=fetched.headers, base=fetched.url
        )
        parsed = await asyncio.to_thread(parse)  # CPU work: off the event loop
        change = await self.add(url, category or parsed.category, language=language)
        report = await pipeline.ingest_fetched(change.feed, fetched)
        return FeedAdded(await self.store.get_feed(change.feed.id), parsed.title, report)

    async def fetch_now(self, feed_id: int) -> FeedReport | None:
        """Fetch one enabled feed now, due or not; its report, or None when a run is already
        going or another process holds the feed (it is fetched there). NotFound if none,
        FeedError if it is disabled."""
        feed = await self.get(feed_id)
        if not feed.enabled:
            raise FeedError(f"feed {feed_id} is disabled")
        report = await self._pipeline().run(include_not_due=True, feed_ids=[feed_id])
        return next((r for r in report.feeds if r.feed_id == feed_id), None)

    async def disable(self, feed_id: int) -> Feed:
        """Stop fetching a feed until it is enabled again (its articles stay)."""
        await self._ensure_synced()
        return await self.store.disable_feed(feed_id)

    async def alerts(self) -> list[FeedAlert]:
        """The changes to tell the admins of now (`alert_for`), each recorded as told before
        it is returned, so that of two processes asking at once only one gets it."""
        found = []
        for feed in await self.feeds():
            kind = alert_for(feed)
            if kind is None:
                continue
            told = ALERT_DISABLED if kind == "disabled" else None
            if await self.store.set_feed_alert(feed.id, told, expected=feed.alert):
                found.append(FeedAlert(feed, kind))
        return found

    def _pipeline(self) -> IngestPipeline:
        if self.pipeline is None:
            raise RuntimeError("this FeedService was built without an ingest pipeline")
        return self.pipeline()

    async def remove(self, feed_id: int) -> Feed:
        """Remove an admin feed (its articles stay); NotFound, or FeedError for a config feed."""
        feed = await self.get(feed_id)
        if feed.origin == "config":
            raise FeedError(self._managed(feed))
        return await self.store.remove_feed(feed_id)

    async def enable(self, feed_id: int) -> Feed:
        """Enable a disabled feed again, forgetting its failures; it is due at once."""
        await self._ensure_synced()
        return await self.store.enable_feed(feed_id)

    async def import_opml(self, data: bytes, source: str = "<opml>") -> OpmlImport:
        """Add or update every feed of an OPML document, keeping each one's category.

        Raises ImportFormatError for a document that is not OPML; a bad feed in it is only
        skipped, with the reason in the result.
        """
        await self._ensure_synced()
        result = OpmlImport()
        for item in parse_opml(data, source):
            try:
                change = await self.add(item.url, item.category, language=item.language)
            except FeedError as exc:
                result.skipped.append((item.url, str(exc)))
                continue
            (result.added if change.action == "added" else result.updated).append(change.feed)
        return result

    async def export_opml(self) -> str:
        """Every feed as an OPML 2.0 document, grouped by category."""
        today = self.clock.now().strftime("%Y-%m-%d")
        return render_opml(await self.feeds(), title=f"newsbot feeds, {today}")

    def _managed(self, feed: Feed) -> str:
        return (
            f"feed {feed.id} ({feed.url}) comes from the config ({self.config.source}); "
            "change or remove it there"
        )
