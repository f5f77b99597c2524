"""The `newsbot` command line: builds the Config, then hands over to one subcommand.

Every subcommand's --help carries an example. Errors a user can fix (bad config, unreadable
database URL) are one line on stderr with exit code 2 (config) or 1 (anything else); never a
traceback, never the token.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from bot import __version__
from bot.chat.cli import (
    RUN_EXAMPLE,
    RUN_HELP,
    SHELL_EXAMPLE,
    SHELL_HELP,
    add_run_arguments,
    add_shell_arguments,
    cmd_run,
    cmd_shell,
)
from bot.clock import Clock, SystemClock
from bot.config import Config, load_config
from bot.errors import ConfigError, NewsbotError
from bot.ingest.cli import add_feeds_arguments, add_ingest_arguments, cmd_feeds, cmd_ingest
from bot.logs import setup_logging

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

Handler = Callable[[argparse.Namespace, Config, Clock], Coroutine[Any, Any, int]]


def _out() -> TextIO:
    return sys.stdout


def _err(message: str) -> None:
    print(message, file=sys.stderr)


# -- subcommands --------------------------------------------------------------------------------


async def cmd_db_upgrade(args: argparse.Namespace, config: Config, clock: Clock) -> int:
    """Bring the database schema up to date."""
    from bot.store import create_engine, redact, upgrade

    engine = create_engine(config.store.url)
    try:
        before, after = await upgrade(engine)
    finally:
        await engine.dispose()
    where = redact(config.store.url)
    if before == after:
        print(f"{where}: already at revision {after}", file=_out())
    else:
        print(f"{where}: upgraded from {before or 'an empty database'} to {after}", file=_out())
    return EXIT_OK


async def cmd_import(args: argparse.Namespace, config: Config, clock: Clock) -> int:
    """Import JSON Lines and plain-text pages."""
    from bot.deliver.rules import PushRules
    from bot.ingest.importer import import_files
    from bot.services.summaries import SummaryService
    from bot.store import open_store

    store = await open_store(config.store.url, clock=clock, rules=PushRules())
    try:
        report = await import_files(store, [Path(p) for p in args.files], _err)
        summarized = 0
        if report.ids and not args.no_summaries:
            service = SummaryService(store, config.summary)
            workers = max(1, min(os.cpu_count() or 1, 4))
            with ProcessPoolExecutor(workers) as pool:
                summarized = await service.precompute(report.ids, pool)
    finally:
        await store.close()
    line = (
        f"imported {report.imported}, skipped {report.duplicates} duplicate(s), "
        f"rejected {report.rejected}"
    )
    if report.unreadable_files:
        line += f", {report.unreadable_files} unreadable file(s)"
    if report.ids and not args.no_summaries:
        line += f"; {summarized} summaries computed"
    print(line, file=_out())
    return EXIT_OK if report.read_anything else EXIT_FAILED


async def cmd_export(args: argparse.Namespace, config: Config, clock: Clock) -> int:
    """Write articles as JSON Lines."""
    from bot.deliver.rules import PushRules
    from bot.ingest.files import article_to_record
    from bot.store import open_store

    store = await open_store(config.store.url, clock=clock, rules=PushRules())
    out = _out() if args.output in (None, "-") else open(args.output, "w", encoding="utf-8")  # noqa: SIM115
    count = 0
    try:
        if args.category is not None and await store.find_category(args.category) is None:
            _err(f"newsbot export: no category {args.category!r}")
            return EXIT_FAILED
        async for article in store.iter_articles(category=args.category):
            out.write(json.dumps(article_to_record(article), ensure_ascii=False) + "\n")
            count += 1
    finally:
        await store.close()
        if out is not _out():
            out.close()
    _err(f"exported {count} article(s)")
    return EXIT_OK


async def cmd_stats(args: argparse.Namespace, config: Config, clock: Clock) -> int:
    """Print counts of the store."""
    from bot.deliver.rules import PushRules
    from bot.store import open_store, redact

    store = await open_store(config.store.url, clock=clock, rules=PushRules())
    try:
        stats = await store.stats()
        feeds = await store.list_feeds()
    finally:
        await store.close()
    if args.json:
        payload = {
            "articles": stats.articles,
            "categories": dict(stats.articles_per_category),
            "uncategorized": stats.uncategorized,
            "feeds": stats.feeds,
            "feeds_failing": stats.feeds_failing,
            "chats": stats.chats,
            "chats_deactivated": stats.chats_inactive,
            "subscriptions": stats.subscriptions,
            "deliveries": stats.deliveries,
        }
        print(json.dumps(payload, ensure_ascii=False, indent=2), file=_out())
        return EXIT_OK
    out = _out()
    print(f"store:          {redact(config.store.url)}", file=out)
    print(f"articles:       {stats.articles}", file=out)
    width = max((len(name) for name, _ in stats.articles_per_category), default=0)
    for name, count in stats.articles_per_category:
        print(f"  {name:<{width}}  {count:>8}", file=out)
    if stats.uncategorized:
        print(f"  {'(none)':<{width}}  {stats.uncategorized:>8}", file=out)
    print(f"feeds:          {stats.feeds} ({stats.feeds_failing} failing)", file=out)
    for feed in feeds:
        if feed.failures or not feed.enabled:
            state = "disabled" if not feed.enabled else f"{feed.failures} failure(s)"
            print(f"  {feed.url}: {state}: {feed.last_error or ''}", file=out)
    deactivated = f" ({stats.chats_inactive} deactivated)" if stats.chats_inactive else ""
    print(f"chats:          {stats.chats}{deactivated}", file=out)
    print(f"subscriptions:  {stats.subscriptions}", file=out)
    pending = stats.deliveries.get("pending", 0)
    others = ", ".join(f"{k} {v}" for k, v in sorted(stats.deliveries.items()) if k != "pending")
    print(f"deliveries:     {pending} pending" + (f" ({others})" if others else ""), file=out)
    return EXIT_OK


async def cmd_summarize(args: argparse.Namespace, config: Config, clock: Clock) -> int:
    """Summarize a file, stdin, or a JSON Lines batch."""
    from bot.summarize import cli

    return cli.run(args, sys.stdin, sys.stdout, sys.stderr)


# -- parser -------------------------------------------------------------------------------------


def _subparser(
    subparsers: Any, name: str, handler: Handler, help_text: str, example: str
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.set_defaults(handler=handler)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; tests read it to check every command is documented."""
    parser = argparse.ArgumentParser(
        prog="newsbot",
        description="A Telegram bot that serves news articles, with offline summaries.",
        epilog="example:\n  newsbot import articles.jsonl && newsbot stats",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"newsbot {__version__}")
    parser.add_argument(
        "-c", "--config", help="TOML config file (default: $NEWSBOT_CONFIG, else ./config.toml)"
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = _subparser(subparsers, "run", cmd_run, RUN_HELP, RUN_EXAMPLE)
    add_run_arguments(run)
    shell = _subparser(subparsers, "shell", cmd_shell, SHELL_HELP, SHELL_EXAMPLE)
    add_shell_arguments(shell)

    imp = _subparser(
        subparsers,
        "import",
        cmd_import,
        "Import articles from JSON Lines files or plain-text pages; duplicates are skipped.",
        "newsbot import ../shared/data/seed-article-fr.txt articles.jsonl",
    )
    imp.add_argument("files", nargs="+", metavar="FILE", help="a .jsonl file or a text page")
    imp.add_argument(
        "--no-summaries",
        action="store_true",
        help="do not precompute default summaries (they are then computed on first request)",
    )

    exp = _subparser(
        subparsers,
        "export",
        cmd_export,
        "Write the store's articles as JSON Lines (the format `import` reads, plus `id`).",
        "newsbot export --category economie > economie.jsonl",
    )
    exp.add_argument("--category", help="only this category (case- and accent-insensitive)")
    exp.add_argument("-o", "--output", help="write to this file instead of stdout")

    db = _subparser(
        subparsers,
        "db",
        cmd_db_upgrade,
        "Database maintenance.",
        "newsbot db upgrade",
    )
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    _subparser(
        db_sub,
        "upgrade",
        cmd_db_upgrade,
        "Create or upgrade the database schema to the newest revision, keeping all data.",
        "NEWSBOT_DATABASE_URL=postgresql://bot@localhost/news newsbot db upgrade",
    )

    st = _subparser(
        subparsers,
        "stats",
        cmd_stats,
        "Counts: articles per category, feeds (and failing ones), chats, subscriptions, "
        "deliveries.",
        "newsbot stats --json",
    )
    st.add_argument("--json", action="store_true", help="print JSON instead of a table")

    ingest = _subparser(
        subparsers,
        "ingest",
        cmd_ingest,
        "Fetch the feeds into the store: new articles with their full text, default summary "
        "and deliveries; --once fetches what is due, reports per feed and exits.",
        "newsbot ingest --once --all",
    )
    add_ingest_arguments(ingest)
    feeds = _subparser(
        subparsers,
        "feeds",
        cmd_feeds,
        "Manage the feeds: list (with failures and why), add, remove, enable, OPML import "
        "and export.",
        "newsbot feeds add https://www.lemonde.fr/sport/rss_full.xml Sport --language fr",
    )
    add_feeds_arguments(feeds)

    summ = _subparser(
        subparsers,
        "summarize",
        cmd_summarize,
        "Summarize a text file, stdin, or a JSON Lines batch, fully offline.",
        "newsbot summarize --sentences 3 ../shared/data/seed-article-fr.txt",
    )
    from bot.summarize import cli as summarize_cli

    summarize_cli.add_arguments(summ)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `newsbot` console command."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        _err(f"newsbot: config error: {exc}")
        return EXIT_USAGE
    setup_logging(args.verbose, secrets=[config.telegram.token])
    clock = SystemClock()  # the one clock of this command: everything below reads it
    try:
        return asyncio.run(args.handler(args, config, clock))
    except ConfigError as exc:
        _err(f"newsbot: config error: {exc}")
        return EXIT_USAGE
    except NewsbotError as exc:
        _err(f"newsbot {args.command}: {exc}")
        return EXIT_FAILED
    except SQLAlchemyError as exc:
        # The driver's own message (first line) says what is wrong; SQLAlchemy's wrapper adds
        # the SQL and a link. The URL's password never appears in either.
        reason = exc.orig if isinstance(exc, DBAPIError) else exc
        _err(f"newsbot {args.command}: database error: {str(reason).splitlines()[0]}")
        return EXIT_FAILED
    except (OSError, ConnectionError) as exc:
        _err(f"newsbot {args.command}: {exc}".replace(config.telegram.token or "\0", "***"))
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
