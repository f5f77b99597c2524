"""Feed management, independent of Telegram: list, add, remove, enable, OPML in and out.

Both the CLI (`newsbot feeds ...`) and the admin chat commands (/feeds, /addfeed, /delfeed)
call this, and get plain data back to render their own way.

Feeds have two origins. Those of the config file's [[feeds]] (or the built-in list) are
"config" feeds: every use of this service first syncs them into the store, and they can only
be changed in the config, since the next sync would undo any other change. Feeds added here
or by OPML import are "admin" feeds, which the sync never touches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.clock import Clock
from bot.config import MAX_INTERVAL_MINUTES, Config
from bot.errors import FeedError
from bot.ingest.opml import parse_opml, render_opml
from bot.ingest.pipeline import config_feeds
from bot.models import Feed, FeedSyncResult
from bot.store.contract import FeedAdmin
from bot.text import clean_line

_LANGUAGE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*")
_MAX_CATEGORY = 200


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


class FeedService:
    """Feed management over the store, with the config's feeds kept in step."""

    def __init__(self, store: FeedAdmin, config: Config, *, clock: Clock) -> None:
        self.store = store
        self.config = config
        self.clock = clock
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
        category = clean_line(category or "") or None
        if category and len(category) > _MAX_CATEGORY:
            raise FeedError(f"category longer than {_MAX_CATEGORY} characters")
        if language is not None and not _LANGUAGE.fullmatch(language.strip()):
            raise FeedError(f'not a language code like "fr" or "en-GB": {language!r}')
        if interval_minutes is not None and not 1 <= interval_minutes <= MAX_INTERVAL_MINUTES:
            raise FeedError(
                f"the interval must be from 1 to {MAX_INTERVAL_MINUTES} minutes (a year)"
            )
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
