"""The article store: one contract (`ArticleStore`), SQLite and PostgreSQL behind it.

store = await open_store("sqlite+aiosqlite:///newsbot.db", clock=SystemClock(), rules=PushRules())
await store.add_articles([...])
await store.latest(10, category="economie")
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import Clock
from bot.errors import StoreError
from bot.store.base import impatient, is_file_path, lease_owner
from bot.store.contract import AddResult, ArticleStore, Audience, PruneResult
from bot.store.migrate import current_revision, head_revision, upgrade
from bot.store.sql import SqlStore, async_url, create_engine, describe_store, redact

__all__ = [
    "AddResult",
    "ArticleStore",
    "Audience",
    "PruneResult",
    "SqlStore",
    "async_url",
    "current_revision",
    "describe_store",
    "head_revision",
    "impatient",
    "lease_owner",
    "open_store",
    "redact",
    "upgrade",
]


async def open_store(
    url: str, *, clock: Clock, rules: Audience, migrate: bool = True, create: bool = True
) -> SqlStore:
    """Connect to the store at *url*, stamping what it writes with *clock* and queueing new
    articles for whom *rules* choose (`bot.deliver.rules.PushRules`); with *migrate*, bring
    its schema up to date first (a fresh database is created, an older one upgraded keeping
    its data).

    With `create=False` (commands that only read: `stats`, `export`) nothing is created: a
    missing SQLite file (or its directory), a database without our schema, or one older than
    this code is a StoreError saying so. Failing to connect is a StoreError naming the store
    (its path, or host/database; never the password).
    """
    if not create:
        migrate = False
    engine = create_engine(url, create_directories=create)
    try:
        if not create:
            await _check_exists(engine, url)
        if migrate:
            await upgrade(engine)
    except StoreError:
        await engine.dispose()
        raise
    except (OSError, SQLAlchemyError) as exc:
        await engine.dispose()
        reason = exc.orig if isinstance(exc, DBAPIError) else exc
        text = " ".join(str(reason).split()) or type(reason).__name__
        raise StoreError(f"cannot open the store ({describe_store(url)}): {text}") from None
    return SqlStore(engine, clock, rules)


async def _check_exists(engine: AsyncEngine, url: str) -> None:
    """StoreError unless *engine*'s database exists and is at this code's schema revision."""
    where = describe_store(url)
    database = engine.url.database or ""
    on_disk = engine.dialect.name == "sqlite" and is_file_path(database)
    if on_disk and not Path(database).expanduser().is_file():
        raise StoreError(
            f"no store at {where}: check the path, or create it with `newsbot db upgrade` "
            "or `newsbot import`"
        )
    revision = await current_revision(engine)
    if revision is None:
        raise StoreError(
            f"the store ({where}) is empty: no newsbot tables yet; create them with "
            "`newsbot db upgrade` or `newsbot import`"
        )
    if revision != head_revision():
        raise StoreError(
            f"the store ({where}) is at schema revision {revision}, not {head_revision()}: "
            "run `newsbot db upgrade`"
        )
