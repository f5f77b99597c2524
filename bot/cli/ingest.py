"""`newsbot ingest` and `newsbot feeds ...`.

Output is plain lines on stdout; what goes wrong for one feed is a line of the report, never a
traceback. The pipeline, the store and the feed service are imported inside the handlers, for
the start-up speed of the other commands (trafilatura, feedparser, httpx, SQLAlchemy; see
bot/cli/_common.py).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.cli._common import EXIT_FAILED, EXIT_OK, open_configured_store, out, subcommand
from bot.cli._progress import TerminalProgress, add_quiet_argument
from bot.clock import Clock
from bot.config import Config
from bot.errors import FeedError
from bot.models import Feed

if TYPE_CHECKING:
    from bot.ingest.pipeline import IngestPipeline, IngestReport
    from bot.services.feeds import FeedService
    from bot.store.contract import ArticleStore

# Between two runs of `newsbot ingest` without --once: at least this long (a feed failing
# at once must not spin the loop), at most this long (feeds added meanwhile are seen soon).
MIN_SLEEP, MAX_SLEEP = timedelta(seconds=5), timedelta(minutes=1)


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`ingest` and `feeds`."""
    ingest = subcommand(
        subparsers,
        "ingest",
        cmd_ingest,
        "Fetch the feeds into the store: new articles with their full text, default summary "
        "and deliveries; --once fetches what is due, reports per feed and exits.",
        "newsbot ingest --once --all",
    )
    add_ingest_arguments(ingest)
    feeds = subcommand(
        subparsers,
        "feeds",
        cmd_feeds,
        "Manage the feeds: list (with failures and why), add, remove, enable, OPML import "
        "and export.",
        "newsbot feeds add https://www.lemonde.fr/sport/rss_full.xml Sport --language fr",
    )
    add_feeds_arguments(feeds)


# -- newsbot ingest ---------------------------------------------------------------------------


def add_ingest_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `newsbot ingest`."""
    parser.add_argument(
        "--once",
        action="store_true",
        help="fetch the due feeds once, print what happened per feed and exit "
        "(default: keep running, fetching each feed when it is due)",
    )
    parser.add_argument("--all", action="store_true", help="fetch every enabled feed, due or not")
    parser.add_argument(
        "--feed",
        type=int,
        action="append",
        metavar="ID",
        help="only this feed, due or not (repeatable; ids from `newsbot feeds list`)",
    )
    add_quiet_argument(parser)


def print_report(report: IngestReport, out: TextIO) -> None:
    """The per-feed lines and the total line of one run."""
    from bot.ingest.pipeline import NOT_MODIFIED  # heavy: see the module docstring

    if report.sync is not None:
        for url in report.sync.added:
            print(f"config: added feed {url}", file=out)
        for url in report.sync.removed:
            print(f"config: removed feed {url} (no longer in the config)", file=out)
    for feed in report.feeds:
        print(f"feed {feed.feed_id} {feed.url}: {feed.describe()}", file=out)
    failed = len(report.failed)
    unchanged = sum(1 for feed in report.feeds if feed.status == NOT_MODIFIED)
    print(
        f"{report.new} new article(s) from {len(report.feeds)} feed(s) "
        f"({failed} failed, {unchanged} not modified) in {report.elapsed:.1f}s",
        file=out,
    )


async def cmd_ingest(args: argparse.Namespace, config: Config, clock: Clock) -> int:
    """Fetch feeds into the store: once with --once, else for as long as it runs."""
    from bot.ingest.pipeline import FAILED, IngestPipeline

    store = await open_configured_store(config, clock)
    try:
        for feed_id in args.feed or ():
            # An unknown or disabled id is a mistake to name, not "no feed is due".
            feed = await store.get_feed(feed_id)  # NotFound: "no feed N", exit 1
            if not feed.enabled:
                raise FeedError(
                    f"feed {feed_id} is disabled; `newsbot feeds enable {feed_id}` first"
                )
        async with IngestPipeline(store, config, clock=clock) as pipeline:
            if args.once:
                with _progress(args) as progress:
                    report = await pipeline.run(
                        include_not_due=bool(args.all or args.feed),
                        feed_ids=args.feed,
                        progress=progress,
                    )
                if not report.feeds:
                    print("no feed is due (--all fetches every feed now)", file=out())
                    return EXIT_OK
                print_report(report, out())
                everything_failed = all(feed.status == FAILED for feed in report.feeds)
                return EXIT_FAILED if everything_failed else EXIT_OK
            await _ingest_forever(store, pipeline, args, clock)
    finally:
        await store.close()
    return EXIT_OK  # pragma: no cover - the loop only ends by interruption


async def _ingest_forever(
    store: ArticleStore, pipeline: IngestPipeline, args: argparse.Namespace, clock: Clock
) -> None:
    include = bool(args.all or args.feed)
    while True:
        with _progress(args) as progress:
            report = await pipeline.run(
                include_not_due=include, feed_ids=args.feed, progress=progress
            )
        include = False
        if report.feeds:
            print_report(report, out())
            out().flush()
        await asyncio.sleep(await _seconds_until_due(store, clock))


def _progress(args: argparse.Namespace) -> TerminalProgress:
    """The progress line of one run: feeds done of those fetched, new articles, failures."""
    return TerminalProgress("ingest", quiet=args.quiet, rate_unit="feeds")


async def _seconds_until_due(store: ArticleStore, clock: Clock) -> float:
    now = clock.now()
    upcoming = [f.next_fetch for f in await store.list_feeds() if f.enabled and f.next_fetch]
    wait = min(upcoming, default=now + MAX_SLEEP) - now
    return min(max(wait, MIN_SLEEP), MAX_SLEEP).total_seconds()


# -- newsbot feeds ----------------------------------------------------------------------------


def add_feeds_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of `newsbot feeds` and its actions (list, add, remove, enable, import,
    export), each with its own --help and example."""
    actions = parser.add_subparsers(dest="feeds_command", metavar="ACTION", required=True)

    def action(name: str, help_text: str, example: str) -> argparse.ArgumentParser:
        return subcommand(actions, name, None, help_text, example)

    listing = action(
        "list",
        "List the feeds with their state: ok, new, failing (n) with the last error, disabled.",
        "newsbot feeds list",
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")

    add = action(
        "add",
        "Add a feed (or update the one with this URL and re-enable it if it was disabled).",
        "newsbot feeds add https://www.lemonde.fr/sport/rss_full.xml Sport --language fr",
    )
    add.add_argument("url", metavar="URL", help="RSS or Atom URL")
    add.add_argument("category", metavar="CATEGORY", help="category of its articles")
    add.add_argument("--language", help="language of its articles, e.g. fr or en")
    add.add_argument(
        "--interval", type=int, metavar="MINUTES", help="fetch interval (default: [ingest])"
    )

    remove = action(
        "remove",
        "Remove a feed added by hand (its articles stay); config feeds are removed in the config.",
        "newsbot feeds remove 12",
    )
    remove.add_argument("id", type=int, metavar="ID", help="feed id from `newsbot feeds list`")

    enable = action(
        "enable",
        "Enable a disabled feed again and forget its failures; it is fetched at the next run.",
        "newsbot feeds enable 12",
    )
    enable.add_argument("id", type=int, metavar="ID", help="feed id from `newsbot feeds list`")

    imp = action(
        "import",
        "Add the feeds of an OPML file, keeping each one's category (outline category "
        "attribute, else its folder's title).",
        "newsbot feeds import subscriptions.opml",
    )
    imp.add_argument("file", metavar="FILE", help="OPML file, or - for stdin")

    exp = action(
        "export",
        "Write every feed as OPML 2.0, one folder per category.",
        "newsbot feeds export > feeds.opml",
    )
    exp.add_argument("-o", "--output", help="write to this file instead of stdout")


async def cmd_feeds(args: argparse.Namespace, config: Config, clock: Clock) -> int:
    """Run one `newsbot feeds` action."""
    from bot.services.feeds import FeedService

    handlers: dict[str, Callable[[FeedService, argparse.Namespace], Awaitable[int]]] = {
        "list": _feeds_list,
        "add": _feeds_add,
        "remove": _feeds_remove,
        "enable": _feeds_enable,
        "import": _feeds_import,
        "export": _feeds_export,
    }
    store = await open_configured_store(config, clock)
    try:
        return await handlers[args.feeds_command](FeedService(store, config, clock=clock), args)
    finally:
        await store.close()


def feed_record(feed: Feed) -> dict[str, object]:
    """A feed as `feeds list --json` prints it."""
    from bot.services.feeds import feed_state  # heavy: see the module docstring

    return {
        "id": feed.id,
        "url": feed.url,
        "title": feed.title,
        "category": feed.category,
        "language": feed.language,
        "interval_minutes": feed.interval_minutes,
        "origin": feed.origin,
        "state": feed_state(feed),
        "enabled": feed.enabled,
        "failures": feed.failures,
        "last_error": feed.last_error,
        "last_fetched": feed.last_fetched.isoformat() if feed.last_fetched else None,
        "next_fetch": feed.next_fetch.isoformat() if feed.next_fetch else None,
    }


async def _feeds_list(service: FeedService, args: argparse.Namespace) -> int:
    from bot.services.feeds import feed_state  # heavy: see the module docstring

    feeds = await service.feeds()
    stdout = out()
    if args.json:
        print(
            json.dumps([feed_record(f) for f in feeds], ensure_ascii=False, indent=2), file=stdout
        )
        return EXIT_OK
    if not feeds:
        print("no feeds (add one with `newsbot feeds add URL CATEGORY`)", file=stdout)
        return EXIT_OK
    default = service.config.ingest.interval_minutes
    rows = [
        (
            str(f.id),
            feed_state(f),
            f.category or "-",
            f.language or "-",
            f"{f.interval_minutes or default}m",
            _when(f.last_fetched),
            f.origin,
            f.url,
        )
        for f in feeds
    ]
    header = ("ID", "STATE", "CATEGORY", "LANG", "EVERY", "LAST FETCHED", "FROM", "URL")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header) - 1)]
    for feed, row in zip([None, *feeds], [header, *rows], strict=True):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]), file=stdout)
        if feed is not None and (feed.failures or not feed.enabled):
            detail = feed.last_error or "no reason recorded"
            if feed.enabled and feed.next_fetch:
                detail = f"next try {_when(feed.next_fetch)}: {detail}"
            print(f"{'':{widths[0]}}  └ {detail}", file=stdout)
    return EXIT_OK


async def _feeds_add(service: FeedService, args: argparse.Namespace) -> int:
    change = await service.add(
        args.url, args.category, language=args.language, interval_minutes=args.interval
    )
    feed = change.feed
    print(
        f"{change.action} feed {feed.id}: {feed.url} ({feed.category or 'no category'})",
        file=out(),
    )
    return EXIT_OK


async def _feeds_remove(service: FeedService, args: argparse.Namespace) -> int:
    feed = await service.remove(args.id)
    print(f"removed feed {feed.id}: {feed.url} (its articles stay)", file=out())
    return EXIT_OK


async def _feeds_enable(service: FeedService, args: argparse.Namespace) -> int:
    feed = await service.enable(args.id)
    print(f"enabled feed {feed.id}: {feed.url}; it is fetched at the next run", file=out())
    return EXIT_OK


async def _feeds_import(service: FeedService, args: argparse.Namespace) -> int:
    source = "<stdin>" if args.file == "-" else args.file
    data = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
    result = await service.import_opml(data, source)
    for url, reason in result.skipped:
        print(f"{source}: skipped {url}: {reason}", file=sys.stderr)
    print(
        f"imported {len(result.added)} new feed(s), updated {len(result.updated)}, "
        f"skipped {len(result.skipped)}",
        file=out(),
    )
    return EXIT_OK if result.added or result.updated or not result.skipped else EXIT_FAILED


async def _feeds_export(service: FeedService, args: argparse.Namespace) -> int:
    document = await service.export_opml()
    if args.output in (None, "-"):
        out().write(document)
    else:
        Path(args.output).write_text(document, encoding="utf-8")
    return EXIT_OK
