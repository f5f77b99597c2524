"""Broadcast benchmark: one new article to 10,000 subscribed chats, at Telegram's 30 messages/s
and at 1,000/s (paid broadcasts), through the real sender.

    python bench/broadcast.py                      # 10,000 chats, 30/s then 1,000/s (~6 min)
    python bench/broadcast.py --rates 1000 --chats 2000 --profile
    python bench/broadcast.py --rates 1000 --connections 4     # what-if: a smaller HTTP pool
    python bench/broadcast.py --rates 30 --posts photo,text    # picture posts vs text posts

`--posts photo` (the default) gives the article a lead picture, served on 127.0.0.1 by this
process: every chat gets it by `sendPhoto` with the post as caption, as a chat with the default
format does; the fake Bot API fetches the picture once, as Telegram caches it. `text` is the
same article without a picture (sendMessage): run both for a baseline in the same run.

The store is SQLite in a temporary directory: `--chats` chats (one in ten a group, negative id),
each subscribed to one category through the store's API, then ONE article of that category added
with `store.add_articles`, which queues a delivery per chat in its transaction (timed). The bot
side is production's: `bot.app.Runtime` opens the store and the services, and the sender is
started as `Runtime.start_sender` does (`open_outbox`: a PTB `Bot` of its own, without PTB's
`AIORateLimiter`, so the sender's own `SendLimiter` is what is measured), with `[delivery]
messages_per_second` = each of `--rates`, until every delivery is sent.

The fake Bot API (tests/fakebotapi.py, validating every message) runs in a process of its own on
127.0.0.1 with no added latency, and enforces Telegram's flood limits as Telegram would: a
sendMessage is refused with 429 and a `retry_after` when the server already accepted the
configured rate of messages in the last second (a sliding window: 30 in the 30/s run, 1,000 in
the paid one, but 30 for a message that does not say `allow_paid_broadcast`, as Telegram),
one in the last second to that private chat, or 20 in the last minute to that group. It
timestamps every accepted message on arrival: the rate achieved is (messages - 1) /
(last arrival - first arrival). Targets: at 30/s, at least 95% of the configured rate, no 429
provoked, no chat served twice and none missed; at 1,000/s, the highest rate reached, and where
the time goes: every 2 ms a sampling thread of the bot's process notes what each thread is
running (event loop idle in select, SQLAlchemy + SQLite, httpx, PTB, newsbot's modules...),
and the sender's phases are timed (claim, render, HTTP round trip, finish write, limiter wait).
CPU seconds of the bot's and of the fake API's processes, and their peak RSS, are shown too;
`--profile` adds a cProfile of the event loop thread over one more run of the last rate (by
own time, then by cumulative time).
`--connections` sets the size of the sender's HTTP connection pool (`bot.chat.outbox.
SENDER_CONNECTIONS`, and the messages it keeps in flight) to see what it costs. CPU time per
accepted message is shown for both processes: on a machine shared with other work the rate
follows the CPU the processes get, the CPU per message much less.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import http.server
import importlib.util
import io
import json
import math
import multiprocessing
import pstats
import resource
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.app import Runtime  # noqa: E402
from bot.chat import outbox as outbox_module  # noqa: E402
from bot.chat.outbox import FREE_BROADCAST_RATE, open_outbox, paid_broadcast  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.config import (  # noqa: E402
    Config,
    DeliveryConfig,
    StoreConfig,
    SummaryConfig,
    TelegramConfig,
)
from bot.deliver.rules import PushRules  # noqa: E402
from bot.deliver.sender import MAX_IN_FLIGHT, Sender  # noqa: E402
from bot.models import NewArticle  # noqa: E402
from bot.services.summaries import SummaryService  # noqa: E402
from bot.store import open_store  # noqa: E402

# A benchmark is a program: the machine's clock, made once, as `newsbot` does.
CLOCK = SystemClock()
from tests.fakebotapi import FakeBotAPI, asks_paid_broadcast  # noqa: E402

CATEGORY = "Économie"
GROUP_SHARE = 10  # one chat in ten is a group
SAMPLE_EVERY = 0.002  # seconds between two samples of the bot's threads


def _load_store_bench() -> Any:
    """bench/store.py as a module, for its `DATA` (bench is no package)."""
    spec = importlib.util.spec_from_file_location("bench_store", ROOT / "bench" / "store.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the fake Bot API, with Telegram's flood limits ------------------------------------------------


class RemoteAPI:
    """The fake Bot API in a process of its own, as Telegram is: its work does not compete with
    the bot for the GIL. It refuses what exceeds `overall` messages/s or the per-chat limits."""

    def __init__(self, overall: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve_api, args=(child, overall), daemon=True)
        self._process.start()
        if not self._conn.poll(60):
            raise RuntimeError("the fake Bot API process did not start")
        self.base_url, self.token = self._conn.recv()

    def results(self) -> dict[str, Any]:
        """Arrival times and chat ids of accepted messages, refusals by reason, CPU and RSS."""
        self._conn.send(("results",))
        found: dict[str, Any] = self._conn.recv()
        return found

    def close(self) -> None:
        self._conn.send(("stop",))
        self._process.join(10)


def _serve_api(conn: Any, overall: int) -> None:
    api = FakeBotAPI(record_calls=False).start()
    started = resource.getrusage(resource.RUSAGE_SELF)
    conn.send((api.base_url, api.token))
    lock = threading.Lock()
    window: collections.deque[float] = collections.deque()  # accepted in the last second
    private_last: dict[int, float] = {}
    group_recent: dict[int, collections.deque[float]] = {}
    arrivals: list[float] = []
    chat_ids: list[int] = []
    texts: collections.Counter[str] = collections.Counter()
    refused: collections.Counter[str] = collections.Counter()
    methods: collections.Counter[str] = collections.Counter()  # accepted, by method
    original = api.handle

    def too_many(reason: str, wait: float) -> tuple[int, Any]:
        refused[reason] += 1
        seconds = max(1, math.ceil(wait))
        return 429, {
            "ok": False,
            "error_code": 429,
            "description": f"Too Many Requests: retry after {seconds}",
            "parameters": {"retry_after": seconds},
        }

    def handle(token: str, method: str, params: dict[str, Any]) -> tuple[int, Any]:
        if method not in ("sendMessage", "sendPhoto"):
            return original(token, method, params)
        with lock:  # FakeBotAPI serializes its calls anyway
            now = time.monotonic()
            chat_id = int(params["chat_id"])
            while window and window[0] <= now - 1.0:
                window.popleft()
            # Telegram's free 30/s, unless the message asks for a paid broadcast (up to 1,000/s).
            limit = overall if asks_paid_broadcast(params) else min(overall, FREE_BROADCAST_RATE)
            if len(window) >= limit:
                return too_many("overall", window[0] + 1.0 - now)
            if chat_id > 0:
                last = private_last.get(chat_id)
                if last is not None and now - last < 1.0:
                    return too_many("private chat", last + 1.0 - now)
            else:
                recent = group_recent.setdefault(chat_id, collections.deque())
                while recent and recent[0] <= now - 60.0:
                    recent.popleft()
                if len(recent) >= 20:
                    return too_many("group", recent[0] + 60.0 - now)
            status, payload = original(token, method, params)
            if status == 200:
                window.append(now)
                if chat_id > 0:
                    private_last[chat_id] = now
                else:
                    group_recent[chat_id].append(now)
                arrivals.append(now)
                chat_ids.append(chat_id)
                methods[method] += 1
                texts[str(params.get("text") or params.get("caption") or "")[:80]] += 1
            else:
                refused[f"{status} {payload.get('description', '')}"] += 1
            return status, payload

    api.handle = handle  # type: ignore[method-assign]
    while True:
        message = conn.recv()
        if message[0] == "results":
            with lock:
                usage = resource.getrusage(resource.RUSAGE_SELF)
                conn.send(
                    {
                        "arrivals": list(arrivals),
                        "chat_ids": list(chat_ids),
                        "texts": dict(texts),
                        "refused": dict(refused),
                        "methods": dict(methods),
                        "cpu": usage.ru_utime + usage.ru_stime,
                        "serving_cpu": usage.ru_utime
                        + usage.ru_stime
                        - started.ru_utime
                        - started.ru_stime,
                        "rss_mb": usage.ru_maxrss / 1024,
                    }
                )
        else:
            api.stop()
            return


# -- the article's picture, served on loopback ---------------------------------------------------


class PictureServer:
    """A PNG at http://127.0.0.1:<port>/lead.png, for the fake Bot API to fetch."""

    PNG = b"\x89PNG\r\n\x1a\n" + bytes(2048)

    def __enter__(self) -> PictureServer:
        body = self.PNG

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/lead.png"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


# -- where the time goes -------------------------------------------------------------------------


@dataclass
class Phase:
    calls: int = 0
    seconds: float = 0.0


@dataclass
class Phases:
    """Wall time of the sender's steps, summed over the concurrent chat tasks."""

    by_name: dict[str, Phase] = field(default_factory=lambda: collections.defaultdict(Phase))
    # (time.monotonic(), chat id) each time the limiter let a message go: the bot's schedule,
    # on the clock of the server's arrivals (CLOCK_MONOTONIC is the same in both processes).
    released: list[tuple[float, int]] = field(default_factory=list)

    def wrap(self, name: str, fn: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                phase = self.by_name[name]
                phase.calls += 1
                phase.seconds += time.perf_counter() - t0

        return timed

    def instrument(self, target: object, method: str, name: str) -> None:
        """Time every call of `target.method` as phase `name`."""
        setattr(target, method, self.wrap(name, getattr(target, method)))


_BUCKETS = (  # path fragment -> bucket, checked from the innermost frame outwards
    ("/sqlalchemy/", "SQLAlchemy + SQLite"),
    ("/sqlite3/", "SQLAlchemy + SQLite"),
    ("/httpx/", "httpx / httpcore / h11"),
    ("/httpcore/", "httpx / httpcore / h11"),
    ("/h11/", "httpx / httpcore / h11"),
    ("/anyio/", "httpx / httpcore / h11"),
    ("/telegram/", "PTB (building requests, parsing answers)"),
)


def most_in_one_second(times: list[float]) -> int:
    """Most of `times` (sorted) in any one second, as a sliding window."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


def _bucket(frame: FrameType | None, worker: bool) -> str:
    """What a thread is doing, from its innermost Python frame outwards."""
    if frame is None:
        return "idle"
    inner = frame.f_code.co_filename
    if inner.endswith("selectors.py"):
        return "idle (waiting in select)"
    if worker and inner.endswith(("threading.py", "queue.py", "futures/thread.py")):
        return "idle"
    bot_dir = str(ROOT / "bot")
    while frame is not None:
        path = frame.f_code.co_filename
        for fragment, name in _BUCKETS:
            if fragment in path:
                return name
        if path.startswith(bot_dir):
            module = path[len(str(ROOT)) + 1 :].removesuffix(".py").replace("/", ".")
            return f"{module}.{frame.f_code.co_name}"
        if "/asyncio/" in path:
            return f"asyncio ({Path(path).stem}.{frame.f_code.co_name})"
        frame = frame.f_back
    return "other"


class Sampler:
    """Every `SAMPLE_EVERY` s, what the event loop thread and the store's threads run."""

    def __init__(self) -> None:
        self.main: collections.Counter[str] = collections.Counter()
        self.db: collections.Counter[str] = collections.Counter()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._main_id = threading.get_ident()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        names = {}
        while not self._stop.wait(SAMPLE_EVERY):
            frames = sys._current_frames()
            self.samples += 1
            for ident, frame in frames.items():
                if ident == self._main_id:
                    self.main[_bucket(frame, False)] += 1
                    continue
                if ident not in names:
                    thread = next((t for t in threading.enumerate() if t.ident == ident), None)
                    names[ident] = thread.name if thread else ""
                if names[ident].startswith("newsbot-db"):
                    self.db[_bucket(frame, True)] += 1


# -- one run -------------------------------------------------------------------------------------


@dataclass
class Run:
    kind: str
    rate: float
    chats: int
    queue_seconds: float
    queued: int
    results: dict[str, Any]
    elapsed: float
    counts: dict[str, int]
    stats: Any
    phases: Phases
    sampler: Sampler
    cpu: float

    @property
    def arrivals(self) -> list[float]:
        return list(self.results["arrivals"])

    @property
    def achieved(self) -> float:
        times = self.arrivals
        if len(times) < 2:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    @property
    def span(self) -> float:
        times = self.arrivals
        return times[-1] - times[0] if times else 0.0

    @property
    def duplicates(self) -> int:
        per_chat = collections.Counter(self.results["chat_ids"])
        return sum(n - 1 for n in per_chat.values() if n > 1)

    @property
    def missing(self) -> int:
        return self.chats - len(set(self.results["chat_ids"]))

    @property
    def flood(self) -> int:
        return sum(n for reason, n in self.results["refused"].items() if not reason[0].isdigit())

    def transit(self) -> list[float]:
        """Seconds from the limiter's release to the server's arrival, per accepted message."""
        last: dict[int, float] = {}
        released = iter(self.phases.released)
        pending = next(released, None)
        found = []
        for arrival, chat_id in zip(self.arrivals, self.results["chat_ids"], strict=True):
            while pending is not None and pending[0] <= arrival:
                last[pending[1]] = pending[0]
                pending = next(released, None)
            if chat_id in last:
                found.append(arrival - last[chat_id])
        return sorted(found)


async def build_template(path: Path, chats: int) -> tuple[float, int]:
    """A store with `chats` chats subscribed to CATEGORY, through the store's API; the time it
    took, and the id of the seed article that created the category."""
    store = await open_store(f"sqlite+aiosqlite:///{path}", clock=CLOCK, rules=PushRules())
    t0 = time.perf_counter()
    try:
        seed = await store.add_articles(
            [
                NewArticle(
                    title="Ouverture de la rubrique", text="Premier article.", category=CATEGORY
                )
            ]
        )
        ids = [
            -(1_000_000_000_000 + i) if i % GROUP_SHARE == 0 else 100_000 + i for i in range(chats)
        ]

        async def join(chat_id: int) -> None:
            await store.upsert_chat(chat_id, language="fr")
            await store.subscribe(chat_id, CATEGORY)

        for start in range(0, len(ids), 64):  # 64 at a time: the store's threads stay busy
            await asyncio.gather(*(join(chat_id) for chat_id in ids[start : start + 64]))
    finally:
        await store.close()
    return time.perf_counter() - t0, seed.ids[0]


async def run_once(
    template: Path,
    tmp: Path,
    rate: float,
    chats: int,
    article: dict[str, Any],
    profile: cProfile.Profile | None = None,
    connections: int = 0,
    kind: str = "text",
) -> Run:
    """Copy the template store, queue one article to every chat, send it at `rate`."""
    db = tmp / f"broadcast-{rate:g}-{kind}.db"
    shutil.copyfile(template, db)
    url = f"sqlite+aiosqlite:///{db}"
    api = RemoteAPI(overall=int(rate))
    try:
        config = Config(
            telegram=TelegramConfig(token=api.token, api_base_url=api.base_url),
            store=StoreConfig(url=url),
            delivery=DeliveryConfig(messages_per_second=rate),
        )
        runtime = Runtime(config, clock=CLOCK)
        services = await runtime.open()
        store = runtime.store
        t0 = time.perf_counter()
        added = await store.add_articles([NewArticle(**article)])
        queue_seconds = time.perf_counter() - t0
        # The default summary is computed before the article is stored by `newsbot run`'s
        # ingest; here, right after, but before anything is sent.
        await SummaryService(store, SummaryConfig()).precompute(added.ids)

        phases = Phases()
        phases.instrument(store, "claim_deliveries", "claim (SQL)")
        phases.instrument(store, "finish_deliveries", "finish (SQL write)")
        phases.instrument(store, "categories", "categories (SQL read)")
        # What `Runtime.start_sender` does (its own Bot, no PTB rate limiter), instrumented.
        assert services.subscriptions is not None
        if connections:  # a what-if: the sender's Bot with another connection pool size
            outbox_module.SENDER_CONNECTIONS = connections
        outbox: Any = await open_outbox(
            config.telegram,
            services.articles,
            services.chats,
            services.subscriptions,
            paid_broadcast=paid_broadcast(rate),
        )
        sender = Sender(
            store,
            outbox,
            config.delivery,
            clock=CLOCK,
            in_flight=connections or MAX_IN_FLIGHT,
        )
        phases.instrument(outbox, "send_article", "send_article (all)")
        phases.instrument(outbox, "_attempt", "HTTP round trip (PTB)")
        acquire = phases.wrap("limiter wait", sender.limiter.acquire)

        async def released(chat_id: int) -> Any:
            send = await acquire(chat_id)
            phases.released.append((time.monotonic(), chat_id))
            return send

        sender.limiter.acquire = released  # type: ignore[method-assign]
        sampler = Sampler()
        cpu0 = time.process_time()
        started = time.perf_counter()
        sampler.start()
        if profile is not None:
            profile.enable()
        sender.start()
        stats = sender.stats
        deadline = started + chats / rate * 3 + 60
        while stats.sent + stats.failed + stats.unconfirmed + stats.deactivated < added.queued:
            if time.perf_counter() > deadline:
                print(f"timed out; stats: {stats}", file=sys.stderr)
                break
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        if profile is not None:
            profile.disable()
        await sender.stop()
        sampler.stop()
        cpu = time.process_time() - cpu0
        await outbox.close()
        await runtime.close()
        runtime_counts = await _counts(url)
        results = api.results()
    finally:
        api.close()
    return Run(
        kind, rate, chats, queue_seconds, added.queued, results, elapsed, runtime_counts, stats,
        phases, sampler, cpu,
    )  # fmt: skip


async def _counts(url: str) -> dict[str, int]:
    store = await open_store(url, clock=CLOCK, rules=PushRules())
    try:
        return dict((await store.stats()).deliveries)
    finally:
        await store.close()


# -- report --------------------------------------------------------------------------------------


def pct(values: list[float], p: float) -> float:
    if not values:
        return math.nan
    return values[min(len(values) - 1, max(0, round(p / 100 * len(values)) - 1))]


def report(run: Run) -> None:
    released = sorted(t for t, _ in run.phases.released)
    transit = [t * 1000 for t in run.transit()]
    refused = ", ".join(f"{n} {why}" for why, n in run.results["refused"].items())
    stats = run.stats
    bot_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\n== {run.kind} posts, {run.rate:,.0f} messages/s configured, {run.chats:,} chats ==")
    achieved = f"{run.achieved:,.1f}/s = {run.achieved / run.rate:.1%} of {run.rate:,.0f}"
    peaks = f"{most_in_one_second(released):,} / {most_in_one_second(run.arrivals):,}"
    p50, p99, top = pct(transit, 50), pct(transit, 99), pct(transit, 100)
    outcomes = f"{stats.failed} / {stats.unconfirmed} / {stats.retried}"
    sent = max(1, len(run.arrivals))
    cpu = (
        f"{run.cpu:,.1f} (while sending) / {run.results['serving_cpu']:,.1f} (serving; "
        f"{run.results['cpu']:,.1f} with its start)"
    )
    per_message = (
        f"{run.cpu / sent * 1e3:.2f} ms / {run.results['serving_cpu'] / sent * 1e3:.2f} ms"
    )
    queued = f"{run.queued:,} in {run.queue_seconds * 1e3:,.0f} ms"
    methods = run.results.get("methods", {})
    photos = f"{methods.get('sendPhoto', 0):,} / {methods.get('sendMessage', 0):,}"
    rows = [
        ("deliveries queued (add_articles)", queued),
        ("messages accepted by the API", f"{len(run.arrivals):,}"),
        ("accepted sendPhoto / sendMessage", photos),
        ("first to last arrival", f"{run.span:,.2f} s"),
        ("achieved rate", achieved),
        ("most in any 1 s: released/arrived", peaks),
        ("release to arrival p50/p99/max", f"{p50:.1f} / {p99:.1f} / {top:.1f} ms"),
        ("sender start to all sent", f"{run.elapsed:,.2f} s"),
        ("429s provoked", f"{run.flood}" + (f" ({refused})" if refused else "")),
        ("duplicates / missing chats", f"{run.duplicates} / {run.missing}"),
        ("failed / unconfirmed / retried", outcomes),
        ("queue at the end", json.dumps(run.counts)),
        ("CPU s: bot / fake API", cpu),
        ("CPU per accepted message", per_message),
        ("peak RSS: bot / fake API", f"{bot_rss:,.0f} MB / {run.results['rss_mb']:,.0f} MB"),
    ]
    for name, value in rows:
        print(f"  {name:<34}{value}")
    print(f"  {'sender phase (wall, overlapping)':<34}{'calls':>8}{'mean ms':>10}{'sum s':>9}")
    for name, phase in run.phases.by_name.items():
        mean = phase.seconds / phase.calls * 1000 if phase.calls else 0.0
        print(f"  {name:<34}{phase.calls:>8,}{mean:>10.2f}{phase.seconds:>9.1f}")
    samples = max(1, run.sampler.samples)
    print(f"  event loop thread, {samples:,} samples (one every {SAMPLE_EVERY * 1000:g} ms):")
    for name, count in run.sampler.main.most_common(8):
        print(f"    {count / samples:>6.1%}  {name}")
    busy = sum(n for name, n in run.sampler.db.items() if not name.startswith("idle"))
    print(f"  store threads: {busy / samples:.2f} busy on average")
    for name, count in run.sampler.db.most_common(3):
        if not name.startswith("idle"):
            print(f"    {count / samples:>6.1%}  {name}")


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=" ".join(__doc__.split("\n\n")[0].split()),
        epilog="example: python bench/broadcast.py --rates 1000 --chats 2000",
    )
    parser.add_argument("--chats", type=int, default=10_000, help="subscribed chats (10,000)")
    parser.add_argument(
        "--rates",
        default="30,1000",
        help="messages_per_second of each run, comma-separated (default: 30,1000)",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=0,
        help="a what-if: the sender's HTTP connection pool size instead of the product's "
        f"SENDER_CONNECTIONS ({outbox_module.SENDER_CONNECTIONS})",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile the event loop thread (cProfile) during the last run; slows it down",
    )
    parser.add_argument(
        "--posts",
        default="photo",
        help="kinds of post, comma-separated: photo (a picture with the post as caption) and/or "
        "text (default: photo)",
    )
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    kinds = [k.strip() for k in args.posts.split(",") if k.strip()]
    if not kinds or set(kinds) - {"photo", "text"}:
        parser.error("--posts takes photo, text or both")
    data = _load_store_bench().DATA
    if data.exists():
        with data.open(encoding="utf-8") as rows:
            source = json.loads(next(rows))
    else:
        source = {"title": "Un article", "text": "Une phrase. " * 40, "url": None, "author": None}
    article = {
        "title": source["title"],
        "text": source["text"],
        "url": source.get("url") or "https://example.org/article",
        "author": source.get("author") or None,
        "category": CATEGORY,
        "language": "fr",
    }
    with tempfile.TemporaryDirectory() as tmp_name, PictureServer() as picture:
        tmp = Path(tmp_name)
        template = tmp / "template.db"
        built, _ = await build_template(template, args.chats)
        pool = args.connections or outbox_module.SENDER_CONNECTIONS
        print(
            f"{args.chats:,} chats ({100 // GROUP_SHARE}% groups) subscribed to {CATEGORY!r} "
            f"through upsert_chat + subscribe in {built:.1f} s. Fake Bot API in its own process, "
            f"no latency, Telegram's flood limits enforced; the sender's Bot has {pool} "
            "HTTP connections"
        )
        runs = []
        for rate in rates:
            for kind in kinds:
                posted = {**article, "image": picture.url if kind == "photo" else None}
                runs.append(
                    await run_once(
                        template, tmp, rate, args.chats, posted, None, args.connections, kind
                    )
                )
        if args.profile:
            profile = cProfile.Profile()
            posted = {**article, "image": picture.url if kinds[-1] == "photo" else None}
            await run_once(
                template, tmp, rates[-1], args.chats, posted, profile, args.connections, kinds[-1]
            )
            out = io.StringIO()
            stats = pstats.Stats(profile, stream=out)
            stats.sort_stats("tottime").print_stats(45)
            stats.sort_stats("cumulative").print_stats(60)
    for run in runs:
        report(run)
    if args.profile:
        print(f"\n== event loop thread under cProfile, {rates[-1]:,.0f}/s run (slower) ==")
        print(out.getvalue())
    print()
    for run in runs:
        verdict = ""
        if run.rate <= 30:
            ok = (
                run.achieved >= 0.95 * run.rate
                and not run.flood
                and not run.duplicates
                and not run.missing
            )
            verdict = "; target >= 95%, no 429, no duplicate, none missing: " + (
                "met" if ok else "NOT met"
            )
        print(
            f"{run.kind:>5} posts, {run.rate:>7,.0f}/s configured: {run.achieved:,.1f}/s achieved "
            f"({run.achieved / run.rate:.1%}), {run.flood} 429s, {run.duplicates} duplicates, "
            f"{run.missing} missing{verdict}"
        )


if __name__ == "__main__":
    asyncio.run(main())
