"""Plain data shared by every layer.

Datetimes are always timezone-aware UTC; the store converts on the way in and out so no caller
has to wonder. Nothing here imports Telegram, SQLAlchemy or the network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


def as_utc(value: datetime) -> datetime:
    """Return *value* as aware UTC; a naive datetime is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class NewArticle:
    """An article as a source hands it to the store, before it has an id.

    `category` is the display name as published ("Économie"); the store matches it to an
    existing category case- and accent-insensitively. `content_hash` is filled by the store when
    empty.
    """

    title: str
    text: str
    url: str | None = None
    guid: str | None = None
    author: str | None = None
    published: datetime | None = None
    category: str | None = None
    language: str | None = None
    feed_id: int | None = None
    content_hash: str = ""
    # The default summary, computed by the caller off the event loop, so the store can write
    # it in the transaction that stores the article (see `ArticleStore.add_articles`).
    summary: tuple[str, ...] | None = None
    # Set when the article page could not be fetched and `text` is only the feed's teaser: the
    # store marks the article so a later ingest run retries the page (`pending_pages`).
    page_error: str | None = None
    # The article's lead picture (an absolute http(s) URL) and the name of the site that
    # published it, from the feed entry or the page (`bot.ingest.parse`, `bot.ingest.extract`).
    image: str | None = None
    site_name: str | None = None


@dataclass(frozen=True, slots=True)
class Article:
    """A stored article. `id` is the short number users see and type (`/summary 42`)."""

    id: int
    title: str
    text: str
    url: str | None
    guid: str | None
    author: str | None
    published: datetime | None
    category: str | None
    language: str | None
    feed_id: int | None
    content_hash: str
    stored_at: datetime
    # The lead picture's absolute http(s) URL; None when there is none or Telegram refused it
    # (a refused picture is not offered again). The publishing site's name ("Le Monde").
    image: str | None = None
    site_name: str | None = None

    @property
    def when(self) -> datetime:
        """The date shown to readers: publication time, else when we stored it."""
        return self.published or self.stored_at


@dataclass(frozen=True, slots=True)
class Category:
    """A category with its display name and how many articles it holds."""

    id: int
    name: str
    key: str
    article_count: int = 0


@dataclass(frozen=True, slots=True)
class Feed:
    """A feed and its fetch state (conditional-GET validators, failures, back-off)."""

    id: int
    url: str
    category: str | None
    language: str | None
    interval_minutes: int | None
    enabled: bool = True
    etag: str | None = None
    last_modified: str | None = None
    last_fetched: datetime | None = None
    next_fetch: datetime | None = None
    failures: int = 0
    last_error: str | None = None
    title: str | None = None
    # "config" for feeds the config file's [[feeds]] manage (kept in step with it by
    # `sync_feeds`), "admin" for feeds added by hand (CLI, OPML import, chat).
    origin: str = "admin"
    # What the bot's admins were last told of it ("disabled", "enabled", None) and when.
    alert: str | None = None
    alert_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FeedSettings:
    """What an admin or the config file says about a feed; its fetch state is not here."""

    url: str
    category: str | None = None
    language: str | None = None
    interval_minutes: int | None = None


@dataclass(frozen=True, slots=True)
class FeedState:
    """A feed's fetch state after one attempt, as the ingest Decider computed it.

    `failures` counts failures in a row (0 after a success); `enabled` turns False when that
    count reaches the configured maximum, and `last_error` keeps the reason for admins.
    """

    last_fetched: datetime
    next_fetch: datetime
    failures: int = 0
    last_error: str | None = None
    enabled: bool = True
    etag: str | None = None
    last_modified: str | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class FeedSyncResult:
    """What `sync_feeds` changed: URLs added, updated (settings changed) and removed."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class PendingPage:
    """A stored teaser article whose full page is still to be fetched (an earlier try failed)."""

    id: int
    url: str
    title: str
    text: str
    author: str | None
    published: datetime | None
    category: str | None
    language: str | None
    feed_id: int | None
    attempts: int
    last_error: str | None = None


# The languages the bot speaks to users: the messages exist in each, `/language` and
# `newsbot shell --language` offer them, and `Chat.language` is one of them. Here, at the
# bottom of the layers, so that the services, the chat package and the command line share it.
INTERFACE_LANGUAGES: tuple[str, ...] = ("fr", "en")


@dataclass(frozen=True, slots=True)
class Chat:
    """A Telegram chat the bot talks to, with its preferences."""

    id: int
    language: str = "fr"
    settings: dict[str, object] = field(default_factory=dict)
    active: bool = True
    created_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Subscription:
    """A chat's subscription to a category, with optional +word / -word filters."""

    id: int
    chat_id: int
    category: str
    filters: tuple[str, ...] = ()
    active: bool = True
    created_at: datetime | None = None
    category_id: int | None = None
    # The forum topic (message_thread_id) its articles go to; None: the chat itself.
    thread_id: int | None = None


@dataclass(frozen=True, slots=True)
class Subscriber:
    """What the push rules know of one active subscription: whose it is, its filters, and
    since when it exists (`bot.deliver.rules`)."""

    chat_id: int
    filters: tuple[str, ...]
    subscribed_at: datetime


@dataclass(frozen=True, slots=True)
class Delivery:
    """One (chat, article) pair in the deliveries queue."""

    id: int
    chat_id: int
    article_id: int
    status: str
    attempts: int
    created_at: datetime
    sent_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class ClaimedDelivery:
    """A delivery a sender has claimed (status "sending", leased to it), with what the sender
    needs of its chat to decide and render without reading the chat again."""

    id: int
    chat_id: int
    article_id: int
    attempts: int
    language: str
    settings: dict[str, object]
    hold_until: datetime | None
    created_at: datetime | None = None
    settings_version: int = 0
    # Set by the sender when the chat's policy says to send now without a notification
    # (silent during quiet hours); the outbox adds the chat's "always silent" itself.
    silent: bool = False
    # The forum topic the message goes to (None: the chat itself).
    thread_id: int | None = None


@dataclass(frozen=True, slots=True)
class Digest:
    """The articles listed in one digest message, kept so its page buttons keep working."""

    id: int
    chat_id: int
    article_ids: tuple[int, ...]
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StoreStats:
    """What `newsbot stats` prints: counts across the store."""

    articles: int
    articles_per_category: list[tuple[str, int]]
    uncategorized: int
    feeds: int
    feeds_failing: int
    chats: int
    subscriptions: int
    deliveries: dict[str, int]
    # Chats that blocked or removed the bot: their subscriptions are deactivated.
    chats_inactive: int = 0
