"""Search: one rule for what a word is, on both backends.

A word is a run of letters and digits; everything else separates words. SQLite's FTS5
`unicode61` tokenizer already reads text that way. PostgreSQL's default text-search parser does
not: it reads `<script>` as an HTML tag (and drops it), `covid-19` as a hyphenated word,
`news.example.org` as a host, `3.14` as a number. So the `tsvector` is now built over the folded
text with ASCII punctuation (and common typographic punctuation and spaces) turned into spaces,
which leaves its parser nothing but words and numbers. `bot.store.articles.search_terms` splits a
query the same way.

PostgreSQL only (the generated column is rebuilt, with its index); nothing changes on SQLite.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import string

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Characters that separate words although PostgreSQL's parser may read them as part of a
# token: every ASCII punctuation mark, then typographic quotes, dashes, dots and spaces (which
# a database whose ctype is plain "C" counts as letters).
SEPARATORS = string.punctuation + (
    "\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u00ab\u00bb\u2039\u203a"  # quotes
    "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"  # hyphens, dashes, minus
    "\u2026\u00b7\u2022\u2032\u2033\u00a1\u00bf\u00a7\u00b6"  # … · • ′ ″ ¡ ¿ § ¶
    "\u00a0\u2002\u2003\u2007\u2008\u2009\u200a\u202f\u205f\u3000"  # spaces
)
_OLD = "left(newsbot_fold(title || ' ' || text), 400000)"
_NEW = "left(newsbot_words(title || ' ' || text), 400000)"


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _rebuild(expression: str) -> None:
    op.execute("DROP INDEX IF EXISTS ix_articles_search")
    op.execute("ALTER TABLE articles DROP COLUMN IF EXISTS search")
    op.execute(
        "ALTER TABLE articles ADD COLUMN search tsvector GENERATED ALWAYS AS "
        f"(to_tsvector('simple'::regconfig, {expression})) STORED"
    )
    op.execute("CREATE INDEX ix_articles_search ON articles USING gin (search)")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE FUNCTION newsbot_words(value text) RETURNS text "
        "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS "
        f"$fn$ SELECT translate(newsbot_fold(value), {_literal(SEPARATORS)}, "
        f"{_literal(' ' * len(SEPARATORS))}) $fn$"
    )
    _rebuild(_NEW)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _rebuild(_OLD)
    op.execute("DROP FUNCTION IF EXISTS newsbot_words(text)")
