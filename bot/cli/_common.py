"""What every subcommand module shares: exit codes, the output streams, the parser helper."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TextIO

from bot.clock import Clock
from bot.config import Config

if TYPE_CHECKING:
    from bot.store import SqlStore

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

# What a subcommand is: parsed arguments, the Config and the one Clock in, an exit code out.
Handler = Callable[[argparse.Namespace, Config, Clock], Coroutine[Any, Any, int]]

# Where the importing of heavy modules (Telegram, SQLAlchemy, trafilatura...) is deferred to the
# command that needs them, this is said at the import: the parser is built on every call, and
# loading them all would triple the time `newsbot --help` takes (0.5 s -> 1.5 s).


async def open_configured_store(config: Config, clock: Clock, *, create: bool = True) -> SqlStore:
    """The store `[store] url` names, on the command's clock, pushing as `[delivery]` says;
    `create=False` for the commands that only read (a missing store is then an error)."""
    # heavy (SQLAlchemy): imported by the commands that open a store, not by `--help`
    from bot.deliver.rules import PushRules
    from bot.store import open_store

    rules = PushRules.from_config(config.delivery)
    return await open_store(config.store.url, clock=clock, rules=rules, create=create)


def out() -> TextIO:
    """Standard output, looked up at each call (tests replace sys.stdout)."""
    return sys.stdout


def err(message: str) -> None:
    print(message, file=sys.stderr)


def subcommand(
    subparsers: Any, name: str, handler: Handler | None, help_text: str, example: str
) -> argparse.ArgumentParser:
    """A subcommand whose --help has a description and an example."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name,
        help=help_text,
        description=help_text,
        epilog=f"example:\n  {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    if handler is not None:
        parser.set_defaults(handler=handler)
    return parser
