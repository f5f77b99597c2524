"""Delivery: leases on the queue, holds on chats, digests, leases on feeds.

- `deliveries.lease_until`, `deliveries.worker`: a sender claims rows by setting status
  "sending", its name and a lease it renews while it lives; rows whose lease ran out (their
  sender died) are claimed again. On a "pending" row, `lease_until` is the earliest time of a
  retry. `deliveries.digest_id`: the digest that listed the article.
- `chats.hold_until`: the sender's last word on when the chat may receive again (quiet hours,
  digest time, pause); NULL means "decide at the next claim". `chats.deactivated_reason`: why a
  chat stopped receiving (blocked the bot, kicked it). `chats.settings_version`: counts settings
  changes, so a sender never stores a hold decided on settings changed meanwhile.
- `digests`: the articles of each digest message, for its page buttons.
- `feeds.lease_until`, `feeds.lease_owner`: one process ingests a feed at a time.

Only nullable columns and a new table: in place on both backends.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.schema import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "digests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "chat_id",
            sa.BigInteger,
            sa.ForeignKey("chats.id", ondelete="CASCADE", name="fk_digests_chat_id_chats"),
            nullable=False,
        ),
        sa.Column("article_ids", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_digests"),
    )
    op.create_index("ix_digests_chat_id", "digests", ["chat_id"])
    op.add_column("deliveries", sa.Column("lease_until", UTCDateTime))
    op.add_column("deliveries", sa.Column("worker", sa.String(64)))
    op.add_column("deliveries", sa.Column("digest_id", sa.Integer))
    op.create_index("ix_deliveries_chat_id_status", "deliveries", ["chat_id", "status"])
    op.add_column("chats", sa.Column("hold_until", UTCDateTime))
    op.add_column("chats", sa.Column("deactivated_reason", sa.Text))
    op.add_column(
        "chats",
        sa.Column("settings_version", sa.Integer, nullable=False, server_default="0"),
    )
    op.add_column("feeds", sa.Column("lease_until", UTCDateTime))
    op.add_column("feeds", sa.Column("lease_owner", sa.String(64)))


def downgrade() -> None:
    op.drop_index("ix_deliveries_chat_id_status", table_name="deliveries")
    for table, column in (
        ("feeds", "lease_owner"),
        ("feeds", "lease_until"),
        ("chats", "settings_version"),
        ("chats", "deactivated_reason"),
        ("chats", "hold_until"),
        ("deliveries", "digest_id"),
        ("deliveries", "worker"),
        ("deliveries", "lease_until"),
    ):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
    op.drop_index("ix_digests_chat_id", table_name="digests")
    op.drop_table("digests")
