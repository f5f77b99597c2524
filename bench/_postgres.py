"""What the benchmarks and the tests' fixtures (tests/conftest.py) share for PostgreSQL
databases of their own (imported as `bench._postgres`, the repository root on sys.path)."""

from __future__ import annotations

from sqlalchemy import text

from bot.store import create_engine


async def admin(url: str, statement: str) -> None:
    """Run *statement* outside a transaction (CREATE/DROP DATABASE) on the server of *url*."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(statement))
    finally:
        await engine.dispose()
