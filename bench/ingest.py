"""Ingest end to end: feeds -> pages -> extract -> summarize -> store + deliveries, in articles/s.

    python bench/ingest.py                       # 50 feeds x 50 entries, pipeline on one core
    python bench/ingest.py --feeds 10 --cores 0  # smaller, on every core
    python bench/ingest.py --store postgresql://postgres@127.0.0.1/newsbot_bench

A separate process serves the feeds and pages over HTTP on 127.0.0.1 (pinned to another core
when there is one, so serving costs the pipeline nothing). Each feed is an RSS 2.0 document of
`--entries` items whose description is only the one-sentence teaser of an article of
`../shared/data/orangesum-dev-fr.jsonl`; each item's page is a real page of
`../shared/data/pages-dev/` with its article body replaced by that article's text. So every
entry costs what a teaser costs in production: a feed parse share, a page fetch, an
extraction, a summary, a store write and its deliveries (20 chats subscribe to every
category). Titles carry a number so that no two of the 2,500 articles are duplicates.

The pipeline is the real one (`IngestPipeline`) with the shipped settings but for
`per_host_concurrency`: every feed here is on 127.0.0.1, where production feeds are on fifty
hosts. Feeds are ingested in batches of 10 so the RSS after each batch shows memory staying
flat as the run grows. Then a second run over every feed shows what an unchanged feed costs
(the server answers If-None-Match with 304).

Where the CPU goes comes from a second, profiling pass over `--profile-feeds` feeds: the same
pipeline with one feed and one page at a time and its CPU-bound steps run inline, so every
phase runs alone on one thread and the pipeline's timer (thread CPU time per phase) adds up to
the process's CPU time. Concurrent phases cannot be told apart that way, hence the separate
pass.

Target: >= 50 articles/s end to end on one core.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import multiprocessing
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from datetime import datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bot.clock import SystemClock  # noqa: E402
from bot.config import Config, FeedConfig, IngestConfig, StoreConfig  # noqa: E402
from bot.deliver.rules import PushRules  # noqa: E402
from bot.ingest.pipeline import IngestPipeline  # noqa: E402
from bot.models import NewArticle  # noqa: E402
from bot.store import SqlStore, open_store  # noqa: E402

# A benchmark is a program: the machine's clock, made once, as `newsbot` does.
CLOCK = SystemClock()

DATA = ROOT.parent / "shared" / "data"
_BODY_START, _BODY_END = "<!-- TEXTE -->", "</div><!-- articleBody -->"


# -- the server (its own process) ---------------------------------------------------------------


def load_data(data: Path) -> tuple[list[dict[str, Any]], list[tuple[str, str, str]]]:
    """The articles, and page templates (head, tail, title to replace) cut from real pages."""
    records_file, pages = data / "orangesum-dev-fr.jsonl", data / "pages-dev"
    if not records_file.is_file() or not (pages / "index.jsonl").is_file():
        sys.exit(f"error: {data} lacks orangesum-dev-fr.jsonl or pages-dev/; pass --data DIR")
    with records_file.open(encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    templates = []
    with (pages / "index.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            page = json.loads(line)
            source = (pages / f"{page['id']}.html").read_text(encoding="utf-8")
            start, end = source.find(_BODY_START), source.find(_BODY_END)
            if 0 < start < end:
                head = source[: start + len(_BODY_START)]
                templates.append((head, source[end:], page["title"]))
    return records, templates


class Site:
    """Feeds and pages, rendered on request from the articles and templates."""

    def __init__(self, data: Path, feeds: int, entries: int, base: str) -> None:
        self.records, self.templates = load_data(data)
        self.feeds, self.entries, self.base = feeds, entries, base

    def record(self, feed: int, item: int) -> dict[str, Any]:
        return self.records[(feed * self.entries + item) % len(self.records)]

    def title(self, feed: int, item: int) -> str:
        title = " ".join(self.record(feed, item)["title"].split())
        return f"{title} (n° {feed * self.entries + item + 1})"

    def feed(self, feed: int) -> bytes:
        items = []
        for item in range(self.entries):
            record = self.record(feed, item)
            link = f"{self.base}/p/{feed}/{item}.html"
            when = format_datetime(_published(item))
            items.append(
                f"<item><title>{html.escape(self.title(feed, item))}</title><link>{link}</link>"
                f"<guid>{link}</guid><pubDate>{when}</pubDate>"
                f"<category>{html.escape(record['section'] or 'France')}</category>"
                f"<description>{html.escape(record['reference'])}</description></item>"
            )
        return (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>Bench feed {feed}</title><link>{self.base}/</link><description>x"
            f"</description>{''.join(items)}</channel></rss>"
        ).encode()

    def page(self, feed: int, item: int) -> bytes:
        record = self.record(feed, item)
        head, tail, old = self.templates[(feed * self.entries + item) % len(self.templates)]
        new = html.escape(self.title(feed, item))
        # The pages spell their title raw, fully escaped, or with only its quotes escaped.
        spellings = {old, html.escape(old), html.escape(old, quote=False)}
        spellings.add(old.replace('"', "&quot;"))
        for spelling in sorted(spellings, key=len, reverse=True):
            head, tail = head.replace(spelling, new), tail.replace(spelling, new)
        paragraphs = "<br/><br/>\n".join(html.escape(p) for p in record["text"].split("\n") if p)
        body = f"<p><strong>{html.escape(record['reference'])}</strong><br/><br/>\n{paragraphs}</p>"
        return (head + body + tail).encode()


def serve(data: Path, feeds: int, entries: int, port_out: Any, core: int | None) -> None:
    """The server process: answers until killed."""
    if core is not None:
        os.sched_setaffinity(0, {core})
    site: Site | None = None

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes: with Nagle on, the body waits for the
        # client's delayed ACK of the headers (40 ms per request on Linux loopback).
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            assert site is not None
            parts = self.path.strip("/").split("/")
            try:
                if parts[0] == "feed":
                    number = int(parts[1].removesuffix(".xml"))
                    etag = f'"feed-{number}"'
                    if self.headers.get("If-None-Match") == etag:
                        self._send(304, b"", "application/rss+xml", etag)
                        return
                    self._send(200, site.feed(number), "application/rss+xml", etag)
                elif parts[0] == "p":
                    page = site.page(int(parts[1]), int(parts[2].removesuffix(".html")))
                    self._send(200, page, "text/html; charset=utf-8")
                else:
                    self._send(404, b"", "text/plain")
            except (ValueError, IndexError):
                self._send(404, b"", "text/plain")

        def _send(self, status: int, body: bytes, kind: str, etag: str | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            if etag:
                self.send_header("ETag", etag)
            if status != 304:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if status != 304:
                self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    site = Site(data, feeds, entries, f"http://127.0.0.1:{httpd.server_address[1]}")
    port_out.send(httpd.server_address[1])
    httpd.serve_forever()


def _published(item: int) -> datetime:
    """A live feed's dates: the last hours (the data's own dates are years old, and the store
    pushes nothing published more than two days before it arrives)."""
    return CLOCK.now() - timedelta(minutes=item)


# -- the pipeline (this process) -----------------------------------------------------------------


def rss_mb() -> float:
    """Resident memory now, in MB (Linux /proc; ru_maxrss elsewhere)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_mb()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class InlineExecutor(Executor):
    """Runs each call at once on the calling thread: the profiling pass, where every phase
    runs one after the other on one thread, so its CPU time is exactly that phase's."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


def bench_config(base: str, store_url: str, feeds: range) -> Config:
    return Config(
        store=StoreConfig(url=store_url),
        ingest=IngestConfig(per_host_concurrency=8, timeout_seconds=60),
        # No configured category: each entry's own <category> is used.
        feeds=tuple(FeedConfig(f"{base}/feed/{n}.xml", "", "fr") for n in feeds),
    )


async def open_subscribed_store(store_url: str, data: Path) -> tuple[SqlStore, int]:
    """The store with 20 chats subscribed to every category; and how many seed articles."""
    store = await open_store(store_url, clock=CLOCK, rules=PushRules())
    sections = sorted({r["section"] or "France" for r in load_data(data)[0]})
    await store.add_articles(
        [NewArticle(title=f"Seed {s}", text=f"Seed {s}.", category=s) for s in sections]
    )
    for chat in range(1, 21):
        await store.upsert_chat(chat)
        for section in sections:
            await store.subscribe(chat, section)
    return store, await store.count_articles()


async def throughput(args: argparse.Namespace, base: str, store_url: str) -> None:
    """The real pipeline, feeds concurrently: articles/s, and RSS after each 10 feeds."""
    config = bench_config(base, store_url, range(args.feeds))
    store, seeded = await open_subscribed_store(store_url, args.data)
    stored = 0
    print(f"{'feeds':>5} {'articles':>8} {'seconds':>8} {'art/s':>7} {'RSS MB':>7}")
    async with IngestPipeline(store, config, clock=CLOCK) as pipeline:
        await pipeline.sync_feeds()
        all_feeds = await store.list_feeds()
        started, cpu = time.perf_counter(), time.process_time()
        for first in range(0, len(all_feeds), 10):
            batch = [feed.id for feed in all_feeds[first : first + 10]]
            report = await pipeline.run(feed_ids=batch)
            stored += report.new
            elapsed = time.perf_counter() - started
            print(
                f"{first + len(batch):>5} {stored:>8} {elapsed:>8.1f} {stored / elapsed:>7.1f} "
                f"{rss_mb():>7.0f}"
            )
        total, cpu = time.perf_counter() - started, time.process_time() - cpu

        again_started = time.perf_counter()
        again = await pipeline.run(include_not_due=True)
        again_seconds = time.perf_counter() - again_started
    stats = await store.stats()
    await store.close()
    assert stats.articles == seeded + stored
    expected = args.feeds * args.entries
    print()
    print(
        f"end to end: {stored} articles in {total:.1f}s = {stored / total:.1f} articles/s "
        f"on {len(os.sched_getaffinity(0))} core(s) (target >= 50); "
        f"{cpu / max(stored, 1) * 1000:.1f} ms CPU per article"
        + ("" if stored == expected else f"  [expected {expected}]")
    )
    print(f"deliveries queued: {stats.deliveries.get('pending', 0)}; peak RSS {peak_mb():.0f} MB")
    print(
        f"second run, every feed unchanged: {len(again.feeds)} feeds in {again_seconds:.2f}s, "
        f"{again.new} new, "
        f"{sum(1 for f in again.feeds if f.status == 'not modified')} answered 304"
    )


async def profile(args: argparse.Namespace, base: str, store_url: str) -> None:
    """The same work one entry at a time on one thread: where the CPU goes, per phase."""
    config = bench_config(base, store_url, range(args.profile_feeds))
    store, _ = await open_subscribed_store(store_url, args.data)
    # Process CPU per phase: with one thing at a time it is exact, and it also counts the
    # store's database work, which runs on the store's own thread while the phase awaits it.
    pipeline = IngestPipeline(
        store,
        config,
        clock=CLOCK,
        executor=InlineExecutor(),
        feed_concurrency=1,
        page_concurrency=1,
        cpu_clock=time.process_time,
    )
    async with pipeline:
        cpu = time.process_time()
        report = await pipeline.run()
        cpu = time.process_time() - cpu
    await store.close()
    phases = dict(report.phases_cpu)
    phases["(event loop, HTTP and DB drivers between phases)"] = cpu - sum(phases.values())
    per = 1000 / max(report.new, 1)
    print()
    print(f"CPU per phase, {report.new} articles processed one at a time on one thread:")
    print(f"{'phase':<50} {'ms/article':>10} {'share':>6}")
    for phase, seconds in sorted(phases.items(), key=lambda item: -item[1]):
        if seconds >= 0.0005:
            print(f"{phase:<50} {seconds * per:>10.2f} {seconds / cpu:>6.1%}")
    print(f"{'total':<50} {cpu * per:>10.2f} {1:>6.0%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--entries", type=int, default=50)
    parser.add_argument("--cores", type=int, default=1, help="cores for the pipeline (0: all)")
    parser.add_argument("--data", type=Path, default=DATA, help="../shared/data by default")
    parser.add_argument("--store", help="database URL (default: a temporary SQLite file)")
    parser.add_argument(
        "--profile-feeds",
        type=int,
        default=4,
        help="feeds of the one-thread profiling pass (0: skip it)",
    )
    args = parser.parse_args()
    load_data(args.data)  # fail early with a clear message

    cpus = sorted(os.sched_getaffinity(0))
    server_core = cpus[-1] if len(cpus) > 1 and args.cores else None
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    server = context.Process(
        target=serve, args=(args.data, args.feeds, args.entries, send, server_core), daemon=True
    )
    server.start()
    port = receive.recv()
    if args.cores:
        usable = [c for c in cpus if c != server_core] or cpus
        os.sched_setaffinity(0, set(usable[: args.cores]))
    base = f"http://127.0.0.1:{port}"
    try:
        with tempfile.TemporaryDirectory() as scratch:
            url = args.store or f"sqlite+aiosqlite:///{Path(scratch) / 'bench.db'}"
            asyncio.run(throughput(args, base, url))
            if args.profile_feeds:
                profiled = f"sqlite+aiosqlite:///{Path(scratch) / 'profile.db'}"
                asyncio.run(profile(args, base, profiled))
    finally:
        server.kill()


if __name__ == "__main__":
    main()
