"""The `newsbot` command line: builds the Config and the one Clock, then hands over to one
subcommand. It sits above everything (app, chat, services, ingest, store...); nothing imports it.

    __init__.py   main(), the parser, errors turned into one line and an exit code
    run.py        run, shell
    store.py      import, export, stats, db upgrade
    ingest.py     ingest, feeds
    summarize.py  summarize

Every subcommand's --help carries an example. Errors a user can fix (bad config, unreadable
database URL) are one line on stderr with exit code 2 (config) or 1 (anything else); never a
traceback, never the token.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
from collections.abc import Sequence

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from bot import __version__
from bot.cli import ingest, run, store, summarize
from bot.cli._common import EXIT_FAILED, EXIT_USAGE, err
from bot.clock import SystemClock
from bot.config import Config, SummaryConfig, load_config
from bot.errors import ConfigError, NewsbotError
from bot.logs import redact_secrets, setup_logging

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; tests read it to check every command is documented."""
    parser = argparse.ArgumentParser(
        prog="newsbot",
        description="A Telegram bot that serves news articles, with offline summaries.",
        epilog="example:\n  newsbot import --sample && newsbot stats",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"newsbot {__version__}")
    parser.add_argument(
        "-c", "--config", help="TOML config file (default: $NEWSBOT_CONFIG, else ./config.toml)"
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    run.register(subparsers)
    store.register(subparsers)
    ingest.register(subparsers)
    summarize.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `newsbot` console command and of `python -m bot`.

    Every error leaves through `fail`, the one place messages reach the terminal: it keeps
    them to one line and scrubs the secrets (the token, the webhook's secret token) that a
    library may have put in them, as the log formatter does for log lines.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    secrets = [os.environ.get("NEWSBOT_TOKEN", "")]

    def fail(message: str, code: int) -> int:
        first = message.strip().splitlines()[0] if message.strip() else message
        err(redact_secrets(first, secrets))
        return code

    try:
        config = load_config(args.config)
        check_summary(config)
    except ConfigError as exc:
        return fail(f"newsbot: config error: {exc}", EXIT_USAGE)
    hook = config.telegram.webhook
    secrets = [config.telegram.token, hook.secret_token if hook else "", *secrets]
    setup_logging(args.verbose, secrets=secrets)
    clock = SystemClock()  # the one clock of this command: everything below reads it
    try:
        code: int = asyncio.run(args.handler(args, config, clock))
        return code
    except ConfigError as exc:
        return fail(f"newsbot: config error: {exc}", EXIT_USAGE)
    except NewsbotError as exc:
        return fail(f"newsbot {args.command}: {exc}", EXIT_FAILED)
    except SQLAlchemyError as exc:
        # The driver's own message (first line) says what is wrong; SQLAlchemy's wrapper adds
        # the SQL and a link. The URL's password never appears in either.
        from bot.store import describe_store

        reason = exc.orig if isinstance(exc, DBAPIError) else exc
        where = describe_store(config.store.url)
        return fail(f"newsbot {args.command}: database error ({where}): {reason}", EXIT_FAILED)
    except (OSError, ConnectionError) as exc:
        return fail(f"newsbot {args.command}: {exc}", EXIT_FAILED)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        # Anything else (a Bot API answering 409 or garbage at start-up, a bug): still one
        # line, scrubbed; the traceback goes to the (redacting) log, shown with -v.
        logging.getLogger("newsbot").info("%s failed", args.command, exc_info=True)
        return fail(f"newsbot {args.command}: {type(exc).__name__}: {exc}", EXIT_FAILED)


def check_summary(config: Config) -> None:
    """Refuse a `[summary]` algorithm or language the summarizer does not have.

    Done here rather than in `bot.config`, which sits below the summarizer and cannot ask it;
    the summarizer is only imported when the values differ from the defaults (which it has),
    for the start-up speed of every command (see bot/cli/_common.py).
    """
    defaults = SummaryConfig()
    summary = config.summary
    if (summary.algorithm, summary.language) == (defaults.algorithm, defaults.language):
        return
    from bot.errors import SummaryError
    from bot.summarize import ALGORITHMS, normalize_language

    if summary.algorithm not in ALGORITHMS:
        raise ConfigError(
            f"{config.source}: summary.algorithm: unknown algorithm {summary.algorithm[:40]!r}; "
            f"choose one of: {', '.join(ALGORITHMS)}"
        )
    try:
        normalize_language(summary.language)
    except SummaryError as exc:
        raise ConfigError(f"{config.source}: summary.language: {exc}") from None
