"""Several processes, one bot: a shared send rate, the processes seen, named leases.

- `send_rate`: one row per shared rate ("overall"), `next_at` the earliest free send slot in
  seconds since the epoch; every process on one PostgreSQL takes its send slots there, so that
  together they send at most `[delivery] messages_per_second`.
- `processes`: each `newsbot run` process, with its role and when it was last seen (the start
  log line counts them, and so the share of the rate).
- `leases`: named leases one process holds at a time ("updates": the one process that calls
  getUpdates when several run in polling mode).

Only new tables: in place on both backends (SQLite, one process, does not use them).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from bot.store.schema import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "send_rate",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("next_at", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_send_rate"),
    )
    op.create_table(
        "processes",
        sa.Column("worker", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("seen_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("worker", name="pk_processes"),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("until", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_table("processes")
    op.drop_table("send_rate")
