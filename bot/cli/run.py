"""`newsbot run` and `newsbot shell`.

Both build the same Application (`bot.app.create_application`); `run` connects it to Telegram,
`shell` to the terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import signal
import sys

from bot.cli._common import EXIT_OK, err, subcommand
from bot.cli.store import import_sample
from bot.clock import Clock
from bot.config import ROLES, Config
from bot.errors import ConfigError
from bot.models import INTERFACE_LANGUAGES

RUN_HELP = (
    "Run the bot: long polling by default, a webhook when [telegram.webhook] is configured. "
    "Stops gracefully on Ctrl-C or SIGTERM."
)
RUN_EXAMPLE = "NEWSBOT_TOKEN=123456:ABC-your-token newsbot run"
SHELL_HELP = (
    "Chat with the bot in the terminal, with no token and no network: the same commands and "
    "buttons, drawn as text."
)
SHELL_EXAMPLE = "newsbot shell --sample"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`run` and `shell`."""
    add_run_arguments(subcommand(subparsers, "run", cmd_run, RUN_HELP, RUN_EXAMPLE))
    add_shell_arguments(subcommand(subparsers, "shell", cmd_shell, SHELL_HELP, SHELL_EXAMPLE))


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `newsbot run`."""
    parser.add_argument(
        "--concurrency",
        type=int,
        metavar="N",
        help="updates handled at once, across chats; one chat's are always in order (default: 2)",
    )
    parser.add_argument(
        "--role",
        choices=ROLES,
        default="all",
        help="what this process does: all (default), chat (takes updates), ingest (fetches "
        "feeds), send (delivers subscriptions); several processes share one PostgreSQL store",
    )
    parser.add_argument(
        "--poll-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="long-polling timeout of each getUpdates request (default: 30)",
    )


def add_shell_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `newsbot shell`."""
    parser.add_argument(
        "--language",
        choices=INTERFACE_LANGUAGES,
        help="interface language (default: the chat's, else from $LANG)",
    )
    parser.add_argument(
        "--sample",
        action="store_true",
        help="first import the sample articles shipped with newsbot (once: they are skipped "
        "the next time)",
    )


async def cmd_run(args: argparse.Namespace, config: Config, clock: Clock) -> int:
    """Serve Telegram until SIGINT/SIGTERM; ConfigError (exit 2) for a missing or refused
    token, NewsbotError (exit 1) when the Bot API cannot be reached."""
    # Telegram and everything behind the application: loaded when the command runs, for the
    # start-up speed of the other commands (see bot/cli/_common.py).
    from bot.app import create_application
    from bot.chat.application import DEFAULT_CONCURRENCY, serve

    config.require_token()
    webhook = config.telegram.webhook
    if webhook is not None and not webhook.secret_token:
        raise ConfigError(
            "telegram.webhook.secret_token: missing; without it anyone who finds the URL "
            "can send the bot fake updates"
        )
    concurrency = DEFAULT_CONCURRENCY if args.concurrency is None else args.concurrency
    if concurrency < 1:
        raise ConfigError("--concurrency: expected a positive integer")
    # The start line (role, store, processes seen, rate share) is said once the bot is up,
    # so that a failure at start-up stays one line.
    started: list[str] = []

    def on_ready(how: str) -> None:
        for line in started:
            err(f"newsbot run: {line}")
        err(f"newsbot run: {how}; Ctrl-C stops")

    application = create_application(
        config,
        clock=clock,
        concurrency=concurrency,
        role=args.role,
        announce=started.append,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)

    def on_signal() -> None:
        # The first signal stops gracefully; the default handlers come back so that a second
        # Ctrl-C interrupts a shutdown that hangs.
        stop.set()
        for sig in signals:
            loop.remove_signal_handler(sig)

    for sig in signals:
        loop.add_signal_handler(sig, on_signal)
    try:
        await serve(
            application,
            stop,
            webhook=webhook,
            poll_timeout=args.poll_timeout,
            ready=on_ready,
        )
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
    err("newsbot run: stopped")
    return EXIT_OK


async def cmd_shell(args: argparse.Namespace, config: Config, clock: Clock) -> int:
    """Talk to the bot in the terminal until /quit or end of input."""
    # Telegram and everything behind the application: loaded when the command runs, for the
    # start-up speed of the other commands (see bot/cli/_common.py).
    from bot.app import create_application
    from bot.chat.application import running
    from bot.chat.shell import (
        SHELL_CHAT_ID,
        Screen,
        ShellRequest,
        ShellUser,
        language_from_env,
        run_shell,
    )

    if args.sample:
        report = await import_sample(config, clock)
        err(f"newsbot shell: sample articles: {report.summary_line()}")
    interactive = sys.stdin.isatty()
    screen = Screen(sys.stdout, color=sys.stdout.isatty() and "NO_COLOR" not in os.environ)
    application = create_application(
        config,
        clock=clock,
        request=ShellRequest(screen, clock),
        rate_limit=False,
        updater=False,
        jobs=(),
        deliver=False,
    )
    user = ShellUser(args.language or language_from_env(), _user_name())
    async with running(application):
        if args.language:
            services = application.bot_data.services
            assert services is not None
            await services.chats.set_language(SHELL_CHAT_ID, args.language)
        await run_shell(application, screen, sys.stdin, user, interactive=interactive, clock=clock)
    return EXIT_OK


def _user_name() -> str:
    """The login name, shown as the sender's first name; "you" when there is none."""
    try:
        return getpass.getuser() or "you"
    except (KeyError, OSError):
        return "you"
