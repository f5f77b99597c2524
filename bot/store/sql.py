"""`SqlStore`: the article store on SQLAlchemy 2, for SQLite and PostgreSQL.

The two backends share every query but two: full-text search (FTS5 vs tsvector) and the
dialect-specific `INSERT ... ON CONFLICT DO NOTHING`, which both support with the same
semantics. Each method's statements run as one synchronous function on one connection: in a
worker thread on SQLite (pysqlite), through `AsyncConnection.run_sync` on PostgreSQL (asyncpg).
See `bot.store.contract` for what each method promises.
"""

from __future__ import annotations

import asyncio
import difflib
import re
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import Row, Select, and_, bindparam, event, func, or_, select, text
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.clock import Clock
from bot.errors import NotFound, StoreError
from bot.models import (
    Article,
    Category,
    Chat,
    Delivery,
    Feed,
    FeedSettings,
    FeedState,
    FeedSyncResult,
    NewArticle,
    PendingPage,
    StoreStats,
    Subscriber,
    Subscription,
    as_utc,
)
from bot.store.contract import DEFAULT_SUMMARY_KEY, AddResult, Audience
from bot.store.queue import QueueMixin
from bot.store.schema import (
    articles,
    categories,
    chats,
    deliveries,
    feeds,
    subscriptions,
    summaries,
)
from bot.text import content_hash, fold
from bot.urls import normalize_url

# Rows per INSERT: 500 x 16 columns stays well under SQLite's and asyncpg's bind-parameter limits.
BATCH_SIZE = 500
PAGE_PENDING, PAGE_FAILED = "pending", "failed"
ORIGIN_CONFIG = "config"
_WORDS = re.compile(r"\w+")
_MAX_SEARCH_TERMS = 12
_T = TypeVar("_T")
_P = ParamSpec("_P")
# Threads running SQLite work: WAL lets readers run beside the one writer, and a few threads
# are enough for that on a bot whose handlers are bounded to a handful at once.
SQLITE_THREADS = 4
_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA busy_timeout=30000",
    "PRAGMA foreign_keys=ON",
    # 64 MiB of page cache (default 2 MiB): the full-text index's merges during a large
    # import touch far more pages than the default holds.
    "PRAGMA cache_size=-65536",
)


def async_url(url: str) -> str:
    """Map plain SQLAlchemy/libpq URLs to the async drivers we ship with.

    `sqlite:///x.db` -> `sqlite+aiosqlite:///x.db`; `postgres://` and `postgresql://` ->
    `postgresql+asyncpg://`. URLs naming a driver already are left alone.
    """
    if url.startswith("sqlite:"):
        return "sqlite+aiosqlite:" + url.removeprefix("sqlite:")
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url.removeprefix(prefix)
    return url


def redact(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in _SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def create_engine(url: str) -> AsyncEngine:
    """An async engine for *url*, with SQLite set up for a concurrent reader/writer workload:
    WAL journal, a busy timeout instead of instant "database is locked", foreign keys enforced.
    (`SqlStore` runs its SQLite work on a synchronous twin, `create_sync_sqlite_engine`.)"""
    url = async_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_async_engine(url, pool_pre_ping=True)
    raise StoreError(f"unsupported database URL {redact(url)!r}: use sqlite:// or postgresql://")


def _is_file_database(url: URL) -> bool:
    """An SQLite database that a second engine opens as the same one (not `:memory:`)."""
    database = url.database or ""
    return bool(database) and database != ":memory:" and "mode=memory" not in str(url)


def create_sync_sqlite_engine(url: URL | str) -> Engine:
    """A synchronous (pysqlite) engine on the SQLite database of *url*, with the pragmas of
    `create_engine`; its pool hands connections to any thread."""
    parsed = make_url(url).set(drivername="sqlite+pysqlite")
    engine = create_sync_engine(parsed, connect_args={"timeout": 30})
    event.listen(engine, "connect", _set_sqlite_pragmas)
    return engine


def _chunks(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


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
    )


def _to_feed(row: Row[Any]) -> Feed:
    return Feed(
        id=row.id,
        url=row.url,
        category=row.category,
        language=row.language,
        interval_minutes=row.interval_minutes,
        enabled=row.enabled,
        etag=row.etag,
        last_modified=row.last_modified,
        last_fetched=row.last_fetched,
        next_fetch=row.next_fetch,
        failures=row.failures,
        last_error=row.last_error,
        title=row.title,
        origin=row.origin,
    )


def _to_delivery(row: Row[Any]) -> Delivery:
    return Delivery(
        id=row.id,
        chat_id=row.chat_id,
        article_id=row.article_id,
        status=row.status,
        attempts=row.attempts,
        created_at=row.created_at,
        sent_at=row.sent_at,
        last_error=row.last_error,
    )


def _to_chat(row: Row[Any]) -> Chat:
    return Chat(
        id=row.id,
        language=row.language,
        settings=dict(row.settings or {}),
        active=row.active,
        created_at=row.created_at,
    )


def _summary_row(
    article_id: int, key: tuple[str, str], sentences: Sequence[str], now: datetime
) -> dict[str, Any]:
    return {
        "article_id": article_id,
        "algorithm": key[0],
        "length": key[1],
        "sentences": list(sentences),
        "created_at": now,
    }


@dataclass(frozen=True, slots=True)
class _Arrival:
    """A stored article, as the push rules see it."""

    article_id: int
    category_id: int | None
    title: str
    text: str
    published: datetime | None
    arrived: datetime


def search_terms(query: str) -> list[str]:
    """The words of a search, folded; one-letter words (the "l" of "l'économie") are dropped
    unless nothing else is left, since as prefixes they would match almost everything."""
    words = _WORDS.findall(fold(query))
    longer = [w for w in words if len(w) > 1]
    return (longer or words)[:_MAX_SEARCH_TERMS]


class SqlStore(QueueMixin):
    """The article store on an SQLAlchemy engine. Build it with `bot.store.open_store`.

    Every method runs its whole body, all its statements, as one synchronous function on one
    connection (`_read` / `_write`). On an SQLite file that function runs in one hop to a
    small thread pool on a plain pysqlite connection: through aiosqlite every statement and
    fetch was several hand-offs between its worker thread and the event loop, which made a
    primary-key read cost ~100x what SQLite takes. On PostgreSQL (and in-memory SQLite, which
    a second engine could not share) it runs on the async engine through `run_sync`.
    """

    def __init__(self, engine: AsyncEngine, clock: Clock, rules: Audience) -> None:
        self.engine = engine
        # Every row this store writes is stamped with this clock, never the database's now().
        self.clock = clock
        # Who gets a new article is decided there (`bot.deliver.rules`), not here: the store
        # only hands it the facts, inside the transaction that stores the article.
        self.rules = rules
        self.dialect = engine.dialect.name
        # fold(name) -> (id, display name). Categories are never renamed or deleted by the bot,
        # so a cached hit stays true; misses always go to the database.
        self._category_ids: dict[str, tuple[int, str]] = {}
        self._insert_articles = (
            self._insert(articles)
            .on_conflict_do_nothing()
            .returning(articles.c.id, articles.c.category_id, articles.c.content_hash)
        )
        self._sync_engine: Engine | None = None
        self._executor: ThreadPoolExecutor | None = None
        if self.dialect == "sqlite" and _is_file_database(engine.url):
            self._sync_engine = create_sync_sqlite_engine(engine.url)
            self._executor = ThreadPoolExecutor(SQLITE_THREADS, thread_name_prefix="newsbot-db")

    async def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        if self._sync_engine is not None:
            self._sync_engine.dispose()
        await self.engine.dispose()

    async def _read(
        self, fn: Callable[Concatenate[Connection, _P], _T], *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        """`fn(conn, *args, **kwargs)` on a connection outside any explicit transaction."""
        return await self._run(False, lambda conn: fn(conn, *args, **kwargs))

    async def _write(
        self, fn: Callable[Concatenate[Connection, _P], _T], *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        """`fn(conn, *args, **kwargs)` in one transaction, committed when it returns."""
        return await self._run(True, lambda conn: fn(conn, *args, **kwargs))

    async def _run(self, write: bool, call: Callable[[Connection], _T]) -> _T:
        if self._sync_engine is not None:
            engine = self._sync_engine

            def hop() -> _T:
                with engine.begin() if write else engine.connect() as conn:
                    return call(conn)

            return await asyncio.get_running_loop().run_in_executor(self._executor, hop)
        async with self.engine.begin() if write else self.engine.connect() as conn:
            return await conn.run_sync(call)

    # -- articles: writing -----------------------------------------------------------------

    def _insert(self, table: Any) -> Any:
        module = postgresql if self.dialect == "postgresql" else sqlite
        return module.insert(table)

    def _category_id(self, conn: Connection, name: str | None) -> int | None:
        if not name or not name.strip():
            return None
        name = " ".join(name.split())
        key = fold(name)
        found = self._lookup_category(conn, key)
        if found is None:
            conn.execute(
                self._insert(categories).values(name=name, key=key).on_conflict_do_nothing()
            )
            found = self._lookup_category(conn, key)
            assert found is not None
        return found[0]

    def _lookup_category(self, conn: Connection, key: str) -> tuple[int, str] | None:
        """(id, display name) of the category with folded name *key*, from the cache or the
        table (then cached); None if there is none."""
        cached = self._category_ids.get(key)
        if cached:
            return cached
        row = conn.execute(
            select(categories.c.id, categories.c.name).where(categories.c.key == key)
        ).first()
        if row is None:
            return None
        self._category_ids[key] = (int(row.id), row.name)
        return self._category_ids[key]

    async def add_articles(
        self,
        items: Iterable[NewArticle],
        *,
        summary_key: tuple[str, str] = DEFAULT_SUMMARY_KEY,
    ) -> AddResult:
        result = AddResult()
        for chunk in _chunks(items, BATCH_SIZE):
            await self._write(self._add_chunk, chunk, result, summary_key)
        return result

    def _add_chunk(
        self,
        conn: Connection,
        chunk: list[NewArticle],
        result: AddResult,
        summary_key: tuple[str, str],
    ) -> None:
        now = self.clock.now()
        rows: list[dict[str, Any]] = []
        # content hash -> the item: what RETURNING rows are matched back to (the hash is the
        # one key every row has and the unique indexes guarantee is not shared).
        items_by_hash: dict[str, NewArticle] = {}
        seen_guids: set[str] = set()
        seen_urls: set[str] = set()
        for item in chunk:
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
        # executemany with RETURNING: SQLAlchemy batches it into multi-row INSERTs
        # ("insertmanyvalues") from one compiled statement, on both backends.
        inserted = sorted(conn.execute(self._insert_articles, fresh).all(), key=lambda r: r.id)
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
                _Arrival(
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

    def _enqueue(self, conn: Connection, stored: Sequence[_Arrival], now: datetime) -> int:
        """Queue a pending delivery of each stored article for the active subscribers of its
        category the rules (`self.rules`) choose; how many were queued.

        Runs inside the caller's transaction, so an article is never stored without its
        deliveries, and the unique (chat, article) index makes a second queueing a no-op.
        """
        # Asking the rules first spares the subscriptions query for an archive's old articles.
        stored = [
            a
            for a in stored
            if a.category_id is not None and self.rules.is_news(a.published, a.arrived)
        ]
        if not stored:
            return 0
        query = (
            select(
                subscriptions.c.chat_id,
                subscriptions.c.category_id,
                subscriptions.c.filters,
                subscriptions.c.created_at,
            )
            .join(chats, chats.c.id == subscriptions.c.chat_id)
            .where(
                subscriptions.c.category_id.in_({a.category_id for a in stored}),
                subscriptions.c.active.is_(True),
                chats.c.active.is_(True),
            )
            .order_by(subscriptions.c.chat_id)
        )
        by_category: dict[int, list[Subscriber]] = defaultdict(list)
        for row in conn.execute(query).all():
            by_category[row.category_id].append(
                Subscriber(row.chat_id, tuple(row.filters or ()), row.created_at)
            )
        if not by_category:
            return 0
        rows = [
            {
                "chat_id": chat_id,
                "article_id": a.article_id,
                "status": "pending",
                "attempts": 0,
                "created_at": now,
            }
            for a in stored
            for chat_id in self.rules.recipients(
                title=a.title,
                text=a.text,
                published=a.published,
                arrived=a.arrived,
                subscribers=by_category.get(a.category_id or 0, ()),
            )
        ]
        if not rows:
            return 0
        done = conn.execute(
            self._insert(deliveries).on_conflict_do_nothing().returning(deliveries.c.id),
            rows,
        )
        return len(done.all())

    @staticmethod
    def _existing_keys(conn: Connection, rows: list[dict[str, Any]]) -> set[str]:
        found: set[str] = set()
        for column, key in (
            (articles.c.guid, "guid"),
            (articles.c.url_key, "url_key"),
            (articles.c.content_hash, "content_hash"),
        ):
            values = [row[key] for row in rows if row[key]]
            if values:
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
    ) -> bool:
        def run(conn: Connection) -> bool:
            row = conn.execute(
                select(
                    articles.c.title,
                    articles.c.published,
                    articles.c.category_id,
                    articles.c.stored_at,
                    articles.c.page_status,
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
                arrival = _Arrival(
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
            # every match.
            match = " ".join(
                f'"{t}"*' if p else f'"{t}"' for t, p in zip(terms, prefix, strict=True)
            )
            ids_query = text(
                "SELECT rowid FROM articles_fts WHERE articles_fts MATCH :match "
                "ORDER BY rowid DESC LIMIT :limit OFFSET :offset"
            ).bindparams(match=match, limit=limit, offset=offset)
        else:
            tsquery = " & ".join(f"{t}:*" if p else t for t, p in zip(terms, prefix, strict=True))
            ids_query = text(
                "SELECT id FROM articles WHERE search @@ to_tsquery('simple', :q) "
                "ORDER BY id DESC LIMIT :limit OFFSET :offset"
            ).bindparams(q=tsquery, limit=limit, offset=offset)

        def run(conn: Connection) -> list[Article]:
            ids = list(conn.execute(ids_query).scalars())
            if not ids:
                return []
            rows = conn.execute(
                _article_select().where(articles.c.id.in_(ids)).order_by(articles.c.id.desc())
            )
            return [_to_article(row) for row in rows]

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

    # -- feeds -----------------------------------------------------------------------------

    async def upsert_feed(
        self,
        url: str,
        *,
        category: str | None = None,
        language: str | None = None,
        interval_minutes: int | None = None,
    ) -> Feed:
        settings = {
            "category": category or None,
            "language": language or None,
            "interval_minutes": interval_minutes,
        }
        statement = self._insert(feeds).values(
            url=url, enabled=True, failures=0, created_at=self.clock.now(), **settings
        )
        statement = statement.on_conflict_do_update(index_elements=["url"], set_=settings)

        def run(conn: Connection) -> Row[Any]:
            conn.execute(statement)
            return conn.execute(select(feeds).where(feeds.c.url == url)).one()

        return _to_feed(await self._write(run))

    async def list_feeds(self) -> list[Feed]:
        rows = await self._read(_all, select(feeds).order_by(feeds.c.id))
        return [_to_feed(row) for row in rows]

    async def get_feed(self, feed_id: int) -> Feed:
        row = await self._read(_first, select(feeds).where(feeds.c.id == feed_id))
        if row is None:
            raise NotFound(f"no feed {feed_id}")
        return _to_feed(row)

    async def find_feed(self, url: str) -> Feed | None:
        row = await self._read(_first, select(feeds).where(feeds.c.url == url))
        return _to_feed(row) if row else None

    async def remove_feed(self, feed_id: int) -> Feed:
        def run(conn: Connection) -> Row[Any]:
            row = conn.execute(select(feeds).where(feeds.c.id == feed_id)).first()
            if row is None:
                raise NotFound(f"no feed {feed_id}")
            conn.execute(feeds.delete().where(feeds.c.id == feed_id))
            return row

        return _to_feed(await self._write(run))

    async def enable_feed(self, feed_id: int) -> Feed:
        def run(conn: Connection) -> Row[Any]:
            done = conn.execute(
                feeds.update()
                .where(feeds.c.id == feed_id)
                .values(enabled=True, failures=0, last_error=None, next_fetch=None)
            )
            if not done.rowcount:
                raise NotFound(f"no feed {feed_id}")
            return conn.execute(select(feeds).where(feeds.c.id == feed_id)).one()

        return _to_feed(await self._write(run))

    async def sync_feeds(self, wanted: Sequence[FeedSettings]) -> FeedSyncResult:
        by_url: dict[str, FeedSettings] = {}
        for settings in wanted:
            by_url.setdefault(settings.url, settings)  # the first entry of a URL wins
        now = self.clock.now()

        def run(conn: Connection) -> FeedSyncResult:
            result = FeedSyncResult()
            existing = {
                row.url: row
                for row in conn.execute(
                    select(
                        feeds.c.url,
                        feeds.c.category,
                        feeds.c.language,
                        feeds.c.interval_minutes,
                        feeds.c.origin,
                    )
                ).all()
            }
            for url, settings in by_url.items():
                values = {
                    "category": settings.category or None,
                    "language": settings.language or None,
                    "interval_minutes": settings.interval_minutes,
                    "origin": ORIGIN_CONFIG,
                }
                old = existing.get(url)
                if old is not None and all(getattr(old, k) == v for k, v in values.items()):
                    continue
                # An upsert rather than insert-or-update, so a bot and a CLI syncing at the
                # same moment cannot trip over each other's insert.
                statement = self._insert(feeds).values(
                    url=url, enabled=True, failures=0, created_at=now, **values
                )
                conn.execute(statement.on_conflict_do_update(index_elements=["url"], set_=values))
                (result.added if old is None else result.updated).append(url)
            stale = [
                url
                for url, row in existing.items()
                if row.origin == ORIGIN_CONFIG and url not in by_url
            ]
            if stale:
                conn.execute(feeds.delete().where(feeds.c.url.in_(stale)))
                result.removed.extend(stale)
            return result

        return await self._write(run)

    async def due_feeds(
        self,
        *,
        include_not_due: bool = False,
        feed_ids: Sequence[int] | None = None,
    ) -> list[Feed]:
        query = select(feeds).where(feeds.c.enabled.is_(True)).order_by(feeds.c.id)
        if not include_not_due:
            now = self.clock.now()
            query = query.where(or_(feeds.c.next_fetch.is_(None), feeds.c.next_fetch <= now))
        if feed_ids is not None:
            query = query.where(feeds.c.id.in_(list(feed_ids)))
        rows = await self._read(_all, query)
        return [_to_feed(row) for row in rows]

    async def save_feed_state(self, feed_id: int, state: FeedState) -> None:
        values: dict[str, Any] = {
            "last_fetched": state.last_fetched,
            "next_fetch": state.next_fetch,
            "failures": state.failures,
            "last_error": state.last_error,
            "enabled": state.enabled,
            "etag": state.etag,
            "last_modified": state.last_modified,
        }
        if state.title:
            values["title"] = state.title
        await self._write(_execute, feeds.update().where(feeds.c.id == feed_id).values(values))

    # -- chats and subscriptions -----------------------------------------------------------

    async def upsert_chat(self, chat_id: int, *, language: str | None = None) -> Chat:
        values: dict[str, Any] = {
            "id": chat_id,
            "language": language or "fr",
            "settings": {},
            "active": True,
            "created_at": self.clock.now(),
        }
        statement = self._insert(chats).values(**values)
        if language:
            statement = statement.on_conflict_do_update(
                index_elements=["id"], set_={"language": language}
            )
        else:
            statement = statement.on_conflict_do_nothing()

        def run(conn: Connection) -> Row[Any]:
            conn.execute(statement)
            return conn.execute(select(chats).where(chats.c.id == chat_id)).one()

        return _to_chat(await self._write(run))

    async def find_chat(self, chat_id: int) -> Chat | None:
        row = await self._read(_first, select(chats).where(chats.c.id == chat_id))
        return _to_chat(row) if row else None

    async def update_chat_settings(self, chat_id: int, **settings: object) -> Chat:
        def run(conn: Connection) -> Chat:
            row = conn.execute(select(chats).where(chats.c.id == chat_id)).first()
            if row is None:
                raise NotFound(f"no chat {chat_id}")
            merged = {**(row.settings or {}), **settings}
            # Any change may change when the chat receives: the sender decides again.
            conn.execute(
                chats.update()
                .where(chats.c.id == chat_id)
                .values(
                    settings=merged,
                    hold_until=None,
                    settings_version=chats.c.settings_version + 1,
                )
            )
            return Chat(row.id, row.language, merged, row.active, row.created_at)

        return await self._write(run)

    async def subscribe(
        self, chat_id: int, category: str, filters: Sequence[str] = ()
    ) -> Subscription:
        now = self.clock.now()

        def run(conn: Connection) -> tuple[Row[Any], int, str]:
            found = self._lookup_category(conn, fold(category))
            if found is None:
                raise NotFound(f"no category {category!r}")
            category_id, name = found
            row = conn.execute(select(chats.c.id).where(chats.c.id == chat_id)).first()
            if row is None:
                raise NotFound(f"no chat {chat_id}")
            conn.execute(
                self._insert(subscriptions)
                .values(
                    chat_id=chat_id,
                    category_id=category_id,
                    filters=list(filters),
                    active=True,
                    created_at=now,
                )
                .on_conflict_do_update(
                    index_elements=["chat_id", "category_id"],
                    set_={"filters": list(filters), "active": True},
                )
            )
            # Subscribing is talking to us: a chat deactivated when it blocked the bot is back.
            conn.execute(
                chats.update()
                .where(chats.c.id == chat_id, chats.c.active.is_(False))
                .values(active=True, deactivated_reason=None)
            )
            sub = conn.execute(
                select(subscriptions).where(
                    and_(
                        subscriptions.c.chat_id == chat_id,
                        subscriptions.c.category_id == category_id,
                    )
                )
            ).one()
            return sub, category_id, name

        sub, category_id, name = await self._write(run)
        return Subscription(
            sub.id, chat_id, name, tuple(sub.filters), sub.active, sub.created_at, category_id
        )

    async def unsubscribe(self, chat_id: int, category: str | None = None) -> int:
        def run(conn: Connection) -> int:
            condition = subscriptions.c.chat_id == chat_id
            # What is queued for the chat and not sent yet goes with the subscription: a
            # digest or the end of quiet hours must not bring a category the chat has left.
            queued = and_(deliveries.c.chat_id == chat_id, deliveries.c.status == "pending")
            if category is not None:
                found = self._lookup_category(conn, fold(category))
                if found is None:
                    return 0
                condition = and_(condition, subscriptions.c.category_id == found[0])
                in_category = select(articles.c.id).where(articles.c.category_id == found[0])
                queued = and_(queued, deliveries.c.article_id.in_(in_category))
            removed = int(conn.execute(subscriptions.delete().where(condition)).rowcount or 0)
            if removed:
                conn.execute(deliveries.delete().where(queued))
            return removed

        return await self._write(run)

    async def subscriptions(self, chat_id: int) -> list[Subscription]:
        query = (
            select(subscriptions, categories.c.name.label("category"))
            .join(categories, subscriptions.c.category_id == categories.c.id)
            .where(subscriptions.c.chat_id == chat_id)
            .order_by(categories.c.key)
        )
        rows = await self._read(_all, query)
        return [
            Subscription(
                r.id, r.chat_id, r.category, tuple(r.filters), r.active, r.created_at, r.category_id
            )
            for r in rows
        ]

    # -- deliveries ------------------------------------------------------------------------

    async def list_deliveries(
        self,
        *,
        status: str | None = None,
        chat_id: int | None = None,
        limit: int = 100,
    ) -> list[Delivery]:
        query = select(deliveries).order_by(deliveries.c.id).limit(limit)
        if status is not None:
            query = query.where(deliveries.c.status == status)
        if chat_id is not None:
            query = query.where(deliveries.c.chat_id == chat_id)
        rows = await self._read(_all, query)
        return [_to_delivery(row) for row in rows]

    # -- summaries cache -------------------------------------------------------------------

    async def get_summary(self, article_id: int, algorithm: str, length: str) -> list[str] | None:
        query = select(summaries.c.sentences).where(
            summaries.c.article_id == article_id,
            summaries.c.algorithm == algorithm,
            summaries.c.length == length,
        )
        row = await self._read(_first, query)
        return list(row.sentences) if row is not None and row.sentences is not None else None

    async def put_summary(
        self, article_id: int, algorithm: str, length: str, sentences: Sequence[str]
    ) -> None:
        await self.put_summaries([(article_id, algorithm, length, sentences)])

    async def put_summaries(self, items: Iterable[tuple[int, str, str, Sequence[str]]]) -> None:
        """Cache many summaries in one transaction (import computes them in batches)."""
        now = self.clock.now()
        rows = [
            _summary_row(article_id, (algorithm, length), sentences, now)
            for article_id, algorithm, length, sentences in items
        ]
        if not rows:
            return
        statement = self._insert(summaries)
        statement = statement.on_conflict_do_update(
            index_elements=["article_id", "algorithm", "length"],
            set_={
                "sentences": statement.excluded.sentences,
                "created_at": statement.excluded.created_at,
            },
        )
        await self._write(_execute, statement, rows)

    # -- statistics ------------------------------------------------------------------------

    async def stats(self) -> StoreStats:
        category_rows = self._category_rows()

        def run(conn: Connection) -> StoreStats:
            def count(query: Any) -> int:
                return int(conn.execute(query).scalar_one())

            total = count(select(func.count()).select_from(articles))
            uncategorized = count(
                select(func.count()).select_from(articles).where(articles.c.category_id.is_(None))
            )
            per_category = conn.execute(category_rows).all()
            feed_count = count(select(func.count()).select_from(feeds))
            failing = count(
                select(func.count())
                .select_from(feeds)
                .where(or_(feeds.c.failures > 0, feeds.c.enabled.is_(False)))
            )
            chat_count = count(select(func.count()).select_from(chats))
            sub_count = count(select(func.count()).select_from(subscriptions))
            by_status = conn.execute(
                select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
            ).all()
            ordered = sorted(per_category, key=lambda r: (-r.article_count, r.key))
            return StoreStats(
                articles=total,
                articles_per_category=[(r.name, r.article_count) for r in ordered],
                uncategorized=uncategorized,
                feeds=feed_count,
                feeds_failing=failing,
                chats=chat_count,
                subscriptions=sub_count,
                deliveries={status: n for status, n in by_status},
                chats_inactive=count(
                    select(func.count()).select_from(chats).where(chats.c.active.is_(False))
                ),
            )

        return await self._read(run)


# -- one-statement bodies, shared by many methods ----------------------------------------------


def _all(conn: Connection, query: Any) -> list[Row[Any]]:
    return list(conn.execute(query).all())


def _first(conn: Connection, query: Any) -> Row[Any] | None:
    return conn.execute(query).first()


def _execute(conn: Connection, statement: Any, params: Any = None) -> None:
    conn.execute(statement, params)


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
