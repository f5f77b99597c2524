"""Retention benchmark: 60 simulated days of 2,000 articles a day pushed to 1,000 chats, with
the daily prune of `newsbot run`; the database size must stay flat after the retention window.

    python bench/retention.py                                  # SQLite, 60 days (~10 min)
    python bench/retention.py --days 12 --per-day 500 --keep-days 5 --backends sqlite,postgresql

Each simulated day (the store's clock moved one day forward): `--per-day` articles spread over
20 categories are stored with `add_articles` (real texts from ../shared/data when present),
which queues a delivery for every chat subscribed to the category (each of the `--chats` chats
follows one category: 50 chats per article with the defaults, 100,000 deliveries a day); the
sender is simulated by marking every pending delivery sent in one UPDATE; then the daily prune
runs (`bot.services.retention.prune` with keep_deliveries_days = keep_articles_days =
`--keep-days`, 30 by default) and the size of the database is read: the SQLite file (after a
WAL checkpoint) or `pg_database_size` (after a plain VACUUM standing in for autovacuum, which
in a real day has long run). Printed: the size each day, and the ratio of the last
day's size to the size on the first day after the window (1.00 = flat), measured in the same
run, with the time the prunes took. PostgreSQL uses a scratch database created next to
$NEWSBOT_BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text, update  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench._postgres import admin  # noqa: E402
from bot.config import StoreConfig  # noqa: E402
from bot.deliver.rules import PushRules  # noqa: E402
from bot.models import NewArticle  # noqa: E402
from bot.services.retention import prune  # noqa: E402
from bot.store import SqlStore, async_url, open_store  # noqa: E402
from bot.store.schema import deliveries  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "orangesum-dev-fr.jsonl"
CATEGORIES = 20
START = datetime(2026, 1, 1, 6, tzinfo=UTC)


class SimulatedClock:
    """The benchmark's clock: moved one day at a time (a `bot.clock.Clock`)."""

    def __init__(self, now: datetime) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return (self._now - START).total_seconds()

    def advance(self, delta: timedelta) -> None:
        self._now += delta


def texts() -> list[tuple[str, str]]:
    if DATA.exists():
        rows = [json.loads(line) for line in DATA.open(encoding="utf-8")]
        return [(r["title"], r["text"]) for r in rows]
    return [(f"Titre {i}", f"Le texte de l'article {i}. " * 60) for i in range(300)]


async def size(store: SqlStore, path: Path | None) -> int:
    if path is not None:
        async with store.engine.connect() as conn:
            await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return path.stat().st_size + sum(
            p.stat().st_size for p in path.parent.glob(path.name + "-*")
        )
    async with store.engine.connect() as conn:
        found = await conn.execute(text("SELECT pg_database_size(current_database())"))
        return int(found.scalar_one())


async def run(url: str, path: Path | None, args: argparse.Namespace) -> None:
    clock = SimulatedClock(START)
    store = await open_store(url, clock=clock, rules=PushRules())
    corpus = texts()
    keep = StoreConfig(keep_deliveries_days=args.keep_days, keep_articles_days=args.keep_days)
    try:
        await store.add_articles(
            NewArticle(title=f"seed {c}", text=f"seed {c}", category=f"Rubrique {c}")
            for c in range(CATEGORIES)
        )
        for chat in range(1, args.chats + 1):
            await store.upsert_chat(chat)
            await store.subscribe(chat, f"rubrique {chat % CATEGORIES}")
        sizes: list[int] = []
        prune_seconds: list[float] = []
        print(f"{'day':>4} {'stored':>8} {'queued':>9} {'deleted dlv':>12} {'deleted art':>12} "
              f"{'prune s':>8} {'size MB':>9}")  # fmt: skip
        serial = 0
        for day in range(1, args.days + 1):
            clock.advance(timedelta(days=1))
            batch = []
            for _ in range(args.per_day):
                title, body = corpus[serial % len(corpus)]
                batch.append(
                    NewArticle(
                        title=f"{title} ({serial})",
                        text=body,
                        url=f"https://news.example.org/{serial}",
                        published=clock.now(),
                        category=f"Rubrique {serial % CATEGORIES}",
                    )
                )
                serial += 1
            added = await store.add_articles(batch)
            async with store.engine.begin() as conn:  # the sender, simulated
                await conn.execute(
                    update(deliveries)
                    .where(deliveries.c.status == "pending")
                    .values(status="sent", sent_at=clock.now())
                )
            t0 = time.perf_counter()
            result = await prune(store, keep, clock)
            prune_seconds.append(time.perf_counter() - t0)
            if path is None:  # autovacuum's work: a simulated day lasts seconds, not a day
                async with store.engine.connect() as conn:
                    await conn.execution_options(isolation_level="AUTOCOMMIT")
                    await conn.exec_driver_sql("VACUUM (ANALYZE) deliveries, articles, summaries")
            sizes.append(await size(store, path))
            print(
                f"{day:>4} {len(added.ids):>8} {added.queued:>9} {result.deliveries:>12} "
                f"{result.articles:>12} {prune_seconds[-1]:>8.2f} {sizes[-1] / 1e6:>9.1f}"
            )
        window = args.keep_days + 1  # the first day anything is pruned
        if args.days > window:
            flat = sizes[-1] / sizes[window - 1]
            grown = sizes[window - 1] / sizes[0]
            print(
                f"size day {args.days} / day {window}: {flat:.2f} (1.00 = flat); "
                f"day {window} / day 1: {grown:.1f}; prune: median "
                f"{sorted(prune_seconds[window - 1 :])[len(prune_seconds[window - 1 :]) // 2]:.2f}"
                f" s, max {max(prune_seconds):.2f} s a day"
            )
    finally:
        await store.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--per-day", type=int, default=2000)
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--keep-days", type=int, default=30)
    parser.add_argument("--backends", default="sqlite")
    args = parser.parse_args()
    backends = args.backends.split(",")
    print(
        f"{args.days} days x {args.per_day} articles to {args.chats} chats "
        f"({args.chats // CATEGORIES} per article), keep {args.keep_days} days"
    )
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "retention.db"
            print("SQLite")
            await run(f"sqlite+aiosqlite:///{path}", path, args)
    if "postgresql" in backends:
        base = async_url(
            os.environ.get(
                "NEWSBOT_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
            )
        )
        name = "newsbot_bench_retention"
        await admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin(base, f'CREATE DATABASE "{name}"')
        try:
            print("PostgreSQL")
            url = make_url(base).set(database=name).render_as_string(hide_password=False)
            await run(url, None, args)
        finally:
            await admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
