"""Store benchmark: import rate and query latency at 100,000 articles, SQLite and PostgreSQL.

    python bench/store.py                 # both backends, 100k articles
    python bench/store.py --articles 20000 --backends sqlite

Texts come from ../shared/data/orangesum-dev-fr.jsonl (300 real French articles), repeated with
varied titles, URLs and dates over 20 categories. The import goes through the real `newsbot
import` path (JSON Lines file -> parser -> store, summaries off). PostgreSQL uses a scratch
database created next to $NEWSBOT_BENCH_DATABASE_URL (default postgresql://postgres@127.0.0.1/
postgres) and dropped afterwards. Targets: every p99 < 20 ms on SQLite, import >= 2,000/s;
PostgreSQL (issue 16): import >= 4,000/s, search p99 < 20 ms. Also printed: the CPU time an
imported article cost this process, the parser process and (PostgreSQL) the server, and each
search's server CPU time: figures a loaded machine disturbs far less than wall-clock time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench._postgres import admin  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.deliver.rules import PushRules  # noqa: E402
from bot.ingest.importer import import_files  # noqa: E402
from bot.store import async_url, open_store  # noqa: E402

# A benchmark is a program: the machine's clock, made once, as `newsbot` does.
CLOCK = SystemClock()

DATA = ROOT.parent / "shared" / "data" / "orangesum-dev-fr.jsonl"
CATEGORIES = [
    "France", "Politique", "Monde", "Fait-divers", "Culture", "People", "Santé", "Insolite",
    "Environnement", "Médias", "High-tech", "Économie", "Sport", "Sciences", "Éducation",
    "Justice", "Météo", "Tourisme", "Automobile", "Gastronomie",
]  # fmt: skip


def build_jsonl(path: Path, count: int, seed: int = 7) -> list[str]:
    """Write *count* articles to *path*; return the words used for searches."""
    rows = [json.loads(line) for line in DATA.open(encoding="utf-8")]
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    words: list[str] = []
    with path.open("w", encoding="utf-8") as out:
        for i in range(count):
            src = rows[i % len(rows)]
            published = start + timedelta(minutes=rng.randrange(0, 2 * 365 * 24 * 60))
            record = {
                "title": f"{src['title']} — {i}",
                "text": src["text"],
                "url": f"{src['url']}?edition={i}",
                "author": src["author"] or None,
                "published": published.isoformat(),
                "category": CATEGORIES[i % len(CATEGORIES)],
                "language": "fr",
            }
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    for src in rows:
        words.extend(w for w in src["title"].split() if len(w) >= 5 and w.isalpha())
    return words


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


class ServerCpu:
    """CPU time of the PostgreSQL backends serving the benchmark's database, read from
    /proc/PID/schedstat (the server runs on this machine): figures that a loaded machine
    disturbs far less than wall-clock time. Reads 0 where /proc does not show them."""

    def __init__(self) -> None:
        self.pids: list[int] = []

    async def find(self, store: Any) -> None:
        async with store.engine.connect() as conn:
            query = text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")
            self.pids = list((await conn.execute(query)).scalars())

    def ms(self) -> float:
        total = 0
        for pid in self.pids:
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
        return total / 1e6


async def timed(
    runs: int, make: Callable[[int], Awaitable[Any]], server: ServerCpu | None = None
) -> tuple[float, float] | tuple[float, float, float, float]:
    """Median and p99 of *runs* calls in ms; with *server*, also the median and p99 of the
    server's CPU time per call."""
    for i in range(5):  # warm caches and prepared statements
        await make(i)
    samples, cpu = [], []
    for i in range(runs):
        c0 = server.ms() if server else 0.0
        t0 = time.perf_counter()
        await make(i)
        samples.append((time.perf_counter() - t0) * 1000)
        cpu.append(server.ms() - c0 if server else 0.0)
    if server is None:
        return statistics.median(samples), percentile(samples, 99)
    return (
        statistics.median(samples),
        percentile(samples, 99),
        statistics.median(cpu),
        (percentile(cpu, 99)),
    )


async def bench(url: str, jsonl: Path, words: list[str], count: int, runs: int) -> dict[str, Any]:
    store = await open_store(url, clock=CLOCK, rules=PushRules())
    server = ServerCpu() if store.dialect == "postgresql" else None
    try:
        t0 = time.perf_counter()
        c0, children0 = time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN)
        report = await import_files(store, [jsonl], lambda msg: print(msg, file=sys.stderr))
        elapsed = time.perf_counter() - t0
        assert report.imported == count, report
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        # CPU ms an article: this process (the store's side), the parser process, the server.
        parser = children.ru_utime + children.ru_stime - children0.ru_utime - children0.ru_stime
        cpu = {
            "importer": (time.process_time() - c0) * 1000 / count,
            "parser": parser * 1000 / count,
        }
        if server is not None:
            await server.find(store)
            cpu["server"] = server.ms() / count
        rng = random.Random(3)
        pairs = [(rng.choice(words), rng.choice(words)) for _ in range(runs + 5)]
        # Pairs from one title always match something; random pairs often match nothing: both
        # kinds of search happen in real use, so both are measured.
        titles = [a.title for a in await store.latest(300)]
        title_pairs = []
        for title in titles:
            ws = [w for w in title.split() if len(w) >= 4 and w.isalpha()]
            if len(ws) >= 2:
                title_pairs.append(" ".join(rng.sample(ws, 2)))
        # Search as you type: a word of a title, then the first half (3 letters at least) of
        # another word of it, which matches as the start of a word.
        typed = [f"{a} {b[: max(3, len(b) // 2)]}" for a, b in (p.split() for p in title_pairs)]
        ids = [rng.randrange(1, count + 1) for _ in range(runs + 5)]
        results = {
            "import": count / elapsed,
            "import cpu": cpu,
            "latest-10": await timed(runs, lambda i: store.latest(10)),
            "latest-10 category": await timed(
                runs, lambda i: store.latest(10, category=CATEGORIES[i % 20].lower())
            ),
            "latest-10 page 5": await timed(runs, lambda i: store.latest(10, offset=40)),
            "article by id": await timed(runs, lambda i: store.get_article(ids[i])),
            "categories+counts": await timed(runs, lambda i: store.categories()),
            "search 2 words (title)": await timed(
                runs, lambda i: store.search(title_pairs[i % len(title_pairs)]), server
            ),
            "search 2 words (random)": await timed(
                runs, lambda i: store.search(" ".join(pairs[i])), server
            ),
            "search word + prefix": await timed(
                runs, lambda i: store.search(typed[i % len(typed)]), server
            ),
        }
    finally:
        await store.close()
    return results


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    if not DATA.exists():
        sys.exit(f"missing {DATA}: the benchmark needs ../shared/data (see its README)")
    backends = args.backends.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        jsonl = Path(tmp) / "articles.jsonl"
        words = build_jsonl(jsonl, args.articles)
        print(f"{args.articles} articles over {len(CATEGORIES)} categories, {args.runs} runs each")
        table: dict[str, dict[str, Any]] = {}
        if "sqlite" in backends:
            table["sqlite"] = await bench(
                f"sqlite+aiosqlite:///{tmp}/bench.db", jsonl, words, args.articles, args.runs
            )
        if "postgresql" in backends:
            base = async_url(
                os.environ.get(
                    "NEWSBOT_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
                )
            )
            name = "newsbot_bench"
            await admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin(base, f'CREATE DATABASE "{name}"')
            try:
                url = make_url(base).set(database=name).render_as_string(hide_password=False)
                table["postgresql"] = await bench(url, jsonl, words, args.articles, args.runs)
            finally:
                await admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    names = [name for name in next(iter(table.values())) if name != "import cpu"]
    header = f"{'operation':<26}" + "".join(f"{b:>24}" for b in table)
    print(header)
    print(f"{'':<26}" + "".join(f"{'median / p99 (ms)':>24}" for _ in table))
    for op in names:
        cells = []
        for backend in table:
            value = table[backend][op]
            if op == "import":
                cells.append(f"{value:>17,.0f} art/s")
            else:
                cells.append(f"{value[0]:>11.2f} / {value[1]:>8.2f}")
        print(f"{op:<26}" + "".join(f"{c:>24}" for c in cells))
    for backend, figures in table.items():
        parts = ", ".join(f"{k} {v:.3f}" for k, v in figures["import cpu"].items())
        print(f"{backend}: import CPU ms an article: {parts}")
        for op, value in figures.items():
            if op.startswith("search") and len(value) == 4:
                print(f"{backend}: {op}: server CPU median {value[2]:.2f} / p99 {value[3]:.2f} ms")
    print(f"load average: {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    if "sqlite" in table:
        worst = max(v[1] for k, v in table["sqlite"].items() if k not in ("import", "import cpu"))
        rate = table["sqlite"]["import"]
        print(
            f"\nSQLite: worst p99 {worst:.2f} ms (target < 20), "
            f"import {rate:,.0f}/s (target >= 2,000)"
        )
    if "postgresql" in table:
        pg = table["postgresql"]
        worst = max(v[1] for k, v in pg.items() if k.startswith("search"))
        print(
            f"PostgreSQL: worst search p99 {worst:.2f} ms (target < 20), "
            f"import {pg['import']:,.0f}/s (target >= 4,000)"
        )
        if "sqlite" in table:
            ratio = pg["import"] / table["sqlite"]["import"]
            print(f"PostgreSQL / SQLite import rate: {ratio:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
