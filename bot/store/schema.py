"""Tables of the article store, as SQLAlchemy Core metadata.

The migrations under `migrations/versions` create exactly these tables; `tests/test_store.py`
checks the two never drift apart. Full-text search lives outside this metadata because it is
dialect-specific: an FTS5 table kept in sync by triggers on SQLite, a `tsvector` column with a
GIN index on PostgreSQL (see the first migration).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

from bot.models import as_utc


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, on both backends.

    SQLite has no time zones: values are stored as naive UTC text, which also sorts correctly.
    PostgreSQL stores `timestamptz`.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return as_utc(value)


# Telegram chat ids exceed 32 bits; SQLite's INTEGER is 64-bit anyway, but its autoincrement
# needs the plain INTEGER type, hence the variant.
BigId = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

categories = Table(
    "categories",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    # fold(name): "economie" for "Économie"; what lookups match on.
    Column("key", String(200), nullable=False, unique=True),
    # Kept by the store in the transaction that adds articles, so /categories is one small
    # read instead of a count over every article.
    Column("article_count", Integer, nullable=False, default=0, server_default="0"),
)

feeds = Table(
    "feeds",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("url", Text, nullable=False, unique=True),
    Column("title", Text),
    Column("category", String(200)),
    Column("language", String(16)),
    Column("interval_minutes", Integer),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("last_fetched", UTCDateTime),
    Column("next_fetch", UTCDateTime),
    Column("failures", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("created_at", UTCDateTime, nullable=False),
    # "config": managed by the config file's [[feeds]] (sync_feeds adds, updates and removes
    # it); "admin": added by hand, never touched by the sync. (Migration 0002.)
    Column("origin", String(16), nullable=False, default="admin", server_default="admin"),
    # One process ingests a feed at a time: the one holding an unexpired lease. (Migration 0003.)
    Column("lease_until", UTCDateTime),
    Column("lease_owner", String(64)),
    # What the bot's admins were last told of the feed ("disabled", "enabled"), and when, so
    # each change is told once, by whichever process sees it first. (Migration 0006.)
    Column("alert", String(16)),
    Column("alert_at", UTCDateTime),
)

articles = Table(
    "articles",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("guid", Text, unique=True),
    Column("url", Text),
    # normalize_url(url): the de-duplication key for URLs.
    Column("url_key", Text, unique=True),
    Column("content_hash", String(64), nullable=False, unique=True),
    Column("title", Text, nullable=False),
    Column("author", Text),
    Column("published", UTCDateTime),
    # What "latest" sorts by: the publication time, but never later than when we stored the
    # article, so a feed dating its items in the future cannot pin them to the top.
    Column("sort_time", UTCDateTime, nullable=False),
    Column("category_id", Integer, ForeignKey("categories.id", ondelete="SET NULL")),
    Column("language", String(16)),
    Column("text", Text, nullable=False),
    Column("feed_id", Integer, ForeignKey("feeds.id", ondelete="SET NULL")),
    Column("stored_at", UTCDateTime, nullable=False),
    # Full-page state of a feed article stored with only its teaser because the page failed:
    # NULL = nothing to do, "pending" = retried by the next ingest runs, "failed" = gave up
    # after too many attempts. (Migration 0002.)
    Column("page_status", String(16)),
    Column("page_attempts", Integer, nullable=False, default=0, server_default="0"),
    Column("page_error", Text),
    # The lead picture's absolute http(s) URL (NULL once Telegram refused it) and the
    # publishing site's name. (Migration 0005.)
    Column("image_url", Text),
    Column("site_name", Text),
    Index("ix_articles_sort", "sort_time", "id"),
    Index("ix_articles_category_sort", "category_id", "sort_time", "id"),
    Index("ix_articles_page_status", "page_status"),
    # Ids are shown to users: never reuse one, even after a delete.
    sqlite_autoincrement=True,
)

chats = Table(
    "chats",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("language", String(16), nullable=False, default="fr"),
    Column("settings", JSON, nullable=False, default=dict),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    # When the chat may receive again (quiet hours, digest time, pause), as the sender last
    # decided; NULL: decide at the next claim. Why an inactive chat stopped. (Migration 0003.)
    Column("hold_until", UTCDateTime),
    Column("deactivated_reason", Text),
    # +1 at every settings change: a hold decided on older settings is not stored.
    Column("settings_version", Integer, nullable=False, default=0, server_default="0"),
)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("chat_id", BigInteger, ForeignKey("chats.id", ondelete="CASCADE"), nullable=False),
    Column("category_id", Integer, ForeignKey("categories.id", ondelete="CASCADE"), nullable=False),
    Column("filters", JSON, nullable=False, default=list),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UTCDateTime, nullable=False),
    # The forum topic its articles go to; NULL: the chat itself (or a forum's General topic).
    # One place per (chat, category): a group routes each category to one topic. (0006.)
    Column("thread_id", BigInteger),
    UniqueConstraint("chat_id", "category_id"),
    Index("ix_subscriptions_category_id", "category_id"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("chat_id", BigInteger, ForeignKey("chats.id", ondelete="CASCADE"), nullable=False),
    Column("article_id", BigInteger, ForeignKey("articles.id", ondelete="CASCADE"), nullable=False),
    # pending -> sending (claimed by `worker` until `lease_until`) -> sent | failed; the
    # sender drains "pending" in id order. On a pending row, `lease_until` is the earliest
    # retry. (Lease columns and digest_id: migration 0003.)
    Column("status", String(16), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime),
    Column("last_error", Text),
    Column("lease_until", UTCDateTime),
    Column("worker", String(64)),
    Column("digest_id", Integer),
    # The forum topic it goes to, copied from the subscription when queued. (Migration 0006.)
    Column("thread_id", BigInteger),
    UniqueConstraint("chat_id", "article_id"),
    Index("ix_deliveries_status_id", "status", "id"),
    Index("ix_deliveries_chat_id_status", "chat_id", "status"),
    # Retention (migration 0007): the oldest rows first, and an article's deliveries, which
    # deleting an article looks up (the (chat, article) index cannot serve that).
    Index("ix_deliveries_created_at", "created_at"),
    Index("ix_deliveries_article_id", "article_id"),
)

digests = Table(
    "digests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("chat_id", BigInteger, ForeignKey("chats.id", ondelete="CASCADE"), nullable=False),
    Column("article_ids", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_digests_chat_id", "chat_id"),
)

summaries = Table(
    "summaries",
    metadata,
    Column(
        "article_id",
        BigInteger,
        ForeignKey("articles.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("algorithm", String(32), primary_key=True),
    # "3" for three sentences, "10%" for a ratio.
    Column("length", String(16), primary_key=True),
    Column("sentences", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# -- several processes, one bot (migration 0008) ------------------------------------------------

# The overall send rate every process shares on PostgreSQL: `next_at` is the earliest free send
# slot, in seconds since the epoch on the processes' clocks; a process takes N slots by moving
# it N spacings on, atomically (see `bot.store.cluster`).
send_rate = Table(
    "send_rate",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("next_at", Float, nullable=False),
)

# Each running `newsbot run` process, seen at start and while it lives: its role, and when it
# was last seen (processes not seen for a while are dead and ignored).
processes = Table(
    "processes",
    metadata,
    Column("worker", String(64), primary_key=True),
    Column("role", String(16), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
)

# Named leases one process holds at a time ("updates": who calls getUpdates).
leases = Table(
    "leases",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("owner", String(64), nullable=False),
    Column("until", UTCDateTime, nullable=False),
)
