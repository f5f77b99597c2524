"""Search and retention: indexes that let old rows be deleted in short batches.

- `ix_deliveries_created_at`: retention deletes the oldest finished deliveries first, a batch
  at a time, without scanning the recent ones.
- `ix_deliveries_article_id`: deleting an article looks up its deliveries (to keep any still
  pending, and through the ON DELETE CASCADE); the unique (chat, article) index starts with
  the chat and cannot serve that, so each deleted article scanned the whole queue.

Only indexes are added: in place on both backends.

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_deliveries_created_at", "deliveries", ["created_at"])
    op.create_index("ix_deliveries_article_id", "deliveries", ["article_id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_article_id", "deliveries")
    op.drop_index("ix_deliveries_created_at", "deliveries")
