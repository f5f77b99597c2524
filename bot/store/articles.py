"""The articles of `SqlStore`: storing them (with their summaries and deliveries, in one
transaction), teasers waiting for their page, reading, full-text search, categories."""

from __future__ import annotations

import asyncio
import difflib
import functools
import json
import re
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Row,
    Select,
    TextClause,
    bindparam,
    func,
    select,
    text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

from bot.errors import NotFound
from bot.models import (
    Article,
    Category,
    NewArticle,
    PendingPage,
    as_utc,
)
from bot.store.base import BATCH_SIZE, _all, _chunks, _execute, _first
from bot.store.contract import DEFAULT_SUMMARY_KEY, AddResult
from bot.store.queue import Arrival, QueueMixin
from bot.store.schema import (
    articles,
    categories,
    summaries,
)
from bot.store.summaries import _summary_row
from bot.text import content_hash, fold, fold_chars
from bot.urls import normalize_url

PAGE_PENDING, PAGE_FAILED = "pending", "failed"
# A word is a run of letters and digits; anything else (the underscore too) separates words,
# as SQLite's unicode61 tokenizer and the PostgreSQL index (migration 0004) read text.
_WORDS = re.compile(r"[^\W_]+")
_MAX_SEARCH_TERMS = 12


_ARTICLE_COLUMNS = (
    articles.c.id,
    articles.c.title,
    articles.c.text,
    articles.c.url,
    articles.c.guid,
    articles.c.author,
    articles.c.published,
    categories.c.name.label("category"),
    articles.c.language,
    articles.c.feed_id,
    articles.c.content_hash,
    articles.c.stored_at,
    articles.c.image_url,
    articles.c.site_name,
)


def _article_select() -> Select[Any]:
    return select(*_ARTICLE_COLUMNS).select_from(
        articles.outerjoin(categories, articles.c.category_id == categories.c.id)
    )


def _to_article(row: Row[Any]) -> Article:
    return Article(
        id=row.id,
        title=row.title,
        text=row.text,
        url=row.url,
        guid=row.guid,
        author=row.author,
        published=row.published,
        category=row.category,
        language=row.language,
        feed_id=row.feed_id,
        content_hash=row.content_hash,
        stored_at=row.stored_at,
        image=row.image_url,
        site_name=row.site_name,
    )


def search_terms(query: str) -> list[str]:
    """The words of a search, folded: runs of letters and digits, as the index reads the
    articles. One-letter words (the "l" of "l'économie") are dropped unless nothing else is
    left, since they would match almost everything."""
    words = _WORDS.findall(fold(query))
    longer = [w for w in words if len(w) > 1]
    return (longer or words)[:_MAX_SEARCH_TERMS]


# Articles given to one `add_articles` call from which it is a bulk write on PostgreSQL (an
# import's batch; a feed's few new items are not): the search index's pending list may then
# grow to PG_BULK_PENDING_LIST_LIMIT in its transactions, and is merged at the end of the call.
PG_MERGE_AFTER = 200
PG_BULK_PENDING_LIST_LIMIT = "64MB"
# PostgreSQL cannot index a lexeme of 2,048 bytes or more; the vector reads this much of an
# article at most (as `newsbot_search`, migration 0007, does for rows written by other paths).
_MAX_LEXEME_BYTES = 2047
_MAX_INDEXED_CHARS = 400_000


def search_words(title: str, text: str) -> list[str]:
    """The distinct words of an article as `search_terms` reads a query: what PostgreSQL's
    `search` vector holds (migration 0009), computed here so that the server does not run
    regular expressions over every body it stores."""
    words = _WORDS.findall(fold_chars(f"{title} {text}"[:_MAX_INDEXED_CHARS]))
    if words and max(map(len, words)) * 4 > _MAX_LEXEME_BYTES:  # rare: measure in bytes
        words = [w for w in words if len(w.encode()) <= _MAX_LEXEME_BYTES]
    return list(dict.fromkeys(words))


# The PostgreSQL insert of a chunk (see `_pg_insert`): its rows as one array a column, one
# statement a chunk whatever its size.
_PG_COLUMNS = (
    ("guid", "text"),
    ("url", "text"),
    ("url_key", "text"),
    ("content_hash", "text"),
    ("title", "text"),
    ("author", "text"),
    ("published", "timestamptz"),
    ("sort_time", "timestamptz"),
    ("category_id", "int"),
    ("language", "text"),
    ("text", "text"),
    ("feed_id", "int"),
    ("stored_at", "timestamptz"),
    ("page_status", "text"),
    ("page_attempts", "int"),
    ("page_error", "text"),
    ("image_url", "text"),
    ("site_name", "text"),
)
_PG_INSERT = (
    f"INSERT INTO articles ({', '.join(name for name, _ in _PG_COLUMNS)}, search) "
    f"SELECT {', '.join(name for name, _ in _PG_COLUMNS)}, "
    "array_to_tsvector(string_to_array(words, ' ')) "
    f"FROM unnest({', '.join(f'${i}::{kind}[]' for i, (_, kind) in enumerate(_PG_COLUMNS, 1))}, "
    f"${len(_PG_COLUMNS) + 1}::text[]) WITH ORDINALITY "
    f"AS incoming({', '.join(name for name, _ in _PG_COLUMNS)}, words, position) "
    "ORDER BY position ON CONFLICT DO NOTHING RETURNING id, category_id, content_hash"
)


class ArticlesMixin(QueueMixin):
    """Articles; a `QueueMixin`, since storing an article queues its deliveries."""

    @functools.cached_property
    def _pg_statistics(self) -> _Statistics:
        return _Statistics()

    @functools.cached_property
    def _insert_articles(self) -> Any:
        return (
            self._insert(articles)
            .on_conflict_do_nothing()
            .returning(articles.c.id, articles.c.category_id, articles.c.content_hash)
        )

    async def add_articles(
        self,
        items: Iterable[NewArticle],
        *,
        summary_key: tuple[str, str] = DEFAULT_SUMMARY_KEY,
    ) -> AddResult:
        result = AddResult()
        if self.dialect != "postgresql":
            for each in _chunks(items, BATCH_SIZE):
                await self._write(self._add_chunk, each, result, summary_key, None)
            return result
        items = items if isinstance(items, Sequence) else list(items)
        # A bulk write (an import's batch) lets the search index's pending list grow in its
        # own transactions, and merges it once at the end (migration 0011).
        bulk = len(items) >= PG_MERGE_AFTER
        chunks = _chunks(items, BATCH_SIZE)
        # PostgreSQL: the search words of the next chunk are computed in a thread while the
        # server stores this one (the thread holds the GIL only while this task awaits the
        # server), so the Python work and the server's overlap instead of taking turns.
        chunk: list[NewArticle] | None = next(chunks, None)
        words = await asyncio.to_thread(_chunk_words, chunk) if chunk else []
        while chunk is not None:
            following = next(chunks, None)
            ahead = asyncio.ensure_future(asyncio.to_thread(_chunk_words, following or []))
            try:
                await self._write(self._add_chunk, chunk, result, summary_key, words, bulk)
            finally:
                words = await ahead
            chunk = following
        if bulk and result.ids:
            # Merge the search index's pending list now, in one pass sorted in memory, so
            # that searches do not read through it (see migrations 0009 and 0011).
            await self._write(_execute, text("SELECT gin_clean_pending_list('ix_articles_search')"))
            if not self._pg_statistics.analyzed:
                await self._write(_analyze_if_never, self._pg_statistics)
        return result

    def _add_chunk(
        self,
        conn: Connection,
        chunk: list[NewArticle],
        result: AddResult,
        summary_key: tuple[str, str],
        words: list[str] | None,
        bulk: bool = False,
    ) -> None:
        """Store *chunk*; *words*: on PostgreSQL, the search words of each of its items
        (`_chunk_words`); *bulk*: part of a bulk write, whose caller merges the search index's
        pending list at its end (PostgreSQL)."""
        if bulk:
            conn.exec_driver_sql(
                f"SET LOCAL gin_pending_list_limit = '{PG_BULK_PENDING_LIST_LIMIT}'"
            )
        now = self.clock.now()
        rows: list[dict[str, Any]] = []
        # content hash -> the item: what RETURNING rows are matched back to (the hash is the
        # one key every row has and the unique indexes guarantee is not shared).
        items_by_hash: dict[str, NewArticle] = {}
        seen_guids: set[str] = set()
        seen_urls: set[str] = set()
        words_by_hash: dict[str, str] = {}
        for position, item in enumerate(chunk):
            digest = item.content_hash or content_hash(item.title, item.text)
            url_key = normalize_url(item.url) if item.url else None
            if (
                (item.guid and item.guid in seen_guids)
                or (url_key and url_key in seen_urls)
                or digest in items_by_hash
            ):
                result.duplicates += 1
                continue
            if item.guid:
                seen_guids.add(item.guid)
            if url_key:
                seen_urls.add(url_key)
            items_by_hash[digest] = item
            if words is not None:
                words_by_hash[digest] = words[position]
            published = as_utc(item.published) if item.published else None
            rows.append(
                {
                    "guid": item.guid or None,
                    "url": item.url or None,
                    "url_key": url_key,
                    "content_hash": digest,
                    "title": item.title,
                    "author": item.author or None,
                    "published": published,
                    "sort_time": min(published, now) if published else now,
                    "category_id": self._category_id(conn, item.category),
                    "language": item.language or None,
                    "text": item.text,
                    "feed_id": item.feed_id,
                    "stored_at": now,
                    "page_status": PAGE_PENDING if item.page_error else None,
                    "page_attempts": 1 if item.page_error else 0,
                    "page_error": item.page_error,
                    "image_url": item.image or None,
                    "site_name": item.site_name or None,
                }
            )
        if not rows:
            return
        # Drop what is stored already before inserting: cheaper than letting ON CONFLICT
        # discard it, and it keeps the statement small. ON CONFLICT still covers a racing
        # writer between this check and the insert.
        existing = self._existing_keys(conn, rows)
        fresh = [
            row
            for row in rows
            if row["guid"] not in existing
            and row["url_key"] not in existing
            and row["content_hash"] not in existing
        ]
        result.duplicates += len(rows) - len(fresh)
        if not fresh:
            return
        if self.dialect == "postgresql":
            inserted = _pg_insert(conn, fresh, words_by_hash)
        else:
            # executemany with RETURNING: SQLAlchemy batches it into multi-row INSERTs
            # ("insertmanyvalues") from one compiled statement.
            inserted = list(conn.execute(self._insert_articles, fresh).all())
        inserted.sort(key=lambda r: r.id)
        result.duplicates += len(fresh) - len(inserted)
        result.ids.extend(row.id for row in inserted)
        added = Counter(row.category_id for row in inserted if row.category_id is not None)
        if added:
            conn.execute(
                categories.update()
                .where(categories.c.id == bindparam("category"))
                .values(article_count=categories.c.article_count + bindparam("added")),
                [{"category": cid, "added": n} for cid, n in added.items()],
            )
        stored = [(row.id, row.category_id, items_by_hash[row.content_hash]) for row in inserted]
        summary_rows = [
            _summary_row(article_id, summary_key, item.summary, now)
            for article_id, _, item in stored
            if item.summary
        ]
        if summary_rows:
            conn.execute(self._insert(summaries).on_conflict_do_nothing(), summary_rows)
        result.queued += self._enqueue(
            conn,
            [
                Arrival(
                    article_id,
                    cid,
                    item.title,
                    item.text,
                    as_utc(item.published) if item.published else None,
                    now,
                )
                for article_id, cid, item in stored
            ],
            now,
        )

    def _existing_keys(self, conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
        found: set[str] = set()
        for column, key in (
            (articles.c.guid, "guid"),
            (articles.c.url_key, "url_key"),
            (articles.c.content_hash, "content_hash"),
        ):
            values = [row[key] for row in rows if row[key]]
            if not values:
                continue
            if self.dialect == "postgresql":
                # One array parameter: SQLAlchemy renders an IN list of 500 bind parameters
                # in Python for every chunk, a tenth of the importing process's time.
                query = f"SELECT {key} FROM articles WHERE {key} = ANY($1::text[])"
                found.update(r[0] for r in conn.exec_driver_sql(query, (values,)))
            else:
                found.update(conn.execute(select(column).where(column.in_(values))).scalars())
        return found

    async def known_entries(
        self, *, guids: Iterable[str] = (), urls: Iterable[str] = ()
    ) -> set[str]:
        by_key: dict[str, list[str]] = defaultdict(list)
        for url in urls:
            if url:
                by_key[normalize_url(url)].append(url)
        return await self._read(_known_entries, {g for g in guids if g}, by_key)

    async def pending_pages(
        self, *, feed_id: int | None = None, limit: int = 100
    ) -> list[PendingPage]:
        query = (
            select(
                articles.c.id,
                articles.c.url,
                articles.c.title,
                articles.c.text,
                articles.c.author,
                articles.c.published,
                categories.c.name.label("category"),
                articles.c.language,
                articles.c.feed_id,
                articles.c.page_attempts,
                articles.c.page_error,
            )
            .select_from(articles.outerjoin(categories, articles.c.category_id == categories.c.id))
            .where(articles.c.page_status == PAGE_PENDING, articles.c.url.is_not(None))
            .order_by(articles.c.id)
            .limit(limit)
        )
        if feed_id is not None:
            query = query.where(articles.c.feed_id == feed_id)
        rows = await self._read(_all, query)
        return [
            PendingPage(
                id=r.id,
                url=r.url,
                title=r.title,
                text=r.text,
                author=r.author,
                published=r.published,
                category=r.category,
                language=r.language,
                feed_id=r.feed_id,
                attempts=r.page_attempts,
                last_error=r.page_error,
            )
            for r in rows
        ]

    async def complete_page(
        self,
        article_id: int,
        *,
        text: str,
        title: str | None = None,
        author: str | None = None,
        published: datetime | None = None,
        category: str | None = None,
        summary: Sequence[str] | None = None,
        summary_key: tuple[str, str] = DEFAULT_SUMMARY_KEY,
        image: str | None = None,
        site_name: str | None = None,
    ) -> bool:
        def run(conn: Connection) -> bool:
            row = conn.execute(
                select(
                    articles.c.title,
                    articles.c.published,
                    articles.c.category_id,
                    articles.c.stored_at,
                    articles.c.page_status,
                    articles.c.image_url,
                    articles.c.site_name,
                ).where(articles.c.id == article_id)
            ).first()
            if row is None or row.page_status is None:
                return False
            values: dict[str, Any] = {
                "text": text,
                "page_status": None,
                "page_error": None,
                "page_attempts": articles.c.page_attempts + 1,
            }
            if title:
                values["title"] = title
            if author:
                values["author"] = author
            if published:
                values["published"] = as_utc(published)
                values["sort_time"] = min(as_utc(published), row.stored_at)
            if image and row.image_url is None:  # the feed's own picture wins
                values["image_url"] = image
            if site_name:  # the page names its site better than the feed's title
                values["site_name"] = site_name
            new_category: int | None = None
            if category and row.category_id is None:
                new_category = self._category_id(conn, category)
                values["category_id"] = new_category
            conn.execute(articles.update().where(articles.c.id == article_id).values(values))
            # Summaries of the teaser no longer describe the article: drop them all, write the
            # default one of the full text.
            conn.execute(summaries.delete().where(summaries.c.article_id == article_id))
            now = self.clock.now()
            if summary:
                conn.execute(
                    self._insert(summaries), [_summary_row(article_id, summary_key, summary, now)]
                )
            if new_category is not None:
                conn.execute(
                    categories.update()
                    .where(categories.c.id == new_category)
                    .values(article_count=categories.c.article_count + 1)
                )
                # The same rules as on arrival, as of its arrival: a subscription made since the
                # teaser was stored does not get it, nor does anyone an archive's old article.
                arrival = Arrival(
                    article_id,
                    new_category,
                    title or row.title,
                    text,
                    values.get("published", row.published),
                    row.stored_at,
                )
                self._enqueue(conn, [arrival], now)
            return True

        return await self._write(run)

    async def refresh_article(
        self,
        article_id: int,
        *,
        title: str,
        text: str,
        author: str | None = None,
        published: datetime | None = None,
    ) -> bool:
        def run(conn: Connection) -> bool:
            digest = content_hash(title, text)
            clash = conn.execute(
                select(articles.c.id).where(
                    articles.c.content_hash == digest, articles.c.id != article_id
                )
            ).first()
            if clash is not None:
                return False
            values: dict[str, Any] = {
                "title": title,
                "text": text,
                "content_hash": digest,
                "stored_at": self.clock.now(),
            }
            if author:
                values["author"] = author
            if published:
                values["published"] = as_utc(published)
            done = conn.execute(articles.update().where(articles.c.id == article_id).values(values))
            if not done.rowcount:
                return False
            # The cached summaries describe the old text.
            conn.execute(summaries.delete().where(summaries.c.article_id == article_id))
            return True

        return await self._write(run)

    async def fail_page(self, article_id: int, error: str, *, give_up: bool = False) -> None:
        statement = (
            articles.update()
            .where(articles.c.id == article_id, articles.c.page_status.is_not(None))
            .values(
                page_status=PAGE_FAILED if give_up else PAGE_PENDING,
                page_attempts=articles.c.page_attempts + 1,
                page_error=error,
            )
        )
        await self._write(_execute, statement)

    async def forget_image(self, article_id: int, url: str) -> bool:
        statement = (
            articles.update()
            .where(articles.c.id == article_id, articles.c.image_url == url)
            .values(image_url=None)
        )

        def run(conn: Connection) -> bool:
            return bool(conn.execute(statement).rowcount)

        return await self._write(run)

    # -- articles: reading -----------------------------------------------------------------

    async def get_article(self, article_id: int) -> Article:
        row = await self._read(_first, _article_select().where(articles.c.id == article_id))
        if row is None:
            raise NotFound(f"no article {article_id}")
        return _to_article(row)

    async def get_articles(self, article_ids: Sequence[int]) -> list[Article]:
        def run(conn: Connection) -> dict[int, Article]:
            found: dict[int, Article] = {}
            for chunk in _chunks(list(dict.fromkeys(article_ids)), BATCH_SIZE):
                query = _article_select().where(articles.c.id.in_(chunk))
                found.update((row.id, _to_article(row)) for row in conn.execute(query))
            return found

        found = await self._read(run)
        return [found[i] for i in article_ids if i in found]

    async def find_article_by_url(self, url: str) -> Article | None:
        query = _article_select().where(articles.c.url_key == normalize_url(url))
        row = await self._read(_first, query)
        return None if row is None else _to_article(row)

    def _category_filter(self, conn: Connection, category: str | None) -> Any:
        """A WHERE clause for *category*, or None for "all"; False when it does not exist."""
        if category is None:
            return None
        found = self._lookup_category(conn, fold(category))
        return False if found is None else articles.c.category_id == found[0]

    async def latest(
        self, limit: int = 10, *, category: str | None = None, offset: int = 0
    ) -> list[Article]:
        def run(conn: Connection) -> list[Article]:
            where = self._category_filter(conn, category)
            if where is False:
                return []
            query = _article_select()
            if where is not None:
                query = query.where(where)
            query = (
                query.order_by(articles.c.sort_time.desc(), articles.c.id.desc())
                .limit(limit)
                .offset(offset)
            )
            return [_to_article(row) for row in conn.execute(query)]

        return await self._read(run)

    async def count_articles(self, *, category: str | None = None) -> int:
        def run(conn: Connection) -> int:
            where = self._category_filter(conn, category)
            if where is False:
                return 0
            query = select(func.count()).select_from(articles)
            if where is not None:
                query = query.where(where)
            return int(conn.execute(query).scalar_one())

        return await self._read(run)

    async def newer_than(
        self, after_id: int, *, category: str | None = None, limit: int = 100
    ) -> list[Article]:
        def run(conn: Connection) -> list[Article]:
            where = self._category_filter(conn, category)
            if where is False:
                return []
            query = _article_select().where(articles.c.id > after_id)
            if where is not None:
                query = query.where(where)
            return [
                _to_article(row) for row in conn.execute(query.order_by(articles.c.id).limit(limit))
            ]

        return await self._read(run)

    async def search(self, query: str, limit: int = 10, *, offset: int = 0) -> list[Article]:
        terms = search_terms(query)
        if not terms or limit <= 0:
            return []
        # Whole words, the last one also as a prefix ("search as you type"): a prefix term
        # merges the index entries of every word it starts, which made 2-word searches 15x
        # slower at p99 when every term was a prefix (bench/store.py). A prefix of one or two
        # letters would match nearly everything, so it stays a whole word.
        prefix = [len(terms[-1]) >= 3 and i == len(terms) - 1 for i in range(len(terms))]
        if self.dialect == "sqlite":
            # Each term quoted, so FTS5 operators in user input are inert; juxtaposed terms are
            # ANDed. ORDER BY rowid DESC lets FTS5 stop after LIMIT rows instead of ranking
            # every match. A prefix of 3 or 4 letters is read from the prefix index (migration
            # 0012) like a word, newest first; a longer one makes FTS5 merge the entries of
            # every word it starts before returning a row (few words, since the prefix is
            # long), which is why the index keeps no positions (0010).
            match = " ".join(
                f'"{t}"*' if p else f'"{t}"' for t, p in zip(terms, prefix, strict=True)
            )
            ids_query = text(
                "SELECT rowid FROM articles_fts WHERE articles_fts MATCH :match "
                "ORDER BY rowid DESC LIMIT :limit OFFSET :offset"
            ).bindparams(match=match, limit=limit, offset=offset)
        else:
            tsquery = " & ".join(f"{t}:*" if p else t for t, p in zip(terms, prefix, strict=True))
            whole = " & ".join(t for t, p in zip(terms, prefix, strict=True) if not p)
            typed = f"{terms[-1]}:*" if prefix[-1] and whole else None
            return await self._read(
                _pg_search, tsquery, limit, offset, whole, typed, self._pg_statistics
            )

        def run(conn: Connection) -> list[Article]:
            try:
                ids = list(conn.execute(ids_query).scalars())
            except OperationalError as exc:
                # The index keeps no word positions (migration 0010), so a quoted term that
                # FTS5 reads as two words (a phrase) cannot be asked. Of the letters and digits
                # Python knows, 21 (New Tai Lue vowel signs among them) are separators to FTS5's
                # older Unicode tables and split a word `search_terms` keeps whole: such a
                # search finds nothing rather than failing.
                if "phrase queries are not supported" not in str(exc.orig):
                    raise
                ids = []
            return _articles_by_id(conn, ids)

        return await self._read(run)

    async def iter_articles(self, *, category: str | None = None) -> AsyncIterator[Article]:
        last_id = 0
        while True:
            batch = await self.newer_than(last_id, category=category, limit=BATCH_SIZE)
            for article in batch:
                yield article
            if len(batch) < BATCH_SIZE:
                return
            last_id = batch[-1].id

    # -- categories ------------------------------------------------------------------------

    def _category_rows(self) -> Select[Any]:
        return select(
            categories.c.id, categories.c.name, categories.c.key, categories.c.article_count
        )

    async def categories(self) -> list[Category]:
        rows = await self._read(_all, self._category_rows())
        found = [Category(r.id, r.name, r.key, r.article_count) for r in rows]
        return sorted(found, key=lambda c: (-c.article_count, c.key))

    async def find_category(self, name: str) -> Category | None:
        row = await self._read(_first, self._category_rows().where(categories.c.key == fold(name)))
        return Category(row.id, row.name, row.key, row.article_count) if row else None

    async def suggest_categories(self, name: str, limit: int = 3) -> list[Category]:
        known = await self.categories()
        by_key = {c.key: c for c in known}
        key = fold(name)
        close = difflib.get_close_matches(key, list(by_key), n=limit, cutoff=0.5)
        # A prefix ("eco" for "economie") is a better hint than edit distance alone finds.
        prefixed = [k for k in by_key if k.startswith(key) and k not in close] if key else []
        return [by_key[k] for k in (close + prefixed)[:limit]]


# PostgreSQL search looks at this many of the newest articles first (see `_pg_search`).
PG_SEARCH_WINDOW = 1000
# A search with a prefix checks the prefix on the rows of its whole words, rather than in the
# GIN index, when the planner expects at most this many rows to have those words, and this
# many times as many to have the prefix (see `_in_few_rows`).
PG_PREFIX_AS_FILTER_ROWS = 1500
PG_PREFIX_AS_FILTER_RATIO = 10


def _pg_search(
    conn: Connection,
    tsquery: str,
    limit: int,
    offset: int,
    whole: str = "",
    typed: str | None = None,
    statistics: _Statistics | None = None,
) -> list[Article]:
    """Matches of *tsquery*, newest first, in one of two plans chosen here rather than by the
    planner, whose guess of how many rows a conjunction of words matches is often off by far
    (bench/store.py at 100,000 articles: p99 1.1 s when it walked the primary key backwards
    for two words that each looked common but never met, 85 ms when it read all 70,000 rows
    of two common words through the GIN index to keep the newest 10).

    1. The newest PG_SEARCH_WINDOW articles, walked backwards: enough matches there are the
       answer (any other match is older), found in a few ms for common words.
    2. Else the GIN index alone (a bitmap of the matches, then the newest of them), which is
       quick precisely because the words are rare among recent articles.

    A prefix term (*typed*, the last word as typed) is costly in the GIN index: it merges the
    entries of every word it starts into one bitmap before the other words narrow anything
    ("par:*": 88 ms at 100,000 articles, whatever the other word). So in step 2, when the
    planner's statistics say the whole words (*whole*) are in few rows and the prefix in many
    more, the index finds those rows and the prefix is checked on each ("gregory" and
    "par:*": 1.7 ms); common whole words keep the index's intersection (checking the 90,000
    rows of "pour" took 840 ms), and so does a long, rarer prefix.
    Without statistics (a new table that autovacuum has not analyzed yet) nothing changes.
    """
    # Each step is one statement that also reads the articles found (`_matching`): a round
    # trip fewer (no difference measurable on the loaded machine of bench/store.py).
    window = text(
        "SELECT id FROM (SELECT id, search FROM articles ORDER BY id DESC LIMIT :window) AS recent "
        "WHERE search @@ to_tsquery('simple', :q) ORDER BY id DESC LIMIT :limit OFFSET :offset"
    ).bindparams(q=tsquery, window=PG_SEARCH_WINDOW, limit=limit, offset=offset)
    found = _matching(conn, window) if offset + limit <= PG_SEARCH_WINDOW else []
    if len(found) < limit:
        # Fewer than asked for among the newest: the rest (if any) is older. Only the GIN
        # index may answer (not a walk of the primary key, nor of the table); one round trip
        # for both settings.
        as_filter = typed is not None and _in_few_rows(
            conn, whole, typed, statistics or _Statistics()
        )
        conn.exec_driver_sql(
            "SELECT set_config('enable_indexscan', 'off', true), "
            "set_config('enable_seqscan', 'off', true)"
        )
        everywhere = text(
            "SELECT id FROM articles WHERE search @@ to_tsquery('simple', :q) "
            "ORDER BY id DESC LIMIT :limit OFFSET :offset"
        ).bindparams(q=tsquery, limit=limit, offset=offset)
        if as_filter:
            # IS TRUE keeps the prefix out of the index condition: a filter on the rows found.
            everywhere = text(
                "SELECT id FROM articles WHERE search @@ to_tsquery('simple', :whole) "
                "AND (search @@ to_tsquery('simple', :typed)) IS TRUE "
                "ORDER BY id DESC LIMIT :limit OFFSET :offset"
            ).bindparams(whole=whole, typed=typed, limit=limit, offset=offset)
        found = _matching(conn, everywhere)
    return found


@dataclass(slots=True)
class _Statistics:
    """Whether PostgreSQL has analyzed the words of `articles.search` (once it has, a table
    keeps statistics: asked until then, never after)."""

    analyzed: bool = False


def _analyzed(conn: Connection, statistics: _Statistics) -> bool:
    """Whether `articles.search` has statistics (asked until it has, never after)."""
    if not statistics.analyzed:
        statistics.analyzed = conn.exec_driver_sql(
            "SELECT EXISTS (SELECT FROM pg_stats WHERE schemaname = current_schema() AND "
            "tablename = 'articles' AND attname = 'search' AND most_common_elems IS NOT NULL)"
        ).scalar_one()
    return statistics.analyzed


def _analyze_if_never(conn: Connection, statistics: _Statistics) -> None:
    """After a bulk write, give a table that has never been analyzed its statistics (what
    autovacuum would do, where it runs, in a minute or so): search reads them
    (`_in_few_rows`), and a database just filled by an import has none."""
    if not _analyzed(conn, statistics):
        conn.exec_driver_sql("ANALYZE articles")
        statistics.analyzed = True


def _in_few_rows(conn: Connection, whole: str, typed: str, statistics: _Statistics) -> bool:
    """Whether checking the prefix *typed* on the rows of the words *whole* is cheaper than
    the GIN index's merge of every word *typed* starts: the planner expects at most
    PG_PREFIX_AS_FILTER_ROWS rows to have the words, and PG_PREFIX_AS_FILTER_RATIO times
    as many to have the prefix (from the words' frequencies in the table's statistics).
    False without statistics (the planner's guess would be a fixed 0.5% of the rows)."""
    if not _analyzed(conn, statistics):
        return False
    rows = _expected_rows(conn, whole)
    return rows <= PG_PREFIX_AS_FILTER_ROWS and (
        _expected_rows(conn, typed) >= PG_PREFIX_AS_FILTER_RATIO * rows
    )


def _expected_rows(conn: Connection, tsquery: str) -> float:
    """The planner's estimate of the articles matching *tsquery*."""
    plan = conn.exec_driver_sql(
        "EXPLAIN (FORMAT JSON) SELECT FROM articles WHERE search @@ to_tsquery('simple', $1)",
        (tsquery,),
    ).scalar_one()
    # (asyncpg decodes the JSON as SQLAlchemy sets it up; a plain driver would hand text)
    return float((json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]["Plan Rows"])


def _matching(conn: Connection, ids: TextClause) -> list[Article]:
    """The articles whose ids the query *ids* selects, newest first, in one statement."""
    chosen = ids.columns(articles.c.id).subquery("chosen")
    query = (
        _article_select()
        .where(articles.c.id.in_(select(chosen.c.id)))
        .order_by(articles.c.id.desc())
    )
    return [_to_article(row) for row in conn.execute(query)]


def _chunk_words(chunk: list[NewArticle]) -> list[str]:
    """The search words of each item of *chunk*, space-separated."""
    return [" ".join(search_words(item.title, item.text)) for item in chunk]


def _pg_insert(
    conn: Connection, rows: list[dict[str, Any]], words: dict[str, str]
) -> list[Row[Any]]:
    """Insert *rows* on PostgreSQL in one statement, each column sent as one array (asyncpg
    encodes them in binary), with the search vector's words: one round trip a chunk, where
    an INSERT of many VALUES costs SQLAlchemy and the server a bind parameter per cell."""
    columns: list[list[Any]] = [[row[name] for row in rows] for name, _ in _PG_COLUMNS]
    text_words = [words[row["content_hash"]] for row in rows]
    return list(conn.exec_driver_sql(_PG_INSERT, (*columns, text_words)).all())


def _articles_by_id(conn: Connection, ids: list[int]) -> list[Article]:
    """The articles *ids*, newest first."""
    if not ids:
        return []
    rows = conn.execute(
        _article_select().where(articles.c.id.in_(ids)).order_by(articles.c.id.desc())
    )
    return [_to_article(row) for row in rows]


def _known_entries(conn: Connection, guids: set[str], by_key: dict[str, list[str]]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(guids, BATCH_SIZE):
        query = select(articles.c.guid).where(articles.c.guid.in_(chunk))
        found.update(conn.execute(query).scalars())
    for keys in _chunks(list(by_key), BATCH_SIZE):
        query = select(articles.c.url_key).where(articles.c.url_key.in_(keys))
        for key in conn.execute(query).scalars():
            found.update(by_key[key])
    return found
