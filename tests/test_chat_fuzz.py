"""Property-based hostile input for every chat command (Hypothesis).

Generated arguments (random text, control and bidi characters, joiners, markup, huge
surrogate-free strings, odd numbers) go to every command, as a plain message and as forged
button data, through the fake Bot API. Each answer must be valid Telegram HTML within
Telegram's limits (the fake API refuses anything else: any refused call fails the example),
a button notice at most 200 characters, and no update may end in the error handler.

One bot serves the whole module: it runs on its own event loop in a thread, and each example
hands it a message and waits for the answer.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from collections.abc import Coroutine, Iterator, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.chat import delivery_handlers, handlers
from bot.config import LinksConfig
from tests.fakebotapi import Call, parse_html, utf16_len
from tests.helpers import EN, FR, Bot, running_bot, seed

MAX_TEXT = 4096
MAX_NOTICE = 200
COMMANDS = sorted({*handlers.COMMAND_HANDLERS, *delivery_handlers.COMMAND_HANDLERS})
FUZZ = settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


async def no_address(host: str, port: int) -> Sequence[str]:
    """The resolver of the fuzzed bot: no link it is sent is ever fetched."""
    raise socket.gaierror(f"{host}: not resolved in this test")


class Errors(logging.Handler):
    """Every record at ERROR or above, of the bot's loggers."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class BotThread:
    """The running bot on its own event loop, driven from the (synchronous) examples."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.failure: BaseException | None = None
        self.bot: Bot | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._serve, name="fuzzed-bot", daemon=True)

    def __enter__(self) -> BotThread:
        self._thread.start()
        if not self.ready.wait(60) or self.bot is None:
            raise RuntimeError(f"the bot did not start: {self.failure!r}")
        return self

    def __exit__(self, *_: object) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(60)
        if self.failure is not None:
            raise self.failure

    def run(self, coroutine: Coroutine[Any, Any, list[Call]]) -> list[Call]:
        future: Future[list[Call]] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(60)

    def _serve(self) -> None:
        try:
            self.loop.run_until_complete(self._main())
        except BaseException as exc:
            self.failure = exc
        finally:
            self.ready.set()
            self.loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        ids = await seed(self.url)
        links = LinksConfig(timeout_seconds=1.0, per_user_per_minute=10_000)
        async with running_bot(
            self.url, ids, links=links, resolver=no_address, admins=(FR.id,)
        ) as bot:
            self.bot = bot
            self.ready.set()
            await self._stop.wait()


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[BotThread, Errors]]:
    path: Path = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    errors = Errors()
    logger = logging.getLogger("bot")
    logger.addHandler(errors)
    try:
        with BotThread(f"sqlite+aiosqlite:///{path}") as thread:
            yield thread, errors
    finally:
        logger.removeHandler(errors)


# -- what a hostile user types ---------------------------------------------------------------

HOSTILE_CHARS = (
    "\x00\x01\x07\x08\x0b\x0c\x1b\x7f\x85\x9f"  # C0 and C1 controls
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"  # bidi
    "\u200b\u200c\u200d\u2060\ufeff\u00ad"  # zero-width, joiners, soft hyphen
    "\u2028\u2029\u00a0\u202f\u3000"  # separators and spaces
    "<>&\"'`/\\#@+-:*()[]{}%$_|~^"  # markup and query syntax
    "éÉßœﬁİıΣς١٢٣²½ⅷ𝟗"  # folding, digits that are not ASCII
    "👨👩👧🏳️‍🌈🇫🇷"  # emoji: 2 UTF-16 units, joiners, flags
)

chars = st.one_of(
    st.characters(codec="utf-8", exclude_categories=("Cs",)),
    st.sampled_from(HOSTILE_CHARS),
)
# A huge word: the same character up to the largest message, after a prefix a command reads
# (a filter's sign, an article number's "#", a URL's scheme...).
huge = st.builds(
    lambda prefix, char, count: prefix + char * count,
    st.sampled_from(["", "+", "-", "#", "art_", "http://", "https://example.org/", "<", "&"]),
    chars,
    st.integers(1000, 4100),
)
words = st.one_of(
    st.text(chars, min_size=1, max_size=30),
    st.sampled_from(
        [
            "économie",
            "Économie",
            "culture",
            "all",
            "off",
            "non",
            "tout",
            "fr",
            "en",
            "#1",
            "art_1",
            "Europe/Paris",
            "UTC",
            "08:00",
            "22:00-07:00",
            "24:60",
            "99:99-00:00",
            "http://",
            "https://example.org/a",
            "http://[::1]/",
            "javascript:alert(1)",
            "<b>gras</b>",
            "<a href='x'>",
            "&amp;",
            "&#0;",
            "+",
            "-",
            "+bourse",
            "-<i>",
        ]
    ),
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(
        [
            "0",
            "-0",
            "+1",
            "00001",
            "1e9999",
            "nan",
            "inf",
            "-inf",
            "0x10",
            "9" * 19,
            "9" * 20,
            "1_000",
            "٣",
            "²",
            "½",
            "1.5",
            "1,5",
        ]
    ),
    huge,
)
arguments = st.one_of(
    st.lists(words, max_size=6).map(" ".join),
    # A category the store has first, as /subscribe and /latest read it, then anything.
    st.builds(
        lambda name, rest: f"{name} {rest}",
        st.sampled_from(["économie", "Culture", "world", "Jeux"]),
        st.lists(words, min_size=1, max_size=4).map(" ".join),
    ),
)


def message(command: str, args: str) -> str:
    """`/command args`, cut to the largest message a user can send."""
    text = f"/{command} {args}" if args else f"/{command}"
    while utf16_len(text) > MAX_TEXT:
        text = text[: -max(1, (utf16_len(text) - MAX_TEXT) // 2)]
    return text


def check(calls: list[Call], errors: Errors, what: str) -> None:
    refused = [(c.method, c.error) for c in calls if not c.ok]
    assert not refused, f"{what!r}: the fake Bot API refused {refused}"
    for call in calls:
        if call.method in ("sendMessage", "editMessageText"):
            assert utf16_len(call.text) <= MAX_TEXT, what
            if (call.params.get("parse_mode") or "").upper() == "HTML":
                parse_html(call.text)  # raises where Telegram would refuse the HTML
        if call.method == "answerCallbackQuery":
            assert len(call.params.get("text") or "") <= MAX_NOTICE, what
    failed = [r.getMessage()[:300] for r in errors.records]
    errors.records.clear()
    assert not failed, f"{what!r} ended in the error handler: {failed}"


@pytest.mark.parametrize("command", COMMANDS)
@FUZZ
@given(args=arguments, english=st.booleans())
def test_every_command_answers_hostile_arguments_within_telegrams_limits(
    fuzzed: tuple[BotThread, Errors], command: str, args: str, english: bool
) -> None:
    thread, errors = fuzzed
    assert thread.bot is not None
    text = message(command, args)
    calls = thread.run(thread.bot.send(text, user=EN if english else FR))
    check(calls, errors, text)


@FUZZ
@given(text=st.one_of(arguments, huge))
def test_a_hostile_plain_message_or_unknown_command_is_answered_within_limits(
    fuzzed: tuple[BotThread, Errors], text: str
) -> None:
    thread, errors = fuzzed
    assert thread.bot is not None
    for sent in (message("nosuch", text), text[: MAX_TEXT // 2] or "?"):
        if not sent.strip():
            continue
        calls = thread.run(thread.bot.send(sent))
        check(calls, errors, sent)


@FUZZ
@given(data=st.text(chars, max_size=64).filter(lambda d: len(d.encode()) <= 64))
def test_forged_button_data_is_answered_within_limits(
    fuzzed: tuple[BotThread, Errors], data: str
) -> None:
    thread, errors = fuzzed
    bot = thread.bot
    assert bot is not None
    listing = only_message(thread.run(bot.send("/settings")))
    calls = thread.run(bot.press_data(listing, data))
    check(calls, errors, data)


def only_message(calls: list[Call]) -> Call:
    sent = [c for c in calls if c.method == "sendMessage" and c.ok]
    assert len(sent) == 1
    return sent[0]
