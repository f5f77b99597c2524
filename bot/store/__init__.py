"""The article store: one contract (`ArticleStore`), SQLite and PostgreSQL behind it.

store = await open_store("sqlite+aiosqlite:///newsbot.db", clock=SystemClock(), rules=PushRules())
await store.add_articles([...])
await store.latest(10, category="economie")
"""

from __future__ import annotations

from bot.clock import Clock
from bot.store.base import impatient, lease_owner
from bot.store.contract import AddResult, ArticleStore, Audience
from bot.store.migrate import current_revision, head_revision, upgrade
from bot.store.sql import SqlStore, async_url, create_engine, redact

__all__ = [
    "AddResult",
    "ArticleStore",
    "Audience",
    "SqlStore",
    "async_url",
    "current_revision",
    "head_revision",
    "impatient",
    "lease_owner",
    "open_store",
    "redact",
    "upgrade",
]


async def open_store(url: str, *, clock: Clock, rules: Audience, migrate: bool = True) -> SqlStore:
    """Connect to the store at *url*, stamping what it writes with *clock* and queueing new
    articles for whom *rules* choose (`bot.deliver.rules.PushRules`); with *migrate*, bring
    its schema up to date first (a fresh database is created, an older one upgraded keeping
    its data)."""
    engine = create_engine(url)
    if migrate:
        await upgrade(engine)
    return SqlStore(engine, clock, rules)
