"""Search and retention: a cheaper search vector on PostgreSQL, and indexes that let old rows
be deleted in short batches.

- PostgreSQL's `articles.search` was `to_tsvector('simple', newsbot_words(title || text))`:
  two `translate()` calls over the whole text, each looking every character up in a list of
  some 300 (2.5 ms an article of 2,300 characters on the project's machine, 90% of the cost
  of storing it: imports ran at ~400 articles/s). It is now built by `newsbot_search`:
  lower case, NFKD with the combining marks removed (`bot.text.fold`'s own rule, so it
  also folds the letters `newsbot_fold` did not list), every separator (the list of 0004,
  then any punctuation, symbol or space) turned into a space, and the words made lexemes by
  `array_to_tsvector`, without running the text-search parser at all (0.4 ms an article).
  The lexemes have no positions: search only asks "has every word" (and a prefix), never a
  phrase nor a rank. Words over 2,047 bytes (PostgreSQL's limit) are left out of the index,
  as `to_tsvector` did. The column and its GIN index are rebuilt (the table is rewritten once).
  The vector is kept in the row (storage MAIN; the body is moved to TOAST first): search
  checks it on many rows (`bot.store.articles._pg_search`), and fetching it from TOAST made
  each check 11 µs instead of 1.
- `ix_deliveries_created_at`: retention deletes the oldest finished deliveries first, a batch
  at a time, without scanning the recent ones.
- `ix_deliveries_article_id`: deleting an article looks up its deliveries (to keep any still
  pending, and through the ON DELETE CASCADE); the unique (chat, article) index starts with
  the chat and cannot serve that, so each deleted article scanned the whole queue.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import string
import unicodedata

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# As in 0004: ASCII punctuation, typographic quotes, dashes, dots and spaces, listed so that
# they separate words even in a database whose ctype is plain "C" (where `[:punct:]` and
# `[:space:]` know ASCII only).
SEPARATORS = string.punctuation + (
    "\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u00ab\u00bb\u2039\u203a"
    "\u2010\u2011\u2012\u2013\u2014\u2015\u2212"
    "\u2026\u00b7\u2022\u2032\u2033\u00a1\u00bf\u00a7\u00b6"
    "\u00a0\u2002\u2003\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
)


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _bracket(chars: str) -> str:
    """*chars* inside a POSIX bracket expression, the characters special there escaped."""
    return "".join("\\" + c if c in "\\]^-[" else c for c in chars)


def _combining_marks() -> str:
    """The combining marks of the Basic Multilingual Plane as bracket-expression ranges: the
    class `bot.text.fold` deletes after NFKD."""
    ranges: list[list[int]] = []
    for cp in range(0x300, 0x10000):
        if unicodedata.combining(chr(cp)):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1][1] = cp
            else:
                ranges.append([cp, cp])
    return "".join(f"{chr(a)}-{chr(b)}" for a, b in ranges)


def _search_function() -> str:
    marks = _literal(f"[{_combining_marks()}]+")
    separators = _literal(f"[{_bracket(SEPARATORS)}[:space:][:punct:]]+")
    words = (
        "regexp_replace(regexp_replace(normalize(lower(left(value, 400000)), NFKD), "
        f"{marks}, '', 'g'), {separators}, ' ', 'g')"
    )
    return (
        "CREATE FUNCTION newsbot_search(value text) RETURNS tsvector "
        "LANGUAGE sql IMMUTABLE PARALLEL SAFE AS "
        "$fn$ SELECT array_to_tsvector(ARRAY(SELECT word FROM "
        f"unnest(string_to_array({words}, ' ')) AS word "
        "WHERE word <> '' AND octet_length(word) < 2048)) $fn$"
    )


def _rebuild(expression: str, storage: str = "EXTENDED") -> None:
    op.execute("DROP INDEX IF EXISTS ix_articles_search")
    op.execute("ALTER TABLE articles DROP COLUMN IF EXISTS search")
    # One ALTER TABLE: the storage is set before the table is rewritten with the values.
    op.execute(
        f"ALTER TABLE articles ADD COLUMN search tsvector GENERATED ALWAYS AS ({expression}) "
        f"STORED, ALTER COLUMN search SET STORAGE {storage}"
    )
    op.execute("CREATE INDEX ix_articles_search ON articles USING gin (search)")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_search_function())
        _rebuild("newsbot_search(title || ' ' || text)", storage="MAIN")
    op.create_index("ix_deliveries_created_at", "deliveries", ["created_at"])
    op.create_index("ix_deliveries_article_id", "deliveries", ["article_id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_article_id", "deliveries")
    op.drop_index("ix_deliveries_created_at", "deliveries")
    if op.get_bind().dialect.name == "postgresql":
        _rebuild(
            "to_tsvector('simple'::regconfig, left(newsbot_words(title || ' ' || text), 400000))"
        )
        op.execute("DROP FUNCTION IF EXISTS newsbot_search(text)")
