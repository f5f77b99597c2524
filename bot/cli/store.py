"""`newsbot import`, `export`, `stats` and `db upgrade`: the store from the command line."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from bot.cli._common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    err,
    open_configured_store,
    out,
    subcommand,
)
from bot.cli._progress import TerminalProgress, add_quiet_argument
from bot.clock import Clock
from bot.config import Config

if TYPE_CHECKING:
    from bot.services.admin import Status

# The articles shipped in bot/samples/, so that a fresh install has something to show.
SAMPLE_PACKAGE = "bot.samples"
SAMPLE_FILES = ("seed-article-fr.txt", "articles.jsonl")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`import`, `export`, `db upgrade` and `stats`."""
    imp = subcommand(
        subparsers,
        "import",
        cmd_import,
        "Import articles from JSON Lines files or plain-text pages; duplicates are skipped.",
        "newsbot import --sample articles.jsonl",
    )
    imp.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="a .jsonl file or a text page; - for standard input (a pipe or FIFO is read whole)",
    )
    imp.add_argument(
        "--sample",
        action="store_true",
        help="also import the sample articles shipped with newsbot (once: they are skipped "
        "the next time)",
    )
    imp.add_argument(
        "--no-summaries",
        action="store_true",
        help="do not precompute default summaries (they are then computed on first request)",
    )
    add_quiet_argument(imp)

    exp = subcommand(
        subparsers,
        "export",
        cmd_export,
        "Write the store's articles as JSON Lines (the format `import` reads, plus `id`).",
        "newsbot export --category economie > economie.jsonl",
    )
    exp.add_argument("--category", help="only this category (case- and accent-insensitive)")
    exp.add_argument("-o", "--output", help="write to this file instead of stdout")

    db = subcommand(subparsers, "db", cmd_db_upgrade, "Database maintenance.", "newsbot db upgrade")
    db_actions = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    subcommand(
        db_actions,
        "upgrade",
        cmd_db_upgrade,
        "Create or upgrade the database schema to the newest revision, keeping all data.",
        "NEWSBOT_DATABASE_URL=postgresql://bot@localhost/news newsbot db upgrade",
    )

    prune = subcommand(
        subparsers,
        "prune",
        cmd_prune,
        "Delete what [store] keep_deliveries_days and keep_articles_days let go (sent and "
        "failed deliveries, old articles), in short batches; never anything still to send.",
        "newsbot prune --dry-run",
    )
    prune.add_argument(
        "--dry-run", action="store_true", help="count what would be deleted, delete nothing"
    )

    stats = subcommand(
        subparsers,
        "stats",
        cmd_stats,
        "Counts: articles per category, feeds (and failing ones), chats, subscriptions, "
        "deliveries.",
        "newsbot stats --json",
    )
    stats.add_argument("--json", action="store_true", help="print JSON instead of a table")


# -- import -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What one `import` did: the importer's counts, and the summaries computed (None when
    not asked for)."""

    imported: int
    duplicates: int
    rejected: int
    unreadable_files: int
    summarized: int | None
    read_anything: bool
    shortened: int = 0

    def summary_line(self) -> str:
        line = (
            f"imported {self.imported}, skipped {self.duplicates} duplicate(s), "
            f"rejected {self.rejected}"
        )
        if self.shortened:
            line += f", {self.shortened} stored with a field shortened"
        if self.unreadable_files:
            line += f", {self.unreadable_files} unreadable file(s)"
        if self.summarized is not None:
            line += f"; {self.summarized} summaries computed"
        return line


async def import_paths(
    config: Config,
    clock: Clock,
    paths: Sequence[Path],
    *,
    sample: bool = False,
    summaries: bool = True,
    quiet: bool = True,
) -> ImportResult:
    """Import files (and with `sample`, the sample shipped in the package) into the configured
    store, bad records reported on stderr; with `summaries`, the default summary of each new
    article is computed at once, and of every stored article still missing it (an import
    killed before its summaries, re-run, catches up). Unless `quiet`, both steps show their
    progress on a terminal (`bot.cli._progress`)."""
    # SQLAlchemy and the summarizer: loaded when the command runs, for the start-up speed of
    # the other commands (see bot/cli/_common.py).
    from bot.ingest.importer import die_with_parent, import_files
    from bot.services.summaries import SummaryService

    store = await open_configured_store(config, clock)
    try:
        with contextlib.ExitStack() as files:
            shipped = [
                files.enter_context(resources.as_file(resources.files(SAMPLE_PACKAGE) / name))
                for name in (SAMPLE_FILES if sample else ())
            ]
            with TerminalProgress(
                "import", quiet=quiet, unit="B", rate_of="read", rate_unit="articles"
            ) as progress:
                report = await import_files(
                    store, [*shipped, *paths], progress.write, progress=progress
                )
        summarized = None
        if summaries and report.read_anything:
            service = SummaryService(store, config.summary)
            missing = await service.missing()
            if missing:  # else nothing to say: "0 summaries computed" would be noise
                workers = max(1, min(os.cpu_count() or 1, 4))
                with (
                    ProcessPoolExecutor(
                        workers, initializer=die_with_parent, initargs=(os.getpid(),)
                    ) as pool,
                    TerminalProgress("summaries", quiet=quiet, rate_unit="articles") as bar,
                ):
                    summarized = await service.precompute(missing, pool, progress=bar)
    finally:
        await store.close()
    return ImportResult(
        report.imported,
        report.duplicates,
        report.rejected,
        report.unreadable_files,
        summarized,
        report.read_anything,
        report.shortened,
    )


async def import_sample(config: Config, clock: Clock) -> ImportResult:
    """Import the sample articles shipped in the package; a second time imports nothing."""
    return await import_paths(config, clock, [], sample=True)


async def cmd_import(args: argparse.Namespace, config: Config, clock: Clock) -> int:
    """Import JSON Lines and plain-text pages, and with --sample the shipped sample."""
    if not args.files and not args.sample:
        err("newsbot import: give one or more FILEs, or --sample")
        return EXIT_USAGE
    result = await import_paths(
        config,
        clock,
        [Path(p) for p in args.files],
        sample=args.sample,
        summaries=not args.no_summaries,
        quiet=args.quiet,
    )
    print(result.summary_line(), file=out())
    return EXIT_OK if result.read_anything else EXIT_FAILED


# -- export, db upgrade -------------------------------------------------------------------------


async def cmd_export(args: argparse.Namespace, config: Config, clock: Clock) -> int:
    """Write articles as JSON Lines."""
    # SQLAlchemy: loaded when the command runs (see bot/cli/_common.py).
    from bot.ingest.files import article_to_record

    store = await open_configured_store(config, clock, create=False)
    stdout = out()
    target = stdout if args.output in (None, "-") else open(args.output, "w", encoding="utf-8")  # noqa: SIM115
    count = 0
    try:
        if args.category is not None and await store.find_category(args.category) is None:
            err(f"newsbot export: no category {args.category!r}")
            return EXIT_FAILED
        async for article in store.iter_articles(category=args.category):
            target.write(json.dumps(article_to_record(article), ensure_ascii=False) + "\n")
            count += 1
    finally:
        await store.close()
        if target is not stdout:
            target.close()
    err(f"exported {count} article(s)")
    return EXIT_OK


async def cmd_db_upgrade(args: argparse.Namespace, config: Config, clock: Clock) -> int:
    """Bring the database schema up to date."""
    # SQLAlchemy and Alembic: loaded when the command runs (see bot/cli/_common.py).
    from bot.store import create_engine, redact, upgrade

    engine = create_engine(config.store.url)
    try:
        before, after = await upgrade(engine)
    finally:
        await engine.dispose()
    where = redact(config.store.url)
    if before == after:
        print(f"{where}: already at revision {after}", file=out())
    else:
        print(f"{where}: upgraded from {before or 'an empty database'} to {after}", file=out())
    return EXIT_OK


# -- prune --------------------------------------------------------------------------------------


async def cmd_prune(args: argparse.Namespace, config: Config, clock: Clock) -> int:
    """Apply the retention periods now (the same as the daily job of `newsbot run`)."""
    # SQLAlchemy: loaded when the command runs (see bot/cli/_common.py).
    from bot.services.retention import describe, prune

    store = await open_configured_store(config, clock)
    try:
        result = await prune(store, config.store, clock, dry_run=args.dry_run)
    finally:
        await store.close()
    print(describe(result), file=out())
    return EXIT_OK


# -- stats --------------------------------------------------------------------------------------


async def cmd_stats(args: argparse.Namespace, config: Config, clock: Clock) -> int:
    """Print the state of the store: the same `Status` /stats shows admins in chat."""
    # SQLAlchemy: loaded when the command runs (see bot/cli/_common.py).
    from bot.services.admin import AdminService
    from bot.store import redact

    store = await open_configured_store(config, clock, create=False)
    try:
        status = await AdminService(store).status()
    finally:
        await store.close()
    if args.json:
        print(json.dumps(status_record(status), ensure_ascii=False, indent=2), file=out())
    else:
        print_status(status, redact(config.store.url), out())
    return EXIT_OK


def status_record(status: Status) -> dict[str, object]:
    """`newsbot stats --json`."""
    return {
        "articles": status.articles,
        "categories": dict(status.categories),
        "uncategorized": status.uncategorized,
        "feeds": status.feeds,
        "feeds_failing": status.feeds_failing,
        "chats": status.chats,
        "chats_deactivated": status.chats_deactivated,
        "subscriptions": status.subscriptions,
        "deliveries": dict(status.deliveries),
    }


CATEGORY_COLUMN = 40


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def print_status(status: Status, where: str, target: TextIO) -> None:
    """`newsbot stats`: one labelled line per count, every failing feed with its reason."""

    def line(label: str, value: object) -> None:
        print(f"{label + ':':<15} {value}", file=target)

    line("store", where)
    line("articles", status.articles)
    # One long category name must not widen every row: names are cut to a column of at most
    # CATEGORY_COLUMN characters (the full names are in `stats --json`).
    names = [_cut(name, CATEGORY_COLUMN) for name, _ in status.categories]
    width = max((len(name) for name in [*names, "(none)"]), default=0)
    for name, (_, count) in zip(names, status.categories, strict=True):
        print(f"  {name:<{width}}  {count:>8}", file=target)
    if status.uncategorized:
        print(f"  {'(none)':<{width}}  {status.uncategorized:>8}", file=target)
    line("feeds", f"{status.feeds} ({status.feeds_failing} failing)")
    for feed in status.problems:
        state = "disabled" if feed.disabled else f"{feed.failures} failure(s)"
        print(f"  {feed.url}: {state}: {feed.reason}", file=target)
    deactivated = f" ({status.chats_deactivated} deactivated)" if status.chats_deactivated else ""
    line("chats", f"{status.chats}{deactivated}")
    line("subscriptions", status.subscriptions)
    others = ", ".join(f"{k} {v}" for k, v in sorted(status.deliveries.items()) if k != "pending")
    line("deliveries", f"{status.queued('pending')} pending" + (f" ({others})" if others else ""))
