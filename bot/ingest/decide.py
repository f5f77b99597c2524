"""The ingest Decider: every decision of a run, as pure functions of data and a clock value.

What is new, what needs its page, which category, how the feed and page fields merge, when a
feed is fetched next, when it is disabled, when a page is given up: all here, none of it
touching the network or the store, so the tests check each rule with plain values (the idea of
lemon24/reader's `_update.Decider`). `bot.ingest.pipeline` does the I/O around it.

Schedule and back-off, for a feed fetched every `interval`:

- success or 304: next fetch after `interval`, failures reset to 0;
- the n-th failure in a row: next fetch after `interval * 2**(n-1)`, at most `max_backoff`
  (a day), or later if the server's Retry-After says so (at most a week); at
  `max_failures` failures in a row the feed is disabled, the reason kept, until an admin
  enables it again.

No random jitter: feeds come due at their own times already, and deterministic times are what
the tests and an admin reading `feeds list` can check.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.errors import FetchError, IngestError
from bot.ingest.extract import PageContent
from bot.ingest.parse import FeedEntry
from bot.models import Feed, FeedState, NewArticle, PendingPage
from bot.urls import normalize_url

MAX_BACKOFF = timedelta(days=1)
MAX_RETRY_AFTER = timedelta(days=7)
MAX_PAGE_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class Decider:
    """The rules, with the settings they depend on (`[ingest]` of the config)."""

    default_interval_minutes: int = 30
    max_failures: int = 10
    max_backoff: timedelta = MAX_BACKOFF
    max_page_attempts: int = MAX_PAGE_ATTEMPTS

    # -- schedule --------------------------------------------------------------------------

    def interval(self, feed: Feed) -> timedelta:
        """How often *feed* is fetched when all is well."""
        return timedelta(minutes=feed.interval_minutes or self.default_interval_minutes)

    def after_success(
        self,
        feed: Feed,
        now: datetime,
        *,
        etag: str | None,
        last_modified: str | None,
        title: str | None = None,
    ) -> FeedState:
        """The state after a fetch that returned a feed (or a 304: pass the validators we
        hold, or new ones if the 304 carried them)."""
        return FeedState(
            last_fetched=now,
            next_fetch=now + self.interval(feed),
            failures=0,
            last_error=None,
            enabled=True,
            etag=etag,
            last_modified=last_modified,
            title=title,
        )

    def after_failure(self, feed: Feed, now: datetime, error: IngestError) -> FeedState:
        """The state after a failed fetch or parse: backed off, disabled at the limit."""
        failures = feed.failures + 1
        delay = min(self.interval(feed) * 2 ** min(failures - 1, 30), self.max_backoff)
        delay = max(delay, self.interval(feed))
        if isinstance(error, FetchError) and error.retry_after:
            delay = max(delay, min(timedelta(seconds=error.retry_after), MAX_RETRY_AFTER))
        return FeedState(
            last_fetched=now,
            next_fetch=now + delay,
            failures=failures,
            last_error=str(error) or type(error).__name__,
            enabled=failures < self.max_failures,
            # Validators of a response we could not use must not turn the next try into a 304.
            etag=feed.etag,
            last_modified=feed.last_modified,
        )

    # -- entries ---------------------------------------------------------------------------

    def new_entries(
        self, entries: Iterable[FeedEntry], known: set[str], claimed: set[str]
    ) -> tuple[list[FeedEntry], int]:
        """The entries to store (not stored yet, not taken by another feed in this run, not
        repeated within the feed) and how many were skipped as duplicates.

        *known* holds the guids and URLs the store has (`known_entries`); *claimed* the keys
        taken so far in this run, updated here so the same story in two feeds of one site is
        fetched and stored once.
        """
        fresh: list[FeedEntry] = []
        duplicates = 0
        for entry in entries:
            keys = entry_keys(entry)
            if (
                (entry.guid and entry.guid in known)
                or (entry.url and entry.url in known)
                or any(key in claimed for key in keys)
            ):
                duplicates += 1
            else:
                claimed.update(keys)
                fresh.append(entry)
        return fresh, duplicates

    def needs_page(self, entry: FeedEntry) -> bool:
        """Fetch the page when the feed only carries a teaser and there is a page to fetch."""
        return entry.teaser and entry.url is not None

    def give_up_page(self, attempts: int) -> bool:
        """After *attempts* failed page fetches, stop retrying (the teaser stays)."""
        return attempts >= self.max_page_attempts

    # -- articles --------------------------------------------------------------------------

    def category(self, feed: Feed, entry: FeedEntry, page: PageContent | None) -> str | None:
        """The feed's configured category, else the entry's own first tag, else the page's
        section: an admin's choice beats the publisher's labels."""
        if feed.category:
            return feed.category
        if entry.tags:
            return entry.tags[0]
        return page.section if page else None

    def article(
        self,
        feed: Feed,
        entry: FeedEntry,
        page: PageContent | None = None,
        page_error: str | None = None,
    ) -> NewArticle:
        """The article to store from an entry and, when fetched, its page.

        The page's fields win where it has them, the feed's fill the gaps; except the date,
        where the feed's is kept when it has one: feeds give the minute, pages (as extracted)
        only the day. A page body shorter than the feed's text is ignored (a paywall stub). A
        title-only entry whose page failed is stored with its title as the teaser text, marked
        for retry: dropping it would lose it once the feed moves on.
        """
        text = entry.text
        title, author, published = entry.title, entry.author, entry.published
        if page is not None:
            if len(page.text) >= len(text):
                text = page.text
            title = page.title or title
            author = page.author or author
            published = published or page.published
        return NewArticle(
            title=title,
            text=text or title,
            url=entry.url,
            guid=entry.guid,
            author=author,
            published=published,
            category=self.category(feed, entry, page),
            language=feed.language,
            feed_id=feed.id,
            page_error=page_error if page is None and self.needs_page(entry) else None,
            # The feed's picture is the publisher's choice for the feed; the page's is the
            # fallback. The page names its site better than a feed title does.
            image=entry.image or (page.image if page else None),
            site_name=(page.site_name if page else None) or feed.title,
        )

    def completion(self, feed: Feed, teaser: PendingPage, page: PageContent) -> PageCompletion:
        """How a stored teaser is completed by its page, by the same rules as `article`; a
        category only for an article that has none yet (feed's, else the page's section)."""
        return PageCompletion(
            text=page.text if len(page.text) >= len(teaser.text) else teaser.text,
            title=page.title,
            author=page.author if page.author else None,
            published=None if teaser.published else page.published,
            category=None if teaser.category else (feed.category or page.section),
            image=page.image,
            site_name=page.site_name,
        )


@dataclass(frozen=True, slots=True)
class PageCompletion:
    """The fields to write over a stored teaser once its page is in (None: keep as stored)."""

    text: str
    title: str | None = None
    author: str | None = None
    published: datetime | None = None
    category: str | None = None
    image: str | None = None
    site_name: str | None = None


def entry_keys(entry: FeedEntry) -> list[str]:
    """The de-duplication keys of an entry within a run: its guid and normalized URL."""
    keys = []
    if entry.guid:
        keys.append("guid:" + entry.guid)
    if entry.url:
        keys.append("url:" + normalize_url(entry.url))
    return keys
