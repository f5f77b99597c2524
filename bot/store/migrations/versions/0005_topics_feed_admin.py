"""Forum topics, and the feed alerts of the bot's admins.

- `subscriptions.thread_id`: the forum topic (`message_thread_id`) a subscription's articles
  and digests go to; NULL for the chat itself (a private chat, a group without topics, a
  forum's General topic). A category still goes to one place per chat (the unique
  (chat, category) index stays), so a group routes each category to its own topic.
- `deliveries.thread_id`: the topic a queued article goes to, copied from its subscription
  when it is queued, so the sender needs no join.
- `feeds.alert`, `feeds.alert_at`: what the admins were last told of the feed ("disabled"
  after repeated failures or by an admin, "enabled" when an admin turned it back on) and
  when; the bot tells them once per change, whichever process noticed it.

Only nullable columns: in place on both backends.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.schema import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("subscriptions", sa.Column("thread_id", sa.BigInteger))
    op.add_column("deliveries", sa.Column("thread_id", sa.BigInteger))
    op.add_column("feeds", sa.Column("alert", sa.String(16)))
    op.add_column("feeds", sa.Column("alert_at", UTCDateTime))


def downgrade() -> None:
    op.drop_column("feeds", "alert_at")
    op.drop_column("feeds", "alert")
    op.drop_column("deliveries", "thread_id")
    op.drop_column("subscriptions", "thread_id")
