"""SQLite search: prefix indexes of 3 and 4 letters.

Search takes the last word of a query as the start of a word ("search as you type",
`bot.store.articles.search`). Without a prefix index, FTS5 answers `"pou"*` by reading and
merging the whole entry of every word that starts with "pou" ("pour" is in nearly every
article) before it can return the newest match: ORDER BY rowid DESC LIMIT could not stop
early, and a 2-word search whose last word was short and common took 10-50x as long as one
of whole words. With `prefix='3 4'` FTS5 also stores, for each article, the 3- and 4-letter
starts of its words, and reads a prefix of exactly that length as one more word, newest first.
Prefixes of 5 letters or more match fewer words and are still merged (cheaply).

The index is rebuilt from `articles` (its external content), as in 0010; the triggers that
keep it and the automerge setting stay. At 100,000 articles (bench/store.py's) the rebuild took
86 s on the project's 2-core machine at load average 11-13, and the index grew from 65 to
148 MiB. SQLite only: nothing changes on PostgreSQL.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_COLUMNS = "title, text, content='articles', content_rowid='id', "
_TOKENIZE = "tokenize='unicode61 remove_diacritics 2', detail=column, columnsize=0"


def _rebuild(options: str) -> None:
    op.execute("DROP TABLE articles_fts")
    op.execute(f"CREATE VIRTUAL TABLE articles_fts USING fts5({_COLUMNS}{_TOKENIZE}{options})")
    op.execute("INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')")
    op.execute("INSERT INTO articles_fts(articles_fts, rank) VALUES ('automerge', 16)")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(", prefix='3 4'")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild("")
