"""Hostile input in the chat: the largest message a user can send echoed back, names as long as
the store keeps, control and bidi characters, a store busy in another process. Every answer
must be valid Telegram HTML within Telegram's limits (the fake Bot API refuses anything else)
and no update may end in the error handler.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.chat import render
from bot.deliver.rules import PushRules
from bot.errors import StoreBusy
from bot.models import Article, NewArticle
from bot.store import impatient, open_store
from bot.text import clean_line, normalize_body
from tests.fakebotapi import Call, User, utf16_len
from tests.helpers import EN, FR, Bot, FakeClock, only, running_bot, seed, shown

# The largest text a user can send in one message (Telegram's limit, UTF-16 code units).
MAX_INPUT = 4096
LONG_CATEGORY = "Catégorie" + "x" * 5000


def fill(prefix: str, char: str = "z") -> str:
    """`prefix` followed by `char` up to the largest message a user can send."""
    return prefix + char * ((MAX_INPUT - utf16_len(prefix)) // utf16_len(char))


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"
    ids = await seed(url)
    store = await open_store(url, clock=FakeClock(), rules=PushRules())
    try:
        added = await store.add_articles(
            [
                NewArticle(
                    title="Un article d’une rubrique au nom démesuré",
                    text="Une phrase. " * 20,
                    url="https://news.example.org/long-category",
                    published=datetime(2025, 11, 26, 12, tzinfo=UTC),
                    category=LONG_CATEGORY,
                    language="fr",
                )
            ]
        )
    finally:
        await store.close()
    ids["long_category"] = added.ids[0]
    async with running_bot(url, ids) as running:
        yield running


def answered(calls: list[Call]) -> str:
    reply = only(calls, "sendMessage")
    assert utf16_len(reply.text) <= MAX_INPUT
    return shown(reply)


def errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


# -- echoed input at the largest message a user can send ----------------------------------------

ECHOING = [
    fill("/subscribe Économie -"),  # a filter word, echoed in "Filters: ..."
    fill("/subscribe Économie +", "<"),  # not a plain word: echoed in the refusal
    fill("/subscribe "),  # an unknown category, echoed with suggestions
    fill("/subscribe Économie ", "é"),
    fill("/unsubscribe "),
    fill("/latest "),
    fill("/latest ", "&"),
    fill("/search "),
    fill("/search ", "👨‍👩‍👧"[0]),  # an emoji counts 2 UTF-16 units
    fill("/timezone "),
    fill("/digest "),
    fill("/quiet "),
    fill("/language "),
    fill("/summarize "),
    fill("/summarize http://"),
    fill("/summary "),
    fill("/full "),
    fill("/start "),
    fill("/nosuchcommand"),
    fill(""),  # a plain message: a search
    fill("", "\u202e"),
]


@pytest.mark.parametrize("text", ECHOING, ids=lambda text: text[:20].strip())
async def test_a_reply_echoing_the_largest_message_fits(
    bot: Bot, caplog: pytest.LogCaptureFixture, text: str
) -> None:
    assert utf16_len(text) <= MAX_INPUT
    with caplog.at_level(logging.ERROR):
        for user in (FR, EN):
            answered(await bot.send(text, user=user))
    assert not errors(caplog)


async def test_a_filter_word_is_echoed_shortened(bot: Bot) -> None:
    # Before: the refusal quoted the whole word, 4,182 UTF-16 units, and Telegram refused it.
    reply = answered(await bot.send(fill("/subscribe Économie -")))
    assert reply.startswith("« -zzzz") and "z… » n’est pas un filtre" in reply


async def test_a_category_name_as_long_as_the_store_keeps_is_shortened_everywhere(
    bot: Bot,
) -> None:
    listing = only(await bot.send("/categories"), "sendMessage")
    assert utf16_len(listing.text) <= MAX_INPUT
    assert "Catégoriexxx" in shown(listing) and "x…" in shown(listing)
    # Its own name, typed in full, would be longer than a message: the first 4,000 characters
    # match nothing, and the suggestions are shortened.
    answered(await bot.send(fill("/latest Catégorie", "x")))
    answered(await bot.send(fill("/subscribe Catégorie", "x")))
    answered(await bot.send(fill("/unsubscribe Catégorie", "x")))


async def test_subscribing_by_button_to_a_long_category_gives_a_short_notice(bot: Bot) -> None:
    store = bot.store
    found = [c for c in await store.categories() if c.name == LONG_CATEGORY]
    assert found
    listing = only(await bot.send("/categories"), "sendMessage")
    notice = only(await bot.press_data(listing, f"n:{found[0].id}"), "answerCallbackQuery")
    assert len(notice.params["text"]) <= 200
    assert "…" in notice.params["text"]
    subs = only(await bot.send("/subscriptions"), "sendMessage")
    assert utf16_len(subs.text) <= MAX_INPUT
    notice = only(await bot.press_data(listing, f"x:{found[0].id}"), "answerCallbackQuery")
    assert len(notice.params["text"]) <= 200


# -- the store busy in another process ------------------------------------------------------------


@pytest.fixture
def write_lock(bot: Bot) -> Iterator[Callable[[], None]]:
    """Take SQLite's write lock in another connection (as another process would: an import, a
    second bot) until the test calls the returned function."""
    engine = bot.store.engine
    database = engine.url.database
    assert database
    other = sqlite3.connect(database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    released = False

    def release() -> None:
        nonlocal released
        if not released:
            other.execute("ROLLBACK")
            other.close()
            released = True

    yield release
    release()


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        (FR, "⏳ Je suis occupé pour l’instant : réessayez dans un moment."),
        (EN, "⏳ I’m busy right now: please try again in a moment."),
    ],
)
async def test_a_write_while_another_process_holds_the_lock_answers_busy(
    bot: Bot,
    write_lock: Callable[[], None],
    caplog: pytest.LogCaptureFixture,
    user: User,
    expected: str,
) -> None:
    started = time.monotonic()
    with caplog.at_level(logging.INFO):
        reply = answered(await bot.send("/subscribe économie", user=user))
    waited = time.monotonic() - started
    # Before: 30 s of waiting, then "Oops" and a traceback in the log.
    assert reply == expected
    assert waited < 10
    assert not errors(caplog)
    busy = [r for r in caplog.records if "try again" in r.getMessage()]
    assert len(busy) == 1 and busy[0].exc_info is None and busy[0].levelno == logging.WARNING
    assert "\n" not in busy[0].getMessage()
    write_lock()
    reply = answered(await bot.send("/subscribe économie", user=user))
    assert reply.startswith("✅")


async def test_a_button_while_another_process_holds_the_lock_says_busy(
    bot: Bot, write_lock: Callable[[], None]
) -> None:
    write_lock()  # /settings itself writes the chat on first contact: take the lock after it
    settings = only(await bot.send("/settings"), "sendMessage")
    other = sqlite3.connect(bot.store.engine.url.database or "", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        notice = only(await bot.press_data(settings, "o:n:3"), "answerCallbackQuery")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert notice.params["text"] == "Occupé pour l’instant : réessayez dans un moment."
    assert str(notice.params["show_alert"]).lower() == "true"


async def test_the_store_raises_store_busy_when_the_lock_outlasts_its_patience(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'busy.db'}"
    store = await open_store(url, clock=FakeClock(), rules=PushRules())
    other = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with impatient(0.2), pytest.raises(StoreBusy, match="database is locked"):
            await store.upsert_chat(42, language="fr")
        assert time.monotonic() - started < 5
        assert await store.latest(5) == []  # reads go on beside the writer (WAL)
        other.execute("ROLLBACK")
        with impatient(0.2):
            await store.upsert_chat(42, language="fr")
    finally:
        other.close()
        await store.close()


# -- small ones (issue 13, part 7) ---------------------------------------------------------------

FAMILY = "👨\u200d👩\u200d👧"
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def article(url: str | None, **fields: object) -> Article:
    values: dict[str, object] = {
        "id": 1,
        "title": "Titre",
        "text": "Texte.",
        "url": url,
        "guid": None,
        "author": None,
        "published": datetime(2025, 11, 26, tzinfo=UTC),
        "category": None,
        "language": "fr",
        "feed_id": None,
        "content_hash": "h",
        "stored_at": datetime(2025, 11, 26, tzinfo=UTC),
    }
    values.update(fields)
    return Article(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "site"),
    [
        ("http://[2001:db8::1]/a", "[2001:db8::1]"),  # before: "["
        ("https://[::1]:8443/a?b=c", "[::1]"),
        ("https://user@[2001:DB8::2]:80/", "[2001:db8::2]"),
        ("https://www.LeMonde.fr:443/x", "lemonde.fr"),
        ("http://192.0.2.7:8080/x", "192.0.2.7"),
        ("http://[::1/broken", None),
        ("ftp://example.org/x", None),
        (None, None),
    ],
)
def test_the_site_of_a_byline_comes_from_a_url_parser(url: str | None, site: str | None) -> None:
    assert render.source(article(url)) == site


def test_bidi_controls_are_stripped_and_joiners_kept() -> None:
    # Before: U+202E stayed (reversing the rest of the line) and the joiners of 👨‍👩‍👧 went.
    assert clean_line(f"Famille {FAMILY}\u202e gpj.exe") == f"Famille {FAMILY} gpj.exe"
    assert clean_line(f"a{BIDI}b\u200cc\u200e") == "ab\u200cc\u200e"
    assert normalize_body(f"{FAMILY}\u2067x\n\n\u202ey") == f"{FAMILY}x\n\ny"


async def test_titles_and_categories_show_no_bidi_control_and_keep_families(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'bidi.db'}"
    store = await open_store(url, clock=FakeClock(), rules=PushRules())
    try:
        added = await store.add_articles(
            [
                NewArticle(
                    title=f"La {FAMILY} \u202egpj.exe",
                    text="Une phrase assez longue pour un résumé. " * 5,
                    url="http://[2001:db8::1]/famille",
                    published=datetime(2025, 11, 26, 12, tzinfo=UTC),
                    category="Société\u202e",
                    language="fr",
                )
            ]
        )
    finally:
        await store.close()
    async with running_bot(url, {"bidi": added.ids[0]}) as bot:
        for command in ("/latest", f"/summary {added.ids[0]}", "/categories"):
            reply = answered(await bot.send(command))
            assert not set(BIDI) & set(reply), command
        reply = answered(await bot.send(f"/summary {added.ids[0]}"))
        assert f"La {FAMILY} gpj.exe" in reply
        assert "Société · [2001:db8::1] ·" in reply


@pytest.mark.parametrize(
    ("data", "fr", "en"),
    [
        ("c:999999", "Cette rubrique n’existe plus.", "This category no longer exists."),
        ("n:999999", "Cette rubrique n’existe plus.", "This category no longer exists."),
        ("x:999999", "Cette rubrique n’existe plus.", "This category no longer exists."),
        ("g:999999:1", "Cette sélection n’existe plus.", "This digest no longer exists."),
        ("S:999999", "Cet article n’existe plus.", "This article no longer exists."),
    ],
)
async def test_a_button_of_something_gone_says_what_is_gone(
    bot: Bot, data: str, fr: str, en: str
) -> None:
    for user, expected in ((FR, fr), (EN, en)):
        listing = only(await bot.send("/categories", user=user), "sendMessage")
        notice = only(await bot.press_data(listing, data, user=user), "answerCallbackQuery")
        assert notice.params["text"] == expected, data


async def test_a_url_over_2048_characters_is_told_it_is_too_long(bot: Bot) -> None:
    url = "https://example.org/" + "a" * 2100
    reply = answered(await bot.send(f"/summarize {url}"))
    # Before: "Je ne lis que les liens qui commencent par http:// ou https://."
    assert reply == "Ce lien est trop long : 2\u202f048 caractères au plus."
    reply = answered(await bot.send(url, user=EN))
    assert reply == "This link is too long: 2,048 characters at most."
