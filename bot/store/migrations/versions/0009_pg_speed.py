"""PostgreSQL import speed: the search vector is written by the store, not generated.

`articles.search` was a generated column (`newsbot_search(title || ' ' || text)`, migration
0007): PostgreSQL computed it with two regular-expression passes over every body, the largest
part of the server's work per stored article. The store now computes the words in Python while
it builds the rows (`bot.store.articles.search_words`, the very rule `search_terms` applies to
a query) and sends them along with the row, so the column becomes a plain `tsvector`.

Rows written by any other path (an UPDATE of the title or the text that leaves `search` alone,
an INSERT by hand that gives none) still get their vector, from `newsbot_search`, through two
triggers whose WHEN clauses keep the store's own inserts free of any trigger call.

The GIN index keeps at most 1 MB of new entries in its unsorted pending list (PostgreSQL's
default is 4 MB) before merging them into the tree: every search reads the whole pending list,
which made 2-word searches at 100,000 articles ~1.7x slower at the median (bench/store.py) when
it was full, for 6% more insert time at 1 MB in a test of 5,000 rows (7x more with no
pending list at all, `fastupdate = off`).

SQLite: nothing changes (its FTS5 table has its own triggers).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_FUNCTION = (
    "CREATE FUNCTION newsbot_search_row() RETURNS trigger LANGUAGE plpgsql AS $fn$ BEGIN "
    "NEW.search := newsbot_search(NEW.title || ' ' || NEW.text); RETURN NEW; END $fn$"
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE articles ALTER COLUMN search DROP EXPRESSION")
    op.execute("ALTER INDEX ix_articles_search SET (gin_pending_list_limit = 1024)")
    op.execute(_FUNCTION)
    op.execute(
        "CREATE TRIGGER articles_search_insert BEFORE INSERT ON articles FOR EACH ROW "
        "WHEN (NEW.search IS NULL) EXECUTE FUNCTION newsbot_search_row()"
    )
    op.execute(
        "CREATE TRIGGER articles_search_update BEFORE UPDATE OF title, text ON articles "
        "FOR EACH ROW WHEN (NEW.search IS NOT DISTINCT FROM OLD.search "
        "AND (NEW.title IS DISTINCT FROM OLD.title OR NEW.text IS DISTINCT FROM OLD.text)) "
        "EXECUTE FUNCTION newsbot_search_row()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS articles_search_update ON articles")
    op.execute("DROP TRIGGER IF EXISTS articles_search_insert ON articles")
    op.execute("DROP FUNCTION IF EXISTS newsbot_search_row()")
    # PostgreSQL 15 cannot turn a column back into a generated one: rebuild it as 0007 made it.
    op.execute("DROP INDEX IF EXISTS ix_articles_search")
    op.execute("ALTER TABLE articles DROP COLUMN IF EXISTS search")
    op.execute(
        "ALTER TABLE articles ADD COLUMN search tsvector GENERATED ALWAYS AS "
        "(newsbot_search(title || ' ' || text)) STORED, ALTER COLUMN search SET STORAGE MAIN"
    )
    op.execute("CREATE INDEX ix_articles_search ON articles USING gin (search)")
