"""SQLite search: an FTS5 index without word positions, and without per-article sizes.

Search asks only "does the article have every word, the last one perhaps as the start of a
word" (`bot.store.articles.search`): never a phrase, a NEAR, a column filter, nor a rank. So
`articles_fts` no longer stores where each word stands in the text (`detail=column`: only in
which column), nor each article's column sizes (`columnsize=0`, used only by bm25 ranking).
A prefix term (the last word, "search as you type") is answered by merging the entries of every
word it starts, and those entries are now a few bytes an article instead of one per occurrence
(bench/store.py, 100,000 articles: 2-word search p99 down, import faster; see README).

The index is rebuilt from `articles` (its external content); the triggers that keep it are
unchanged (they name the table, not its options), as is the automerge setting of 0002.
SQLite only: nothing changes on PostgreSQL.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_COLUMNS = "title, text, content='articles', content_rowid='id', "
_TOKENIZE = "tokenize='unicode61 remove_diacritics 2'"


def _rebuild(options: str) -> None:
    op.execute("DROP TABLE articles_fts")
    op.execute(f"CREATE VIRTUAL TABLE articles_fts USING fts5({_COLUMNS}{_TOKENIZE}{options})")
    op.execute("INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')")
    op.execute("INSERT INTO articles_fts(articles_fts, rank) VALUES ('automerge', 16)")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(", detail=column, columnsize=0")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild("")
