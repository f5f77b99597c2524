"""Initial schema: categories, feeds, articles (+ full-text search), chats, subscriptions,
deliveries, summaries.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import unicodedata

import sqlalchemy as sa
from alembic import op

from bot.store.schema import BigId, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "categories",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("article_count", sa.Integer, nullable=False, server_default="0"),
        sa.UniqueConstraint("key", name="uq_categories_key"),
    )
    op.create_table(
        "feeds",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("category", sa.String(200)),
        sa.Column("language", sa.String(16)),
        sa.Column("interval_minutes", sa.Integer),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("etag", sa.Text),
        sa.Column("last_modified", sa.Text),
        sa.Column("last_fetched", UTCDateTime),
        sa.Column("next_fetch", UTCDateTime),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("url", name="uq_feeds_url"),
    )
    op.create_table(
        "articles",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("guid", sa.Text),
        sa.Column("url", sa.Text),
        sa.Column("url_key", sa.Text),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("author", sa.Text),
        sa.Column("published", UTCDateTime),
        sa.Column("sort_time", UTCDateTime, nullable=False),
        sa.Column(
            "category_id",
            sa.Integer,
            sa.ForeignKey(
                "categories.id", ondelete="SET NULL", name="fk_articles_category_id_categories"
            ),
        ),
        sa.Column("language", sa.String(16)),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column(
            "feed_id",
            sa.Integer,
            sa.ForeignKey("feeds.id", ondelete="SET NULL", name="fk_articles_feed_id_feeds"),
        ),
        sa.Column("stored_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("guid", name="uq_articles_guid"),
        sa.UniqueConstraint("url_key", name="uq_articles_url_key"),
        sa.UniqueConstraint("content_hash", name="uq_articles_content_hash"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_articles_sort", "articles", ["sort_time", "id"])
    op.create_index("ix_articles_category_sort", "articles", ["category_id", "sort_time", "id"])
    op.create_table(
        "chats",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "chat_id",
            sa.BigInteger,
            sa.ForeignKey("chats.id", ondelete="CASCADE", name="fk_subscriptions_chat_id_chats"),
            nullable=False,
        ),
        sa.Column(
            "category_id",
            sa.Integer,
            sa.ForeignKey(
                "categories.id",
                ondelete="CASCADE",
                name="fk_subscriptions_category_id_categories",
            ),
            nullable=False,
        ),
        sa.Column("filters", sa.JSON, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("chat_id", "category_id", name="uq_subscriptions_chat_id_category_id"),
    )
    op.create_index("ix_subscriptions_category_id", "subscriptions", ["category_id"])
    op.create_table(
        "deliveries",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "chat_id",
            sa.BigInteger,
            sa.ForeignKey("chats.id", ondelete="CASCADE", name="fk_deliveries_chat_id_chats"),
            nullable=False,
        ),
        sa.Column(
            "article_id",
            sa.BigInteger,
            sa.ForeignKey(
                "articles.id", ondelete="CASCADE", name="fk_deliveries_article_id_articles"
            ),
            nullable=False,
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("sent_at", UTCDateTime),
        sa.Column("last_error", sa.Text),
        sa.UniqueConstraint("chat_id", "article_id", name="uq_deliveries_chat_id_article_id"),
    )
    op.create_index("ix_deliveries_status_id", "deliveries", ["status", "id"])
    op.create_table(
        "summaries",
        sa.Column(
            "article_id",
            sa.BigInteger,
            sa.ForeignKey(
                "articles.id", ondelete="CASCADE", name="fk_summaries_article_id_articles"
            ),
            primary_key=True,
        ),
        sa.Column("algorithm", sa.String(32), primary_key=True),
        sa.Column("length", sa.String(16), primary_key=True),
        sa.Column("sentences", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )

    if op.get_bind().dialect.name == "sqlite":
        _sqlite_fts()
    else:
        _postgresql_fts()


def _sqlite_fts() -> None:
    # External-content FTS5 index over title and body, kept in sync by triggers. unicode61 with
    # remove_diacritics 2 makes matching case- and accent-insensitive ("economie" = "Économie").
    op.execute(
        "CREATE VIRTUAL TABLE articles_fts USING fts5("
        "title, text, content='articles', content_rowid='id', "
        "tokenize='unicode61 remove_diacritics 2')"
    )
    op.execute(
        "CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN "
        "INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END"
    )
    op.execute(
        "CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles BEGIN "
        "INSERT INTO articles_fts(articles_fts, rowid, title, text) "
        "VALUES ('delete', old.id, old.title, old.text); END"
    )
    op.execute(
        "CREATE TRIGGER articles_fts_update AFTER UPDATE OF title, text ON articles BEGIN "
        "INSERT INTO articles_fts(articles_fts, rowid, title, text) "
        "VALUES ('delete', old.id, old.title, old.text); "
        "INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END"
    )


def _fold_translation() -> tuple[str, str]:
    """Pairs for SQL translate(): each accented Latin letter and its bare letter, the same
    folding as `bot.text.fold` for these characters, so both backends match alike."""
    sources, targets = [], []
    for code in range(0xC0, 0x250):
        char = chr(code).lower()
        if char in sources:
            continue
        bare = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        if len(bare) == 1 and bare != char and bare.isascii():
            sources.append(char)
            targets.append(bare)
    return "".join(sources), "".join(targets)


def _postgresql_fts() -> None:
    # A generated tsvector over the folded title and body, so every writer keeps it right.
    # PostgreSQL's unaccent is an extension (needs a superuser to install), so the folding is an
    # IMMUTABLE translate() of lower() instead. Capped in length: a tsvector has a 1 MB limit.
    sources, targets = _fold_translation()
    op.execute(
        "CREATE FUNCTION newsbot_fold(value text) RETURNS text "
        "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS "
        f"$$ SELECT translate(lower(value), '{sources}', '{targets}') $$"
    )
    op.execute(
        "ALTER TABLE articles ADD COLUMN search tsvector GENERATED ALWAYS AS "
        "(to_tsvector('simple'::regconfig, left(newsbot_fold(title || ' ' || text), 400000))) "
        "STORED"
    )
    op.execute("CREATE INDEX ix_articles_search ON articles USING gin (search)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("articles_fts_insert", "articles_fts_delete", "articles_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS articles_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_articles_search")
        op.execute("ALTER TABLE articles DROP COLUMN IF EXISTS search")
        op.execute("DROP FUNCTION IF EXISTS newsbot_fold(text)")
    for table in ("summaries", "deliveries", "subscriptions", "chats", "articles"):
        op.drop_table(table)
    op.drop_table("feeds")
    op.drop_table("categories")
