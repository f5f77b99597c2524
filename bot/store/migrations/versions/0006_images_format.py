"""Pictures: each article's lead picture and the name of the site that published it.

- `articles.image_url`: the lead picture's absolute http(s) URL, from the feed entry or the
  page; set back to NULL when Telegram refuses the picture, so it is not offered again.
- `articles.site_name`: the publishing site's name (the page's `og:site_name`, else the
  feed's title), shown as the post's source when the chat's format asks for it.

The chats' post format and silent posts live in `chats.settings` (JSON): no column for them.
Only nullable columns: in place on both backends.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("articles", sa.Column("image_url", sa.Text))
    op.add_column("articles", sa.Column("site_name", sa.Text))


def downgrade() -> None:
    op.drop_column("articles", "site_name")
    op.drop_column("articles", "image_url")
