"""The article store's contract, one protocol per consumer, so that a fake for one stays small:

    ArticleReader   articles, categories, cached summaries     services.articles
    SummaryCache    ArticleReader + caching summaries          services.summaries
    ArticleWriter   storing articles                           ingest.importer
    IngestStore     ArticleWriter + teasers, feed state, leases ingest.pipeline
    FeedSync        syncing the "config" feeds                 (IngestStore, FeedAdmin)
    DeliveryQueue   claims, leases, outcomes, holds, digests   deliver.sender
    SendRate        the send rate processes share              deliver.limiter
    ChatStore       chats, settings, subscriptions             services.chats
    FeedAdmin       feeds by hand                              services.feeds
    AdminStore      FeedAdmin + counts                         services.admin
    Retention       deleting what `[store] keep_*_days` let go  services.retention
    ArticleStore    all of them, and `close`                   app, CLI (`SqlStore`)

`Audience` goes the other way: the push rules the store is given (`bot.deliver.rules`).

Invariants every method keeps:

- Datetimes in and out are aware UTC (`bot.models.as_utc`); naive input is taken as UTC.
- "Now" is the store's `bot.clock.Clock`, given when it is opened: every timestamp it writes
  (stored_at, created_at, sent_at, leases) comes from that clock, never from the database's
  `now()` nor the machine's clock, so a test moving the clock moves the whole store.
- Article ids are small positive integers, assigned in storage order and never reused; they are
  what users type (`/summary 42`).
- Categories are matched case- and accent-insensitively through `bot.text.fold`: "economie"
  finds "Économie". The first spelling stored is the display name.
- An article is stored once: a second one with the same guid, the same normalized URL
  (`bot.urls.normalize_url`) or the same content hash (`bot.text.content_hash`) is a duplicate
  and is skipped, also when two writers race.
- Missing rows: `get_*` methods raise `bot.errors.NotFound`; lookups named `find_*` return None.
- Every write is one transaction: a failure leaves nothing half-written. In particular an
  article is stored together with its precomputed default summary and its pending deliveries:
  a crash never leaves an article stored but not queued, and the unique (chat, article) index
  means it is never queued twice.
- Feed guids are stored as the ingest hands them over; `bot.ingest.parse.entry_guid` namespaces
  guids that are not URLs by their feed, because "1", "2" are only unique within one feed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from bot.models import (
    Article,
    Category,
    Chat,
    ClaimedDelivery,
    Delivery,
    Digest,
    Feed,
    FeedSettings,
    FeedState,
    FeedSyncResult,
    NewArticle,
    PendingPage,
    StoreStats,
    Subscriber,
    Subscription,
)

# (algorithm, length key) under which `add_articles` caches precomputed summaries when the
# caller does not say; `bot.summarize.length_key` spells lengths ("3w": at most three sentences
# within their word budget; "10%").
DEFAULT_SUMMARY_KEY: tuple[str, str] = ("default", "3w")


@dataclass(slots=True)
class AddResult:
    """What `add_articles` did: ids of the articles stored (ascending), how many were
    duplicates, and how many deliveries were queued for them."""

    ids: list[int] = field(default_factory=list)
    duplicates: int = 0
    queued: int = 0


@dataclass(slots=True)
class PruneResult:
    """What `prune` deleted (or, with `dry_run`, would delete): rows per table, and the
    SQLite pages handed back to the file system."""

    dry_run: bool = False
    deliveries: int = 0
    digests: int = 0
    articles: int = 0
    vacuumed_pages: int = 0


class Audience(Protocol):
    """Who is pushed a new article: the rules the store is given when it is opened
    (`bot.deliver.rules.PushRules`), so that it queues deliveries in the transaction that
    stores the article without deciding anything itself."""

    def is_news(self, published: datetime | None, arrived: datetime) -> bool:
        """Whether an article published then was still news when it arrived (stored): when
        not, it is pushed to nobody, and the store need not look up its subscribers."""

    def recipients(
        self,
        *,
        title: str,
        text: str,
        published: datetime | None,
        arrived: datetime,
        subscribers: Sequence[Subscriber],
    ) -> list[int]:
        """The chat ids, among the active subscribers of the article's category (in their
        order), that it is pushed to."""


class FeedSync(Protocol):
    """Making the feeds of the configuration the "config" feeds: what both the ingestion and
    the feed admin do."""

    async def sync_feeds(self, wanted: Sequence[FeedSettings]) -> FeedSyncResult:
        """Make the "config" feeds exactly `wanted`: add missing ones, update changed
        settings (fetch state kept), claim matching "admin" feeds, delete "config" feeds no
        longer wanted. Feeds with origin "admin" not in `wanted` are left alone."""


class ArticleReader(Protocol):
    """Reading articles, categories and cached summaries: what the chat services need to
    show articles (`bot.services.articles`)."""

    async def get_article(self, article_id: int) -> Article:
        """The article with this id; NotFound if there is none."""

    async def get_articles(self, article_ids: Sequence[int]) -> list[Article]:
        """The articles with these ids, in the order asked, in one query; ids with no article
        are left out."""

    async def find_article_by_url(self, url: str) -> Article | None:
        """The article whose URL normalizes (`bot.urls.normalize_url`) to the same key as
        *url*, or None."""

    async def latest(
        self, limit: int = 10, *, category: str | None = None, offset: int = 0
    ) -> list[Article]:
        """Newest first (publication time, capped at storage time). An unknown category
        gives an empty list; `find_category` tells the two apart."""

    async def count_articles(self, *, category: str | None = None) -> int:
        """How many articles, overall or in one category."""

    async def newer_than(
        self, after_id: int, *, category: str | None = None, limit: int = 100
    ) -> list[Article]:
        """Articles stored after article `after_id`, oldest first: what a subscription that
        last saw `after_id` has not seen yet."""

    async def search(self, query: str, limit: int = 10, *, offset: int = 0) -> list[Article]:
        """Full-text search over title and body, case- and accent-insensitive; every word must
        match a whole word, the last one also as a word prefix (so "econ" finds "économie" as
        the user types). Newest stored first. Empty query: empty list."""

    def iter_articles(self, *, category: str | None = None) -> AsyncIterator[Article]:
        """Every article (of one category), in id order, fetched in batches (for export)."""

    async def categories(self) -> list[Category]:
        """Categories with their article counts, largest first."""

    async def find_category(self, name: str) -> Category | None:
        """The category whose folded name equals fold(name), with its count."""

    async def suggest_categories(self, name: str, limit: int = 3) -> list[Category]:
        """Existing categories closest to a misspelt name, best first."""

    async def get_summary(self, article_id: int, algorithm: str, length: str) -> list[str] | None:
        """A cached summary, or None."""


class SummaryCache(ArticleReader, Protocol):
    """Reading articles and caching their summaries (`bot.services.summaries`)."""

    async def put_summary(
        self, article_id: int, algorithm: str, length: str, sentences: Sequence[str]
    ) -> None:
        """Cache a summary, replacing any for the same (article, algorithm, length)."""

    async def put_summaries(self, items: Iterable[tuple[int, str, str, Sequence[str]]]) -> None:
        """Cache many (article id, algorithm, length, sentences) in one transaction, each
        replacing any for the same (article, algorithm, length) (precomputing in batches)."""

    async def article_ids_without_summary(self, algorithm: str, length: str) -> list[int]:
        """Ids of the stored articles that have no cached summary for (algorithm, length),
        in ascending order (precomputing catches up after an interrupted import)."""


class ArticleWriter(Protocol):
    """Storing articles: what a source of articles needs (`bot.ingest.importer`, a link a user
    sends in `bot.services.links`)."""

    async def add_articles(
        self,
        items: Iterable[NewArticle],
        *,
        summary_key: tuple[str, str] = DEFAULT_SUMMARY_KEY,
    ) -> AddResult:
        """Store new articles in batches of one transaction each, skipping duplicates (see the
        module invariants). In the same transaction, for each article actually stored:

        - its `summary`, when given, is cached under `summary_key` (algorithm, length);
        - a "pending" delivery is queued for every active subscription of an active chat to
          the article's category that the store's `Audience` chooses (filters, age at
          arrival, subscribed before: `bot.deliver.rules`);
        - an article with `page_error` is marked as a teaser whose page is still to be
          fetched (see `pending_pages`).
        """

    async def known_entries(
        self, *, guids: Iterable[str] = (), urls: Iterable[str] = ()
    ) -> set[str]:
        """The given guids and URLs that are stored already (URLs compared normalized, and
        returned as given): what lets the ingest skip fetching pages of known entries."""

    async def refresh_article(
        self,
        article_id: int,
        *,
        title: str,
        text: str,
        author: str | None = None,
        published: datetime | None = None,
    ) -> bool:
        """Replace an article's title and text with a newer version of its page (a link
        fetched again): same id, `stored_at` set to now, cached summaries dropped, its place in
        "latest" kept. False if the article is gone or the new text is another article's."""


class IngestStore(ArticleWriter, FeedSync, Protocol):
    """What the feed ingestion needs (`bot.ingest.pipeline`): storing articles, teasers
    waiting for their page, the feeds' schedule and state, and leases on feeds."""

    async def pending_pages(
        self, *, feed_id: int | None = None, limit: int = 100
    ) -> list[PendingPage]:
        """Articles stored with only their feed teaser and still "pending", oldest first."""

    async def complete_page(
        self,
        article_id: int,
        *,
        text: str,
        title: str | None = None,
        author: str | None = None,
        published: datetime | None = None,
        category: str | None = None,
        summary: Sequence[str] | None = None,
        summary_key: tuple[str, str] = DEFAULT_SUMMARY_KEY,
        image: str | None = None,
        site_name: str | None = None,
    ) -> bool:
        """Replace a pending teaser with its page's full text (and title, author, date when
        given) and clear the mark; the page's picture and site name fill what the feed did not
        give; cached summaries are replaced by `summary`. A category is
        only set on an article that had none, and then its deliveries are queued as they
        would have been on its arrival (the `Audience` decides, as of `stored_at`). The content
        hash stays the one first stored (it is the arrival's de-duplication key). False when
        the article is gone or not pending."""

    async def fail_page(self, article_id: int, error: str, *, give_up: bool = False) -> None:
        """Count one more failed page attempt with its reason; `give_up` marks the article
        "failed" so it is not retried any more (it keeps its teaser)."""

    async def due_feeds(
        self,
        *,
        include_not_due: bool = False,
        feed_ids: Sequence[int] | None = None,
    ) -> list[Feed]:
        """Enabled feeds whose `next_fetch` is unset or not after now, in id
        order; every enabled feed with `include_not_due`; only `feed_ids` when given."""

    async def save_feed_state(self, feed_id: int, state: FeedState) -> None:
        """Record the outcome of a fetch (validators, schedule, failures, enabled, error).
        A feed removed meanwhile is ignored; the title is only overwritten when given."""

    async def lease_feeds(
        self,
        feed_ids: Sequence[int],
        owner: str,
        *,
        lease_seconds: float,
        due_only: bool = False,
    ) -> list[int]:
        """Take the ingestion lease of the feeds no other owner holds (with `due_only`, of
        those still due); the ids taken."""

    async def release_feeds(self, feed_ids: Sequence[int], owner: str) -> None:
        """Give back *owner*'s ingestion leases on *feed_ids*."""


class DeliveryQueue(Protocol):
    """The deliveries queue as the sender drains it (`bot.deliver.sender`): claims and leases,
    outcomes, holds, digests, and chats that left or moved."""

    async def list_deliveries(
        self,
        *,
        status: str | None = None,
        chat_id: int | None = None,
        limit: int = 100,
    ) -> list[Delivery]:
        """Queued deliveries in queue (id) order, optionally of one status and/or chat."""

    async def claim_deliveries(
        self, worker: str, *, limit: int, lease_seconds: float
    ) -> list[ClaimedDelivery]:
        """Lease up to *limit* deliveries to *worker*, oldest first: "pending" ones that are
        due (no retry time, or it has passed) and "sending" ones whose lease ran out (their
        sender died), of active chats whose hold is unset or past. Claimed rows become
        "sending" until `lease_until`; two workers never get the same row."""

    async def claim_chat_deliveries(
        self, chat_id: int, worker: str, *, lease_seconds: float
    ) -> list[ClaimedDelivery]:
        """Like `claim_deliveries` for one chat, whatever its hold (its digest is due)."""

    async def renew_leases(self, worker: str, lease_seconds: float) -> int:
        """Extend the leases of the rows *worker* is sending; how many."""

    async def finish_deliveries(
        self, ids: Sequence[int], status: str, *, error: str | None = None
    ) -> None:
        """Mark claimed deliveries "sent" (now) or "failed", with *error*."""

    async def release_deliveries(
        self,
        ids: Sequence[int],
        *,
        error: str | None = None,
        attempt: bool = False,
        not_before: datetime | None = None,
    ) -> None:
        """Give claimed deliveries back: "pending", claimable from *not_before*."""

    async def hold_chat(
        self,
        chat_id: int,
        until: datetime | None,
        *,
        release: Sequence[int] = (),
        version: int | None = None,
    ) -> bool:
        """Set the chat's hold (None: decide again at the next claim), releasing *release*;
        with a settings *version*, only if the settings are still at that version (every
        `update_chat_settings` adds one and clears the hold). Whether it was set."""

    async def deactivate_chat(self, chat_id: int, reason: str) -> int:
        """The chat blocked or removed the bot: deactivate it and its subscriptions, fail its
        queued deliveries; how many failed. `subscribe` reactivates the chat."""

    async def deactivate_topic(self, chat_id: int, thread_id: int, reason: str) -> list[str]:
        """The forum topic was closed or deleted: deactivate its active subscriptions and fail
        what is queued for it, with *reason*; the categories deactivated, by name (empty when
        another sender got there first: whoever gets the names tells the admins)."""

    async def migrate_chat(self, old_id: int, new_id: int) -> None:
        """Move a chat (settings, subscriptions, queue, digests) to a new id."""

    async def forget_image(self, article_id: int, url: str) -> bool:
        """Telegram refused the article's picture at *url*: drop it from the article, so no
        chat is offered it again. False if the article has no longer that picture."""

    async def create_digest(self, chat_id: int, article_ids: Sequence[int]) -> int:
        """Keep the article list of a digest message; its id."""

    async def get_digest(self, digest_id: int) -> Digest:
        """A digest; NotFound if there is none."""


class SendRate(Protocol):
    """The overall send rate every process on one store shares (`bot.store.cluster`)."""

    async def reserve_send_slots(
        self, count: int, spacing: float, name: str = "overall", *, lead: float = 0.02
    ) -> float:
        """Take the next *count* slots, *spacing* seconds apart, of the shared rate *name*,
        the first at least *lead* seconds from now; the first one's time in seconds since the
        epoch, on the store's clock."""


class ChatStore(Protocol):
    """Chats, their settings and subscriptions (`bot.services.chats`,
    `bot.services.subscriptions`)."""

    async def upsert_chat(self, chat_id: int, *, language: str | None = None) -> Chat:
        """Make sure a chat exists; set its language when given."""

    async def find_chat(self, chat_id: int) -> Chat | None:
        """The chat, or None if the bot never saw it."""

    async def update_chat_settings(
        self, chat_id: int, *, reschedule: bool = True, **settings: object
    ) -> Chat:
        """Merge settings (summary length, algorithm, ...) into the chat's; NotFound if none.
        `reschedule` (the caller's word: the store decides no rule) says the change may move
        when the chat receives (delivery mode, digest time, quiet hours, silent posts): the
        chat's hold is cleared so the sender decides again. A change that cannot (the summary
        length, the post's format) passes False, so a digest chat keeps its next digest."""

    async def subscribe(
        self,
        chat_id: int,
        category: str,
        filters: Sequence[str] = (),
        *,
        thread_id: int | None = None,
    ) -> Subscription:
        """Subscribe a chat (its forum topic *thread_id*, None for the chat itself) to an
        existing category (NotFound otherwise), replacing filters. A category goes to one
        place per chat: subscribing from another topic moves it there, with what is pending."""

    async def unsubscribe(
        self, chat_id: int, category: str | None = None, *, thread_id: int | None = None
    ) -> int:
        """Remove one subscription (in whichever topic), or with None all of those of topic
        *thread_id* (None: outside topics), with the deliveries they still have pending; how
        many subscriptions were removed."""

    async def subscriptions(self, chat_id: int) -> list[Subscription]:
        """The chat's subscriptions, by category name."""

    async def reactivate_chat(self, chat_id: int) -> bool:
        """The chat took the bot back: active again with its suspended subscriptions (what
        was queued while it was away stays failed). Whether it was inactive."""


class FeedAdmin(FeedSync, Protocol):
    """Managing feeds by hand (`bot.services.feeds`: CLI, OPML, chat)."""

    async def upsert_feed(
        self,
        url: str,
        *,
        category: str | None = None,
        language: str | None = None,
        interval_minutes: int | None = None,
    ) -> Feed:
        """Add a feed, or update the settings of the feed with this URL (fetch state kept)."""

    async def list_feeds(self) -> list[Feed]:
        """All feeds, in id order."""

    async def get_feed(self, feed_id: int) -> Feed:
        """The feed with this id; NotFound if there is none."""

    async def find_feed(self, url: str) -> Feed | None:
        """The feed with exactly this URL, or None."""

    async def remove_feed(self, feed_id: int) -> Feed:
        """Delete a feed and return it (NotFound if none); its articles stay, without feed."""

    async def enable_feed(self, feed_id: int) -> Feed:
        """Enable a feed again and forget its failures, so it is due at once (NotFound if
        none). Its alert becomes "enabled" if the admins had been told anything."""

    async def disable_feed(self, feed_id: int) -> Feed:
        """Stop fetching a feed until it is enabled again (NotFound if none); its alert is
        "disabled" (an admin did it: nobody is told)."""

    async def set_feed_alert(
        self, feed_id: int, alert: str | None, *, expected: str | None
    ) -> bool:
        """Record what the admins are told of a feed (and when), only if its alert is still
        *expected*: whether it was, so two processes never tell the same change twice."""

    async def feed_article_counts(self) -> dict[int, int]:
        """Articles stored per feed id (feeds with none are absent)."""


class AdminStore(FeedAdmin, Protocol):
    """What the bot's admins see (`bot.services.admin`): counts, and the feeds."""

    async def stats(self) -> StoreStats:
        """Counts for `newsbot stats`."""

    async def queued_deliveries(self) -> dict[str, int]:
        """Deliveries "pending" and "sending" (both keys always present): the queue's depth,
        cheap enough to ask on every metrics scrape and health check."""


class Retention(Protocol):
    """Bounded growth: deleting, in short batches, what no longer needs keeping."""

    async def prune(
        self,
        *,
        deliveries_before: datetime | None,
        articles_before: datetime | None,
        dry_run: bool = False,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> PruneResult:
        """Delete deliveries sent or failed before *deliveries_before* (and digests made
        before it), and articles dated (`sort_time`) before *articles_before* with their
        summaries, search rows and finished deliveries; None keeps that table whole. Never
        deletes a delivery pending or being sent, nor an article one is pending for. Each
        batch is one short transaction; `progress(what, done, total)` is called after each.
        With `dry_run`, only counts."""


class ArticleStore(
    SummaryCache,
    IngestStore,
    DeliveryQueue,
    ChatStore,
    AdminStore,
    Retention,
    Protocol,
):
    """The whole article store: every consumer's protocol. One implementation (`SqlStore`)
    serves SQLite and PostgreSQL; a fake for one consumer implements that consumer's protocol
    only."""

    async def close(self) -> None:
        """Release connections. The store is unusable afterwards."""
