"""PostgreSQL imports: the search index's pending-list limit moves from the index to the session.

Migration 0009 set `gin_pending_list_limit = 1024` (1 MB) on `ix_articles_search`, so that
searches never read through a long list of unsorted new entries. An index's own setting
overrides the `gin_pending_list_limit` of every session, so a bulk write could not do better:
storing 1,000 articles merged the list two or three times, with `work_mem` (4 MB) each time,
which re-wrote the posting lists of the common words at every merge. The setting now lives in
the sessions: the store's connections set 1 MB (`bot.store.base.create_engine`), as before,
and a bulk write (an import's batch) raises it for its own transactions, then merges the list
once at the end (`gin_clean_pending_list`, with `maintenance_work_mem`): 0.42-0.46 ms of
server CPU an article instead of 0.59-0.60 in a test of 10,000 rows (see README).

PostgreSQL only; nothing changes on SQLite.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER INDEX ix_articles_search RESET (gin_pending_list_limit)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER INDEX ix_articles_search SET (gin_pending_list_limit = 1024)")
