"""Chat benchmark: updates/s and handler latency of the real bot at 100,000 articles, next to a
bare python-telegram-bot echo bot as the anchor of the ratio.

    python bench/chat.py                        # 100,000 articles, 2,000 updates
    python bench/chat.py --articles 20000 --updates 1000 --api-latency 50

The store is built like bench/store.py (its `build_jsonl`, the real import path) on SQLite. Both
bots run as in production, long polling a fake Bot API (tests/fakebotapi.py, validating every
answer) that runs in a process of its own on 127.0.0.1, as Telegram is no part of the bot's
process; there is no network latency. Only Telegram's flood-limit rate limiter is off: there is
no Telegram to protect, and it would cap both bots at 30 messages/s.

The load is a closed loop, as people chat: 200 users, `--typing` of them (20) waiting for an
answer at any time, each answered user making room for the next one's command. Every user has
sent one command before the measured run (a warm-up), so the run is the steady state and not
the one-time cost of a chat's first contact. Commands are
half `/latest [category] [n]`, half `/summary <id>` on the 500 newest articles, whose default
summaries were computed at import as `newsbot import` does. Handler latency is measured inside
the Application, from the first handler group to the last: the store, the caches, rendering and
sending the answer, but not the time an update waits in the queue. What a summary computed on
request (a cache miss) costs is printed apart. Targets: p99 < 50 ms, and at least half the echo
bot's updates/s.

The bot runs twice: at `newsbot run`'s default concurrency (2 updates at once across chats) and
one update at a time. With no network latency the machine's CPU is the only limit, so a higher
concurrency adds little throughput and each handler waits for the others' CPU: the first row
shows the latency a reader sees in a burst, the second the handlers' own cost. `--api-latency
50` adds a round trip like a real Telegram's, where concurrency is what keeps throughput up.

`--metrics` measures what `[metrics]` costs instead: the bot at the default concurrency, in
turns without metrics and with them served and recorded (`[metrics] listen`, every seam
counting: updates, handler and store latency, summaries), `--rounds` times each, and prints
the ratio of the medians (1.00: no cost).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import importlib.util
import multiprocessing
import os
import random
import socket
import statistics
import sys
import tempfile
import threading
import time
import timeit
from collections.abc import Callable, Coroutine
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from telegram import Update  # noqa: E402
from telegram.ext import (  # noqa: E402
    Application,
    ApplicationBuilder,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import metrics  # noqa: E402
from bot.app import create_application  # noqa: E402
from bot.chat.application import (  # noqa: E402
    DEFAULT_CONCURRENCY,
    serve,
)
from bot.clock import SystemClock  # noqa: E402
from bot.config import (  # noqa: E402
    Config,
    MetricsConfig,
    StoreConfig,
    SummaryConfig,
    TelegramConfig,
)
from bot.deliver.rules import PushRules  # noqa: E402
from bot.ingest.importer import import_files  # noqa: E402
from bot.metrics import REGISTRY  # noqa: E402
from bot.services.summaries import SummaryService  # noqa: E402
from bot.store import open_store  # noqa: E402

# A benchmark is a program: the machine's clock, made once, as `newsbot` does.
CLOCK = SystemClock()
from tests.fakebotapi import FakeBotAPI, User  # noqa: E402


def _load_store_bench() -> Any:
    """bench/store.py as a module, for its `build_jsonl` and `CATEGORIES` (bench is no package)."""
    spec = importlib.util.spec_from_file_location("bench_store", ROOT / "bench" / "store.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


store_bench = _load_store_bench()

USERS = [User(id=10_000 + i, first_name=f"user{i}", language_code="fr") for i in range(200)]


class RemoteAPI:
    """The fake Bot API in a process of its own, as Telegram is: its work does not compete with
    the bot for the GIL. It also plays the users, through a pipe from the bench."""

    def __init__(self, latency: float = 0.0) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve_api, args=(child, latency), daemon=True)
        self._process.start()
        self.base_url, self.token = self._conn.recv()

    def converse(self, texts: list[str], typing: int) -> None:
        """Start users sending `texts` in order, `typing` users at a time: each of them sends
        their next command once the bot has answered the previous one."""
        self._conn.send(("converse", texts, typing))
        self._conn.recv()

    def counts(self) -> tuple[dict[str, int], int]:
        """Calls per method, and how many the server refused."""
        self._conn.send(("counts",))
        counts, refused = self._conn.recv()
        return counts, refused

    def close(self) -> None:
        self._conn.send(("stop",))
        self._process.join(10)


def _serve_api(conn: Any, latency: float) -> None:
    """The server process: a FakeBotAPI whose users answer back (a closed loop). `typing` users
    wait for an answer at any time; an answered user goes to the back of the idle line, and the
    first idle user sends the next command, so every user takes part in turn. Each call but
    getUpdates takes `latency` seconds more, like a round trip to Telegram."""
    api = FakeBotAPI(record_calls=False).start()
    conn.send((api.base_url, api.token))
    refused = 0
    lock = threading.Lock()
    script: list[str] = []
    idle: collections.deque[User] = collections.deque()
    by_chat = {user.id: user for user in USERS}
    original = api.handle

    def next_command() -> None:
        with lock:
            if not script or not idle:
                return
            text, user = script.pop(), idle.popleft()
        api.send_message(user, text)

    def handle(token: str, method: str, params: dict[str, Any]) -> tuple[int, Any]:
        nonlocal refused
        if latency and method != "getUpdates":
            time.sleep(latency)
        status, payload = original(token, method, params)
        refused += status != 200
        if method == "sendMessage":
            with lock:
                idle.append(by_chat[int(params["chat_id"])])
            next_command()
        return status, payload

    api.handle = handle  # type: ignore[method-assign]
    while True:
        message = conn.recv()
        if message[0] == "converse":
            _, texts, typing = message
            with lock:
                script[:] = list(reversed(texts))
                idle.clear()
                idle.extend(USERS)
            for _ in range(typing):
                next_command()
            conn.send(None)
        elif message[0] == "counts":
            conn.send((dict(api.counts), refused))
        else:
            api.stop()
            return


@dataclass
class Timings:
    """Per-update handler timings, taken by handlers in the first and the last group."""

    started: dict[int, float] = field(default_factory=dict)
    done: dict[int, float] = field(default_factory=dict)
    commands: dict[int, str] = field(default_factory=dict)
    expected: int = 0
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self, update: Update, context: Any) -> None:
        self.started[update.update_id] = time.perf_counter()
        text = update.message.text if update.message else None
        self.commands[update.update_id] = (text or "?").split()[0]

    async def end(self, update: Update, context: Any) -> None:
        self.done[update.update_id] = time.perf_counter()
        if len(self.done) >= self.expected:
            self.finished.set()

    def instrument(self, application: Application[Any, Any, Any, Any, Any, Any]) -> None:
        application.add_handler(TypeHandler(Update, self.start), group=-1)
        application.add_handler(TypeHandler(Update, self.end), group=99)

    def reset(self, expected: int) -> None:
        self.started.clear()
        self.done.clear()
        self.commands.clear()
        self.finished.clear()
        self.expected = expected

    def by_command(self) -> dict[str, list[float]]:
        """Milliseconds per update, all together and per command."""
        found: dict[str, list[float]] = {"all": []}
        for update_id, end in self.done.items():
            ms = (end - self.started[update_id]) * 1000
            found["all"].append(ms)
            found.setdefault(self.commands[update_id], []).append(ms)
        return found


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


async def drive(
    api: RemoteAPI,
    application: Application[Any, Any, Any, Any, Any, Any],
    run: Callable[[asyncio.Event], Coroutine[Any, Any, None]],
    texts: list[str],
    warmup: list[str],
    typing: int,
) -> tuple[float, dict[str, list[float]], float]:
    """Serve with `run` while users send `warmup`, then `texts`; updates/s, latencies, and
    the CPU time of this process (the bot: the fake API runs in its own) per update, in ms,
    which other work on a shared machine changes far less than the rate."""
    timings = Timings()
    timings.instrument(application)
    stop = asyncio.Event()
    task = asyncio.create_task(run(stop))
    try:
        timings.reset(len(warmup))
        api.converse(warmup, typing)
        await asyncio.wait_for(timings.finished.wait(), 120)
        timings.reset(len(texts))
        t0, cpu0 = time.perf_counter(), time.process_time()
        api.converse(texts, typing)
        await asyncio.wait_for(timings.finished.wait(), 600)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        stop.set()
        await task
    return len(texts) / elapsed, timings.by_command(), cpu / len(texts) * 1000


async def run_newsbot(
    url: str,
    texts: list[str],
    warmup: list[str],
    typing: int,
    concurrency: int = DEFAULT_CONCURRENCY,
    latency: float = 0.0,
    metrics_port: int | None = None,
) -> tuple[float, dict[str, list[float]], int, float]:
    """The real bot (`bot.app.create_application`, `serve`): updates/s, latencies, how many
    answers the fake API refused or never got, CPU ms per update. With `metrics_port`,
    `[metrics]` serves there."""
    api = RemoteAPI(latency)
    try:
        config = Config(
            telegram=TelegramConfig(token=api.token, api_base_url=api.base_url),
            store=StoreConfig(url=url),
            metrics=MetricsConfig(f"127.0.0.1:{metrics_port}" if metrics_port else ""),
        )
        application = create_application(
            config, clock=CLOCK, rate_limit=False, concurrency=concurrency
        )

        async def run(stop: asyncio.Event) -> None:
            await serve(application, stop, poll_timeout=1)

        rate, latencies, cpu = await drive(api, application, run, texts, warmup, typing)
        counts, refused = api.counts()
    finally:
        api.close()
    missing = len(texts) + len(warmup) - counts.get("sendMessage", 0) + refused
    return rate, latencies, refused + max(0, missing), cpu


async def run_echo(
    texts: list[str], warmup: list[str], typing: int, latency: float = 0.0
) -> tuple[float, dict[str, list[float]]]:
    """The anchor: python-telegram-bot's echo example, default settings, same fake API."""
    api = RemoteAPI(latency)
    try:
        application = ApplicationBuilder().token(api.token).base_url(api.base_url).build()

        async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            assert update.message and update.message.text
            await update.message.reply_text(update.message.text)

        application.add_handler(MessageHandler(filters.TEXT, echo))

        async def run(stop: asyncio.Event) -> None:
            async with application:
                assert application.updater
                await application.updater.start_polling(timeout=1)
                await application.start()
                await stop.wait()
                await application.updater.stop()
                await application.stop()

        rate, latencies, _ = await drive(api, application, run, texts, warmup, typing)
        return rate, latencies
    finally:
        api.close()


async def cold_summaries(url: str, ids: list[int]) -> list[float]:
    """Milliseconds per summary computed on request (what a cache miss costs a reader)."""
    store = await open_store(url, clock=CLOCK, rules=PushRules())
    try:
        service = SummaryService(store, SummaryConfig())
        samples = []
        warm = await store.get_article(ids[0])
        await service.summary(warm, sentences=4)  # loads the stemmers and stop words once
        for article_id in ids[1:]:
            article = await store.get_article(article_id)
            t0 = time.perf_counter()
            await service.summary(article, sentences=2)  # 2: not the precomputed length
            samples.append((time.perf_counter() - t0) * 1000)
        return samples
    finally:
        await store.close()


def updates(count: int, recent: list[int], rng: random.Random) -> list[str]:
    """Half /latest (overall or by category, various sizes), half /summary of recent articles."""
    texts = []
    for i in range(count):
        if i % 2 == 0:
            shape = rng.randrange(3)
            if shape == 0:
                texts.append("/latest")
            elif shape == 1:
                texts.append(f"/latest {rng.choice(store_bench.CATEGORIES).lower()} 5")
            else:
                texts.append(f"/latest {rng.choice([3, 10, 20])}")
        else:
            texts.append(f"/summary {rng.choice(recent)}")
    return texts


def line(name: str, rate: float | None, latencies: list[float]) -> str:
    rate_text = f"{rate:>10,.0f}" if rate is not None else f"{'':>10}"
    return (
        f"{name:<26}{rate_text}{statistics.median(latencies):>10.2f}"
        f"{percentile(latencies, 99):>10.2f}{len(latencies):>8}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--updates", type=int, default=2_000)
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help=f"updates the bot handles at once (default: {DEFAULT_CONCURRENCY}, as `newsbot run`)",
    )
    parser.add_argument(
        "--typing",
        type=int,
        default=20,
        help="users waiting for an answer at any time (default: 20)",
    )
    parser.add_argument(
        "--api-latency",
        type=float,
        default=0.0,
        metavar="MS",
        help="add this round trip to every Bot API call, like a real Telegram (default: 0)",
    )
    parser.add_argument(
        "--metrics",
        action="store_true",
        help="measure the cost of [metrics]: the bot without and with them, in turns",
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="runs of each with --metrics (default: 3)"
    )
    args = parser.parse_args()
    if not store_bench.DATA.exists():
        sys.exit(f"missing {store_bench.DATA}: the benchmark needs ../shared/data")
    rng = random.Random(11)
    with tempfile.TemporaryDirectory() as tmp:
        jsonl = Path(tmp) / "articles.jsonl"
        store_bench.build_jsonl(jsonl, args.articles)
        url = f"sqlite+aiosqlite:///{tmp}/chat.db"
        store = await open_store(url, clock=CLOCK, rules=PushRules())
        try:
            t0 = time.perf_counter()
            report = await import_files(store, [jsonl], lambda m: print(m, file=sys.stderr))
            imported = time.perf_counter() - t0
            recent = [a.id for a in await store.latest(500)]
            with ProcessPoolExecutor(max(1, min(os.cpu_count() or 1, 4))) as pool:
                await SummaryService(store, SummaryConfig()).precompute(recent, pool)
        finally:
            await store.close()
        print(
            f"{report.imported:,} articles imported in {imported:.0f} s; default summaries of "
            f"the {len(recent)} newest precomputed (as `newsbot import` does for all)"
        )
        texts = updates(args.updates, recent, rng)
        warmup = updates(len(USERS), recent, rng)  # each user's first contact, once
        latency = args.api_latency / 1000
        if args.metrics:
            await compare_metrics(url, texts, warmup, args, latency)
            return
        runs: dict[int, tuple[float, dict[str, list[float]], int, float]] = {}
        for concurrency in dict.fromkeys([args.concurrency, 1]):
            runs[concurrency] = await run_newsbot(
                url, texts, warmup, args.typing, concurrency, latency
            )
        echo_rate, echo_lat = await run_echo(texts, warmup, args.typing, latency)
        cold = await cold_summaries(url, rng.sample(recent, 51))
    print(
        f"\n{args.updates:,} commands from {len(USERS)} users, {args.typing} waiting for an "
        f"answer at any time; fake Bot API in its own process, {args.api_latency:g} ms added "
        f"per call; {args.articles:,} articles on SQLite\n"
    )
    print(f"{'':<26}{'updates/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'n':>8}")
    for concurrency, (rate, latencies, *_) in runs.items():
        print(line(f"newsbot, concurrency {concurrency}", rate, latencies["all"]))
        for command in ("/latest", "/summary"):
            print(line(f"  {command}", None, latencies[command]))
    print(line("echo bot (bare PTB)", echo_rate, echo_lat["all"]))
    print(line("summary cache miss", None, cold))
    rate, latencies, *_ = runs[args.concurrency]
    print(
        f"\nconcurrency {args.concurrency}: newsbot/echo throughput {rate / echo_rate:.2f} "
        f"(target >= 0.50), p99 {percentile(latencies['all'], 99):.1f} ms (target < 50); "
        f"refused or missing answers: {sum(run[2] for run in runs.values())}"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hook_costs(calls: int = 200_000) -> dict[str, float]:
    """Microseconds per call of the seams' recording functions, off and on (each update calls
    `update_handled` once and `store_query` a few times); the costs when on."""
    hooks = {
        "update_handled": lambda: metrics.update_handled("latest", 0.003),
        "store_query": lambda: metrics.store_query(False, 0.0002),
        "summary_lookup": lambda: metrics.summary_lookup("memory"),
    }
    empty = timeit.timeit(lambda: None, number=calls)
    costs: dict[str, float] = {}
    for on in (False, True):
        metrics.record(on)
        costs = {
            name: (timeit.timeit(hook, number=calls) - empty) / calls * 1e6
            for name, hook in hooks.items()
        }
        shown = ", ".join(f"{name} {cost:.2f} µs" for name, cost in costs.items())
        print(f"recording {'on ' if on else 'off'}: {shown}")
    metrics.record(False)
    return costs


def recorded() -> dict[str, float]:
    """Calls of each seam recorded so far in this process (from the registry's counts)."""

    def total(name: str) -> float:
        return sum(
            sample.value
            for family in REGISTRY.collect()
            for sample in family.samples
            if sample.name == name
        )

    return {
        "update_handled": total("newsbot_update_seconds_count"),
        "store_query": total("newsbot_store_query_seconds_count"),
        "summary_lookup": total("newsbot_summary_lookups_total"),
    }


async def compare_metrics(
    url: str, texts: list[str], warmup: list[str], args: argparse.Namespace, latency: float
) -> None:
    """The bot without and with `[metrics]`, in turns (off then on, on then off...), so that
    a change in the machine's load, or a run warming the caches for the next, hits both alike;
    the ratio of the medians."""
    costs = hook_costs()
    start = recorded()
    results: dict[bool, list[tuple[float, float, float, float]]] = {False: [], True: []}
    print(f"\n{'':<26}{'updates/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'CPU ms':>10}")
    for round_ in range(args.rounds):
        for on in (False, True) if round_ % 2 == 0 else (True, False):
            before = REGISTRY.get_sample_value("newsbot_updates_total", {"command": "latest"})
            rate, latencies, bad, cpu = await run_newsbot(
                url,
                texts,
                warmup,
                args.typing,
                args.concurrency,
                latency,
                metrics_port=free_port() if on else None,
            )
            after = REGISTRY.get_sample_value("newsbot_updates_total", {"command": "latest"})
            counted = (after or 0) - (before or 0)
            assert (counted > 0) == on, f"metrics recorded {counted} /latest with metrics={on}"
            assert bad == 0, f"{bad} answers refused or missing"
            lat = latencies["all"]
            results[on].append((rate, statistics.median(lat), percentile(lat, 99), cpu))
            name = f"round {round_ + 1}, metrics {'on' if on else 'off'}"
            print(
                f"{name:<26}{rate:>10,.0f}{statistics.median(lat):>10.2f}"
                f"{percentile(lat, 99):>10.2f}{cpu:>10.3f}"
            )
    off = [statistics.median(r[i] for r in results[False]) for i in range(4)]
    on_ = [statistics.median(r[i] for r in results[True]) for i in range(4)]
    print(
        f"\nmedians over {args.rounds} rounds, concurrency {args.concurrency}: metrics off "
        f"{off[0]:,.0f} updates/s (p50 {off[1]:.2f} ms, p99 {off[2]:.2f}, CPU {off[3]:.3f} ms "
        f"per update), on {on_[0]:,.0f} (p50 {on_[1]:.2f}, p99 {on_[2]:.2f}, CPU "
        f"{on_[3]:.3f}); on/off: throughput {on_[0] / off[0]:.3f}, p50 {on_[1] / off[1]:.3f}, "
        f"p99 {on_[2] / off[2]:.3f}, CPU per update {on_[3] / off[3]:.3f}"
    )
    # What recording costs by construction: the calls each update made, times their cost.
    calls = {name: count - start[name] for name, count in recorded().items()}
    updates = calls["update_handled"]
    per_update = sum(calls[name] / updates * costs[name] for name in calls)
    print(
        "recorded per update: "
        + ", ".join(f"{calls[name] / updates:.2f} {name}" for name in calls)
        + f" = {per_update:.1f} µs, {per_update / 10 / off[3]:.2f}% of the CPU per update"
    )
    # The least CPU a run took: what other work on the machine can only add to.
    least_off, least_on = (min(r[3] for r in results[on]) for on in (False, True))
    print(
        f"least CPU per update: off {least_off:.3f} ms, on {least_on:.3f} ms, "
        f"on/off {least_on / least_off:.3f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
