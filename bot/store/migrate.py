"""Schema migrations (Alembic), run programmatically on the store's own async engine."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> AlembicConfig:
    """An Alembic config pointing at our migrations, without an alembic.ini."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest migration this code ships."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, None for a fresh one."""

    def read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as conn:
        return await conn.run_sync(read)


# The key of the PostgreSQL advisory lock every `upgrade` takes: any constant, the same in
# every process (the first 8 bytes of "newsbot:" as an integer).
MIGRATION_LOCK = int.from_bytes(b"newsbot:", "big") & 0x7FFF_FFFF_FFFF_FFFF


async def upgrade(engine: AsyncEngine, revision: str = "head") -> tuple[str | None, str | None]:
    """Apply migrations up to *revision* in one transaction; returns (before, after).

    On PostgreSQL the transaction first takes an advisory lock, held until it commits: two
    processes starting at once on an empty database (`newsbot run` and `newsbot ingest`) used
    to both create the tables, and one failed on a duplicate type. Now the second waits, then
    finds the schema up to date. (SQLite serializes writers on its own.)
    """

    def run(connection: Connection) -> tuple[str | None, str | None]:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        before = MigrationContext.configure(connection).get_current_revision()
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        return before, MigrationContext.configure(connection).get_current_revision()

    async with engine.begin() as conn:
        return await conn.run_sync(run)
