"""`SqlStore`: the article store on SQLAlchemy 2 async, for SQLite and PostgreSQL.

The two backends share every query but two: full-text search (FTS5 vs tsvector) and the
dialect-specific `INSERT ... ON CONFLICT DO NOTHING`, which both support with the same
semantics. See `bot.store.contract` for what each method promises.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import Row, Select, and_, bindparam, event, func, or_, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.errors import NotFound, StoreError
from bot.models import (
    Article,
    Category,
    Chat,
    Feed,
    NewArticle,
    StoreStats,
    Subscription,
    as_utc,
    utcnow,
)
from bot.store.contract import AddResult
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

# Rows per INSERT: 500 x 13 columns stays well under SQLite's and asyncpg's bind-parameter limits.
BATCH_SIZE = 500
_WORDS = re.compile(r"\w+")
_MAX_SEARCH_TERMS = 12


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


def create_engine(url: str) -> AsyncEngine:
    """An async engine for *url*, with SQLite set up for a concurrent reader/writer workload:
    WAL journal, a busy timeout instead of instant "database is locked", foreign keys enforced."""
    url = async_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            for pragma in (
                "PRAGMA journal_mode=WAL",
                "PRAGMA synchronous=NORMAL",
                "PRAGMA busy_timeout=30000",
                "PRAGMA foreign_keys=ON",
            ):
                cursor.execute(pragma)
            cursor.close()

        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_async_engine(url, pool_pre_ping=True)
    raise StoreError(f"unsupported database URL {redact(url)!r}: use sqlite:// or postgresql://")


def _chunks(items: Iterable[NewArticle], size: int) -> Iterator[list[NewArticle]]:
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
    )


def _to_chat(row: Row[Any]) -> Chat:
    return Chat(
        id=row.id,
        language=row.language,
        settings=dict(row.settings or {}),
        active=row.active,
        created_at=row.created_at,
    )


def search_terms(query: str) -> list[str]:
    """The words of a search, folded; one-letter words (the "l" of "l'économie") are dropped
    unless nothing else is left, since as prefixes they would match almost everything."""
    words = _WORDS.findall(fold(query))
    longer = [w for w in words if len(w) > 1]
    return (longer or words)[:_MAX_SEARCH_TERMS]


class SqlStore:
    """The article store on an SQLAlchemy async engine. Build it with `bot.store.open_store`."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        # fold(name) -> (id, display name). Categories are never renamed or deleted by the bot,
        # so a cached hit stays true; misses always go to the database.
        self._category_ids: dict[str, tuple[int, str]] = {}
        self._insert_articles = (
            self._insert(articles)
            .on_conflict_do_nothing()
            .returning(articles.c.id, articles.c.category_id)
        )

    async def close(self) -> None:
        await self.engine.dispose()

    # -- articles: writing -----------------------------------------------------------------

    def _insert(self, table: Any) -> Any:
        module = postgresql if self.dialect == "postgresql" else sqlite
        return module.insert(table)

    async def _category_id(self, conn: AsyncConnection, name: str | None) -> int | None:
        if not name or not name.strip():
            return None
        name = " ".join(name.split())
        key = fold(name)
        cached = self._category_ids.get(key)
        if cached:
            return cached[0]
        await conn.execute(
            self._insert(categories).values(name=name, key=key).on_conflict_do_nothing()
        )
        row = (
            await conn.execute(
                select(categories.c.id, categories.c.name).where(categories.c.key == key)
            )
        ).one()
        self._category_ids[key] = (row.id, row.name)
        return int(row.id)

    async def add_articles(self, items: Iterable[NewArticle]) -> AddResult:
        result = AddResult()
        for chunk in _chunks(items, BATCH_SIZE):
            async with self.engine.begin() as conn:
                await self._add_chunk(conn, chunk, result)
        return result

    async def _add_chunk(
        self, conn: AsyncConnection, chunk: list[NewArticle], result: AddResult
    ) -> None:
        now = utcnow()
        rows: list[dict[str, Any]] = []
        seen_guids: set[str] = set()
        seen_urls: set[str] = set()
        seen_hashes: set[str] = set()
        for item in chunk:
            digest = item.content_hash or content_hash(item.title, item.text)
            url_key = normalize_url(item.url) if item.url else None
            if (
                (item.guid and item.guid in seen_guids)
                or (url_key and url_key in seen_urls)
                or digest in seen_hashes
            ):
                result.duplicates += 1
                continue
            if item.guid:
                seen_guids.add(item.guid)
            if url_key:
                seen_urls.add(url_key)
            seen_hashes.add(digest)
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
                    "category_id": await self._category_id(conn, item.category),
                    "language": item.language or None,
                    "text": item.text,
                    "feed_id": item.feed_id,
                    "stored_at": now,
                }
            )
        if not rows:
            return
        # Drop what is stored already before inserting: cheaper than letting ON CONFLICT
        # discard it, and it keeps the statement small. ON CONFLICT still covers a racing
        # writer between this check and the insert.
        existing = await self._existing_keys(conn, rows)
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
        inserted = (await conn.execute(self._insert_articles, fresh)).all()
        result.duplicates += len(fresh) - len(inserted)
        result.ids.extend(sorted(row.id for row in inserted))
        added = Counter(row.category_id for row in inserted if row.category_id is not None)
        if added:
            await conn.execute(
                categories.update()
                .where(categories.c.id == bindparam("category"))
                .values(article_count=categories.c.article_count + bindparam("added")),
                [{"category": cid, "added": n} for cid, n in added.items()],
            )

    async def _existing_keys(self, conn: AsyncConnection, rows: list[dict[str, Any]]) -> set[str]:
        found: set[str] = set()
        for column, key in (
            (articles.c.guid, "guid"),
            (articles.c.url_key, "url_key"),
            (articles.c.content_hash, "content_hash"),
        ):
            values = [row[key] for row in rows if row[key]]
            if values:
                found.update(
                    (await conn.execute(select(column).where(column.in_(values)))).scalars()
                )
        return found

    # -- articles: reading -----------------------------------------------------------------

    async def get_article(self, article_id: int) -> Article:
        async with self.engine.connect() as conn:
            row = (await conn.execute(_article_select().where(articles.c.id == article_id))).first()
        if row is None:
            raise NotFound(f"no article {article_id}")
        return _to_article(row)

    async def _category_filter(self, conn: AsyncConnection, category: str | None) -> Any:
        """A WHERE clause for *category*, or None for "all"; False when it does not exist."""
        if category is None:
            return None
        key = fold(category)
        cached = self._category_ids.get(key)
        if cached:
            return articles.c.category_id == cached[0]
        row = (
            await conn.execute(
                select(categories.c.id, categories.c.name).where(categories.c.key == key)
            )
        ).first()
        if row is None:
            return False
        self._category_ids[key] = (row.id, row.name)
        return articles.c.category_id == row.id

    async def latest(
        self, limit: int = 10, *, category: str | None = None, offset: int = 0
    ) -> list[Article]:
        async with self.engine.connect() as conn:
            where = await self._category_filter(conn, category)
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
            rows = (await conn.execute(query)).all()
        return [_to_article(row) for row in rows]

    async def count_articles(self, *, category: str | None = None) -> int:
        async with self.engine.connect() as conn:
            where = await self._category_filter(conn, category)
            if where is False:
                return 0
            query = select(func.count()).select_from(articles)
            if where is not None:
                query = query.where(where)
            return int((await conn.execute(query)).scalar_one())

    async def newer_than(
        self, after_id: int, *, category: str | None = None, limit: int = 100
    ) -> list[Article]:
        async with self.engine.connect() as conn:
            where = await self._category_filter(conn, category)
            if where is False:
                return []
            query = _article_select().where(articles.c.id > after_id)
            if where is not None:
                query = query.where(where)
            rows = (await conn.execute(query.order_by(articles.c.id).limit(limit))).all()
        return [_to_article(row) for row in rows]

    async def search(self, query: str, limit: int = 10, *, offset: int = 0) -> list[Article]:
        terms = search_terms(query)
        if not terms or limit <= 0:
            return []
        if self.dialect == "sqlite":
            # Each term quoted (so FTS5 operators in user input are inert) and prefix-matched;
            # juxtaposed phrases are ANDed. ORDER BY rowid DESC lets FTS5 stop after LIMIT
            # rows instead of ranking every match.
            match = " ".join(f'"{term}"*' for term in terms)
            ids_query = text(
                "SELECT rowid FROM articles_fts WHERE articles_fts MATCH :match "
                "ORDER BY rowid DESC LIMIT :limit OFFSET :offset"
            ).bindparams(match=match, limit=limit, offset=offset)
        else:
            tsquery = " & ".join(f"{term}:*" for term in terms)
            ids_query = text(
                "SELECT id FROM articles WHERE search @@ to_tsquery('simple', :q) "
                "ORDER BY id DESC LIMIT :limit OFFSET :offset"
            ).bindparams(q=tsquery, limit=limit, offset=offset)
        async with self.engine.connect() as conn:
            ids = list((await conn.execute(ids_query)).scalars())
            if not ids:
                return []
            rows = (
                await conn.execute(
                    _article_select().where(articles.c.id.in_(ids)).order_by(articles.c.id.desc())
                )
            ).all()
        return [_to_article(row) for row in rows]

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
        async with self.engine.connect() as conn:
            rows = (await conn.execute(self._category_rows())).all()
        found = [Category(r.id, r.name, r.key, r.article_count) for r in rows]
        return sorted(found, key=lambda c: (-c.article_count, c.key))

    async def find_category(self, name: str) -> Category | None:
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(self._category_rows().where(categories.c.key == fold(name)))
            ).first()
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
            url=url, enabled=True, failures=0, created_at=utcnow(), **settings
        )
        statement = statement.on_conflict_do_update(index_elements=["url"], set_=settings)
        async with self.engine.begin() as conn:
            await conn.execute(statement)
            row = (await conn.execute(select(feeds).where(feeds.c.url == url))).one()
        return _to_feed(row)

    async def list_feeds(self) -> list[Feed]:
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(feeds).order_by(feeds.c.id))).all()
        return [_to_feed(row) for row in rows]

    # -- chats and subscriptions -----------------------------------------------------------

    async def upsert_chat(self, chat_id: int, *, language: str | None = None) -> Chat:
        values: dict[str, Any] = {
            "id": chat_id,
            "language": language or "fr",
            "settings": {},
            "active": True,
            "created_at": utcnow(),
        }
        statement = self._insert(chats).values(**values)
        if language:
            statement = statement.on_conflict_do_update(
                index_elements=["id"], set_={"language": language}
            )
        else:
            statement = statement.on_conflict_do_nothing()
        async with self.engine.begin() as conn:
            await conn.execute(statement)
            row = (await conn.execute(select(chats).where(chats.c.id == chat_id))).one()
        return _to_chat(row)

    async def find_chat(self, chat_id: int) -> Chat | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(chats).where(chats.c.id == chat_id))).first()
        return _to_chat(row) if row else None

    async def update_chat_settings(self, chat_id: int, **settings: object) -> Chat:
        async with self.engine.begin() as conn:
            row = (await conn.execute(select(chats).where(chats.c.id == chat_id))).first()
            if row is None:
                raise NotFound(f"no chat {chat_id}")
            merged = {**(row.settings or {}), **settings}
            await conn.execute(chats.update().where(chats.c.id == chat_id).values(settings=merged))
        return Chat(row.id, row.language, merged, row.active, row.created_at)

    async def subscribe(
        self, chat_id: int, category: str, filters: Sequence[str] = ()
    ) -> Subscription:
        found = await self.find_category(category)
        if found is None:
            raise NotFound(f"no category {category!r}")
        now = utcnow()
        statement = (
            self._insert(subscriptions)
            .values(
                chat_id=chat_id,
                category_id=found.id,
                filters=list(filters),
                active=True,
                created_at=now,
            )
            .on_conflict_do_update(
                index_elements=["chat_id", "category_id"],
                set_={"filters": list(filters), "active": True},
            )
        )
        async with self.engine.begin() as conn:
            row = (await conn.execute(select(chats.c.id).where(chats.c.id == chat_id))).first()
            if row is None:
                raise NotFound(f"no chat {chat_id}")
            await conn.execute(statement)
            sub = (
                await conn.execute(
                    select(subscriptions).where(
                        and_(
                            subscriptions.c.chat_id == chat_id,
                            subscriptions.c.category_id == found.id,
                        )
                    )
                )
            ).one()
        return Subscription(
            sub.id, chat_id, found.name, tuple(sub.filters), sub.active, sub.created_at
        )

    async def unsubscribe(self, chat_id: int, category: str | None = None) -> int:
        condition = subscriptions.c.chat_id == chat_id
        if category is not None:
            found = await self.find_category(category)
            if found is None:
                return 0
            condition = and_(condition, subscriptions.c.category_id == found.id)
        async with self.engine.begin() as conn:
            deleted = await conn.execute(subscriptions.delete().where(condition))
        return int(deleted.rowcount or 0)

    async def subscriptions(self, chat_id: int) -> list[Subscription]:
        query = (
            select(subscriptions, categories.c.name.label("category"))
            .join(categories, subscriptions.c.category_id == categories.c.id)
            .where(subscriptions.c.chat_id == chat_id)
            .order_by(categories.c.key)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            Subscription(r.id, r.chat_id, r.category, tuple(r.filters), r.active, r.created_at)
            for r in rows
        ]

    # -- summaries cache -------------------------------------------------------------------

    async def get_summary(self, article_id: int, algorithm: str, length: str) -> list[str] | None:
        query = select(summaries.c.sentences).where(
            summaries.c.article_id == article_id,
            summaries.c.algorithm == algorithm,
            summaries.c.length == length,
        )
        async with self.engine.connect() as conn:
            value = (await conn.execute(query)).scalar_one_or_none()
        return list(value) if value is not None else None

    async def put_summary(
        self, article_id: int, algorithm: str, length: str, sentences: Sequence[str]
    ) -> None:
        await self.put_summaries([(article_id, algorithm, length, sentences)])

    async def put_summaries(self, items: Iterable[tuple[int, str, str, Sequence[str]]]) -> None:
        """Cache many summaries in one transaction (import computes them in batches)."""
        rows = [
            {
                "article_id": article_id,
                "algorithm": algorithm,
                "length": length,
                "sentences": list(sentences),
                "created_at": utcnow(),
            }
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
        async with self.engine.begin() as conn:
            await conn.execute(statement, rows)

    # -- statistics ------------------------------------------------------------------------

    async def stats(self) -> StoreStats:
        async with self.engine.connect() as conn:

            async def count(query: Any) -> int:
                return int((await conn.execute(query)).scalar_one())

            total = await count(select(func.count()).select_from(articles))
            uncategorized = await count(
                select(func.count()).select_from(articles).where(articles.c.category_id.is_(None))
            )
            per_category = (await conn.execute(self._category_rows())).all()
            feed_count = await count(select(func.count()).select_from(feeds))
            failing = await count(
                select(func.count())
                .select_from(feeds)
                .where(or_(feeds.c.failures > 0, feeds.c.enabled.is_(False)))
            )
            chat_count = await count(select(func.count()).select_from(chats))
            sub_count = await count(select(func.count()).select_from(subscriptions))
            by_status = (
                await conn.execute(
                    select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
                )
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
        )
