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
from collections.abc import Sequence

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from bot import __version__
from bot.cli import ingest, run, store, summarize
from bot.cli._common import EXIT_FAILED, EXIT_USAGE, err
from bot.clock import SystemClock
from bot.config import load_config
from bot.errors import ConfigError, NewsbotError
from bot.logs import setup_logging

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
    """Entry point of the `newsbot` console command and of `python -m bot`."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        err(f"newsbot: config error: {exc}")
        return EXIT_USAGE
    setup_logging(args.verbose, secrets=[config.telegram.token])
    clock = SystemClock()  # the one clock of this command: everything below reads it
    try:
        code: int = asyncio.run(args.handler(args, config, clock))
        return code
    except ConfigError as exc:
        err(f"newsbot: config error: {exc}")
        return EXIT_USAGE
    except NewsbotError as exc:
        err(f"newsbot {args.command}: {exc}")
        return EXIT_FAILED
    except SQLAlchemyError as exc:
        # The driver's own message (first line) says what is wrong; SQLAlchemy's wrapper adds
        # the SQL and a link. The URL's password never appears in either.
        reason = exc.orig if isinstance(exc, DBAPIError) else exc
        err(f"newsbot {args.command}: database error: {str(reason).splitlines()[0]}")
        return EXIT_FAILED
    except (OSError, ConnectionError) as exc:
        err(f"newsbot {args.command}: {exc}".replace(config.telegram.token or "\0", "***"))
        return EXIT_FAILED
    except KeyboardInterrupt:
        return 130
