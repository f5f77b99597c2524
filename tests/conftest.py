"""Shared fixtures: a fresh store on SQLite and on PostgreSQL for the contract tests.

PostgreSQL comes from `NEWSBOT_TEST_DATABASE_URL` (e.g. postgresql://postgres@127.0.0.1/test).
The tests create a database of their own next to it and drop it at the end, so they never touch
the data of the one named. Without the variable those tests skip, except under CI=true, where
skipping would hide a broken backend, so they fail instead.
"""

from __future__ import annotations

import asyncio
import logging
import os
import select
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy.engine import make_url

from bench._postgres import admin
from bot.deliver.rules import PushRules
from bot.store import SqlStore, async_url, create_engine, upgrade
from bot.store.schema import metadata
from tests.helpers import FakeClock

PG_ENV = "NEWSBOT_TEST_DATABASE_URL"

# Property-based tests: no per-example deadline (a shared 2-core machine stalls), and under CI
# the same examples on every run, so that a failure is reproducible and never a coin toss.
settings.register_profile("default", deadline=None)
settings.register_profile("ci", deadline=None, derandomize=True, database=None)
settings.load_profile("ci" if os.environ.get("CI") == "true" else "default")


def _select_sleep(seconds: float) -> None:
    """`time.sleep` on select's relative timeout. CI runs the suite a second time under
    libfaketime (`.ci/run`), whose clock_nanosleep wrapper answers EINVAL to the absolute
    monotonic sleep Python 3.11's `time.sleep` makes, so every sleep in the test process (the
    feed server's slow responses, `subprocess` waits, polling loops) would fail there."""
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        select.select([], [], [], left)


if "faketime" in os.environ.get("LD_PRELOAD", ""):
    time.sleep = _select_sleep


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """`newsbot` commands set up logging on the root logger; undo it after each test so a
    handler bound to one test's captured stderr does not outlive it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _postgres_base_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {PG_ENV} is not set: the PostgreSQL tests must run in CI")
        pytest.skip(f"PostgreSQL tests need {PG_ENV}=postgresql://USER@HOST/DB (not set)")
    return async_url(url)


@contextmanager
def scratch_postgres(prefix: str) -> Iterator[str]:
    """Create an empty PostgreSQL database next to the one of `NEWSBOT_TEST_DATABASE_URL`,
    yield its URL, drop it afterwards (skip or fail as `_postgres_base_url` says)."""
    base = _postgres_base_url()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        asyncio.run(admin(base, f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # a server that is down must say so, not crash obscurely
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(f"PostgreSQL at {make_url(base).render_as_string()} unusable: {exc}")
    try:
        yield make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        asyncio.run(admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A freshly created, migrated PostgreSQL database for this test session."""
    with scratch_postgres("newsbot_test") as url:

        async def migrate() -> None:
            engine = create_engine(url)
            try:
                await upgrade(engine)
            finally:
                await engine.dispose()

        asyncio.run(migrate())
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A brand-new database with no schema at all, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('mig') / 'old.db'}"
        return
    with scratch_postgres("newsbot_mig") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of an empty store, once per backend."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
    url: str = request.getfixturevalue("postgres_url")
    tables = ", ".join(t.name for t in metadata.sorted_tables)

    async def truncate() -> None:
        await admin(url, f"TRUNCATE {tables} RESTART IDENTITY CASCADE")

    asyncio.run(truncate())
    return url


@pytest.fixture
def clock() -> FakeClock:
    """The test's one clock, standing still at `tests.helpers.START` until the test moves it."""
    return FakeClock()


@pytest.fixture
def rules() -> PushRules:
    """The push rules of the `store` fixture; a test parametrizes `rules` for others."""
    return PushRules()


@pytest.fixture
async def store(store_url: str, clock: FakeClock, rules: PushRules) -> AsyncIterator[SqlStore]:
    """An open, migrated, empty store on each backend, on the test's clock and rules."""
    engine = create_engine(store_url)
    await upgrade(engine)
    store = SqlStore(engine, clock, rules)
    yield store
    await store.close()


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run commands in an empty directory with a store of their own and no config file."""
    monkeypatch.chdir(tmp_path)
    for name in ("NEWSBOT_CONFIG", "NEWSBOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    db = tmp_path / "news.db"
    monkeypatch.setenv("NEWSBOT_DATABASE_URL", f"sqlite:///{db}")
    return db
