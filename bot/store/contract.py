"""The article store's contract: what every backend provides, grouped by topic.

Invariants every method keeps:

- Datetimes in and out are aware UTC (`bot.models.as_utc`); naive input is taken as UTC.
- Article ids are small positive integers, assigned in storage order and never reused; they are
  what users type (`/summary 42`).
- Categories are matched case- and accent-insensitively through `bot.text.fold`: "economie"
  finds "Économie". The first spelling stored is the display name.
- An article is stored once: a second one with the same guid, the same normalized URL
  (`bot.urls.normalize_url`) or the same content hash (`bot.text.content_hash`) is a duplicate
  and is skipped, also when two writers race.
- Missing rows: `get_article` raises `bot.errors.NotFound`; lookups named `find_*` return None.
- Every write is one transaction: a failure leaves nothing half-written.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bot.models import Article, Category, Chat, Feed, NewArticle, StoreStats, Subscription


@dataclass(slots=True)
class AddResult:
    """What `add_articles` did: ids of the articles stored, and how many were duplicates."""

    ids: list[int] = field(default_factory=list)
    duplicates: int = 0


class ArticleStore(Protocol):
    """The article store. One implementation (`SqlStore`) serves SQLite and PostgreSQL."""

    # -- lifecycle -------------------------------------------------------------------------
    async def close(self) -> None:
        """Release connections. The store is unusable afterwards."""

    # -- articles: writing -----------------------------------------------------------------
    async def add_articles(self, items: Iterable[NewArticle]) -> AddResult:
        """Store new articles in batches, skipping duplicates (see the module invariants)."""

    # -- articles: reading -----------------------------------------------------------------
    async def get_article(self, article_id: int) -> Article:
        """The article with this id; NotFound if there is none."""

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
        match (as a word prefix). Newest stored first. Empty query: empty list."""

    def iter_articles(self, *, category: str | None = None) -> AsyncIterator[Article]:
        """Every article (of one category), in id order, fetched in batches (for export)."""

    # -- categories ------------------------------------------------------------------------
    async def categories(self) -> list[Category]:
        """Categories with their article counts, largest first."""

    async def find_category(self, name: str) -> Category | None:
        """The category whose folded name equals fold(name), with its count."""

    async def suggest_categories(self, name: str, limit: int = 3) -> list[Category]:
        """Existing categories closest to a misspelt name, best first."""

    # -- feeds -----------------------------------------------------------------------------
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

    # -- chats and subscriptions -----------------------------------------------------------
    async def upsert_chat(self, chat_id: int, *, language: str | None = None) -> Chat:
        """Make sure a chat exists; set its language when given."""

    async def find_chat(self, chat_id: int) -> Chat | None:
        """The chat, or None if the bot never saw it."""

    async def update_chat_settings(self, chat_id: int, **settings: object) -> Chat:
        """Merge settings (summary length, algorithm, ...) into the chat's; NotFound if none."""

    async def subscribe(
        self, chat_id: int, category: str, filters: Sequence[str] = ()
    ) -> Subscription:
        """Subscribe a chat to an existing category (NotFound otherwise), replacing filters."""

    async def unsubscribe(self, chat_id: int, category: str | None = None) -> int:
        """Remove one subscription, or all of the chat's with None; how many were removed."""

    async def subscriptions(self, chat_id: int) -> list[Subscription]:
        """The chat's subscriptions, by category name."""

    # -- summaries cache -------------------------------------------------------------------
    async def get_summary(self, article_id: int, algorithm: str, length: str) -> list[str] | None:
        """A cached summary, or None."""

    async def put_summary(
        self, article_id: int, algorithm: str, length: str, sentences: Sequence[str]
    ) -> None:
        """Cache a summary, replacing any for the same (article, algorithm, length)."""

    # -- statistics ------------------------------------------------------------------------
    async def stats(self) -> StoreStats:
        """Counts for `newsbot stats`."""
