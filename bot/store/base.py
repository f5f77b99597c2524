"""The one helper every part of `SqlStore` runs on: an engine, and `_run`, which runs one
synchronous function on one connection (in a worker thread on an SQLite file, through
`AsyncConnection.run_sync` otherwise). Also the engines themselves, the dialect's
`INSERT ... ON CONFLICT`, and the category id lookup the write path shares.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from itertools import islice
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar
from urllib.parse import urlsplit

from cachetools import LRUCache
from sqlalchemy import (
    Row,
    event,
    select,
)
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot import metrics
from bot.clock import Clock
from bot.errors import StoreBusy, StoreError
from bot.store.contract import Audience
from bot.store.schema import (
    categories,
)
from bot.text import fold

# The GIN pending-list limit of the store's sessions on PostgreSQL (see `create_engine`): every
# search reads the whole list, which made searches 1.7x slower at the median when a 4 MB list
# (PostgreSQL's default) was full (migration 0009).
PG_PENDING_LIST_LIMIT = "1MB"
# Rows per INSERT: 500 x 16 columns stays well under SQLite's and asyncpg's bind-parameter limits.
BATCH_SIZE = 500
_T = TypeVar("_T")
_P = ParamSpec("_P")
# Threads running SQLite work: WAL lets readers run beside the one writer, and a few threads
# are enough for that on a bot whose handlers are bounded to a handful at once.
SQLITE_THREADS = 4
# Category ids kept by a store: far more than any real deployment has.
CACHED_CATEGORIES = 10_000
# How long an SQLite write waits for another process's write lock before StoreBusy, unless
# the caller is impatient (see `impatient`).
BUSY_TIMEOUT_MS = 30_000
# Only on a new, empty file (where it takes effect): pages freed by retention can then be
# returned to the file system a slice at a time (`bot.store.retention`), without a VACUUM that
# would lock the whole database. Not on an existing file: there it is a no-op that still waits
# for the write lock, so a connection opened while another process writes would hang.
_SQLITE_NEW_FILE_PRAGMA = "PRAGMA auto_vacuum=INCREMENTAL"
_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}",
    "PRAGMA foreign_keys=ON",
    # 64 MiB of page cache (default 2 MiB): the full-text index's merges during a large
    # import touch far more pages than the default holds.
    "PRAGMA cache_size=-65536",
)


# Drivers a URL may name that we do not ship: the same database through the async driver we do.
_SYNC_DRIVERS = {
    "postgres": "postgresql+asyncpg",
    "postgresql": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "postgresql+psycopg": "postgresql+asyncpg",
    "postgresql+pg8000": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+pysqlite": "sqlite+aiosqlite",
}


def async_url(url: str) -> str:
    """Map plain SQLAlchemy/libpq URLs to the async drivers we ship with.

    `sqlite:///x.db` -> `sqlite+aiosqlite:///x.db`; `postgres://`, `postgresql://` and the
    synchronous PostgreSQL drivers (`postgresql+psycopg2://`...) -> `postgresql+asyncpg://`;
    libpq's `?sslmode=require` (the usual form for hosted PostgreSQL) -> asyncpg's `?ssl=require`.
    Raises StoreError, naming what is wrong, for a URL that cannot be read (a port that is not a
    number); the password is never part of the message.
    """
    try:
        parsed = make_url(url)
    except Exception:  # ValueError (the port), sqlalchemy's ArgumentError (not a URL at all)
        raise StoreError(f"unreadable database URL: {_url_problem(url)}") from None
    driver = _SYNC_DRIVERS.get(parsed.drivername, parsed.drivername)
    if driver != parsed.drivername:
        parsed = parsed.set(drivername=driver)
    if driver == "postgresql+asyncpg" and "sslmode" in parsed.query:
        sslmode = parsed.query["sslmode"]
        parsed = parsed.difference_update_query(["sslmode"])
        if "ssl" not in parsed.query:
            parsed = parsed.update_query_dict({"ssl": sslmode})
    return parsed.render_as_string(hide_password=False)


def _url_problem(url: str) -> str:
    """What is wrong with a URL make_url refused, without repeating the URL (its password)."""
    try:
        urlsplit(url).port  # noqa: B018 - the property is the check
    except ValueError:
        return "the port is not a number from 0 to 65535"
    return "expected dialect://user:password@host:port/database or sqlite:///path"


def redact(url: str) -> str:
    """The URL with any password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unreadable URL: say which kind of store, never the rest
        scheme = url.split(":", 1)[0]
        return f"{scheme}://…" if re.fullmatch(r"[a-z0-9+]{1,40}", scheme) else "(unreadable URL)"


def describe_store(url: str) -> str:
    """The store as an error message names it: the SQLite file's path, or PostgreSQL's
    host:port/database; never the password."""
    try:
        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite":
            return f"SQLite {parsed.database or ':memory:'}"
        host = parsed.host or "localhost"
        port = f":{parsed.port}" if parsed.port else ""
        return f"PostgreSQL {host}{port}/{parsed.database or ''}"
    except Exception:
        return redact(url)


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA page_count")  # (the aiosqlite adapter's execute returns no cursor)
    if cursor.fetchone()[0] == 0:
        cursor.execute(_SQLITE_NEW_FILE_PRAGMA)
    for pragma in _SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def is_file_path(database: str) -> bool:
    """An SQLite database name that is a path on disk (not `:memory:`, not a `file:` URI)."""
    return bool(database) and database != ":memory:" and not database.startswith("file:")


def create_engine(url: str, *, create_directories: bool = True) -> AsyncEngine:
    """An async engine for *url*, with SQLite set up for a concurrent reader/writer workload:
    WAL journal, a busy timeout instead of instant "database is locked", foreign keys enforced.
    (`SqlStore` runs its SQLite work on a synchronous twin, `create_sync_sqlite_engine`.)
    The directory of an SQLite file is created unless *create_directories* is false."""
    url = async_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if create_directories and is_file_path(database):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
        return engine
    if parsed.get_backend_name() == "postgresql":
        # The search index merges its pending list of new entries at 1 MB for every write of
        # this store but a bulk one, which raises the limit for its own transactions
        # (`bot.store.articles`; migration 0011 says why it is not the index's setting).
        settings = {"gin_pending_list_limit": PG_PENDING_LIST_LIMIT}
        return create_async_engine(
            url, pool_pre_ping=True, connect_args={"server_settings": settings}
        )
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


# Seconds the writes of the current task wait for SQLite's write lock (None: BUSY_TIMEOUT_MS).
_patience: ContextVar[float | None] = ContextVar("store_patience", default=None)


@contextlib.contextmanager
def impatient(seconds: float) -> Iterator[None]:
    """Within this block (in this task), an SQLite write waits at most *seconds* for a write
    lock another process holds, then raises StoreBusy: a chat answers "busy, try again" in a
    moment rather than after 30 s. Batch work (ingest, import, the sender) keeps the default."""
    token = _patience.set(seconds)
    try:
        yield
    finally:
        _patience.reset(token)


def _locked(exc: OperationalError) -> bool:
    """SQLite's "database is locked" (or "... table is locked"): another writer holds it."""
    message = str(exc.orig).lower()
    return "database is locked" in message or "table is locked" in message


def _chunks(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def lease_owner() -> str:
    """A name for a holder of leases (feeds, deliveries), unique to this process and object:
    host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()[:24]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class StoreBase:
    """What every part of `SqlStore` runs on: the engine, the clock, the push rules, and
    `_read` / `_write`.

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
        # fold(name) -> (id, display name), for the write path (every stored article, every
        # subscribe) and the category filters of queries. Correctness-neutral: categories are
        # never renamed or deleted by the bot, so a hit stays true, and a miss always goes to
        # the database. Readers who want counts use the services' read cache
        # (`ArticleService`), which has a TTL; this one has none and needs none.
        self._category_ids: LRUCache[str, tuple[int, str]] = LRUCache(CACHED_CATEGORIES)
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
        """`call` on a connection; StoreBusy if SQLite's write lock stays taken by another
        process longer than the caller waits (`impatient`, else BUSY_TIMEOUT_MS). Timed for
        `bot.metrics`, on the store's clock."""
        start = self.clock.monotonic()
        try:
            return await self._run_once(write, call)
        except OperationalError as exc:
            if self.dialect != "sqlite" or not _locked(exc):
                raise
            raise StoreBusy(f"the store is busy: {exc.orig}") from None
        finally:
            metrics.store_query(write, self.clock.monotonic() - start)

    async def _run_once(self, write: bool, call: Callable[[Connection], _T]) -> _T:
        # Only a write waits for SQLite's lock: in WAL mode readers never do, so a read runs
        # without the two PRAGMAs an impatient caller's write costs.
        patience = _patience.get() if write and self.dialect == "sqlite" else None
        if self._sync_engine is not None:
            engine = self._sync_engine

            def hop() -> _T:
                with engine.begin() if write else engine.connect() as conn:
                    if patience is None:
                        return call(conn)
                    _busy_timeout(conn, round(patience * 1000))
                    try:
                        return call(conn)
                    finally:
                        _busy_timeout(conn, BUSY_TIMEOUT_MS)

            return await asyncio.get_running_loop().run_in_executor(self._executor, hop)
        async with self.engine.begin() if write else self.engine.connect() as conn:
            return await conn.run_sync(call)

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


def _busy_timeout(conn: Connection, ms: int) -> None:
    """How long this SQLite connection waits for a lock (not transactional: it holds until
    set again, so a pooled connection is set back before it is returned)."""
    conn.exec_driver_sql(f"PRAGMA busy_timeout={int(ms)}")


# -- one-statement bodies, shared by many methods ----------------------------------------------


def _all(conn: Connection, query: Any) -> list[Row[Any]]:
    return list(conn.execute(query).all())


def _first(conn: Connection, query: Any) -> Row[Any] | None:
    return conn.execute(query).first()


def _execute(conn: Connection, statement: Any, params: Any = None) -> None:
    conn.execute(statement, params)
