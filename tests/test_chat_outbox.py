"""The outbox's reading of Telegram's answers, at the HTTP level (httpx.MockTransport): which
timeouts are retried and which are recorded as unconfirmed, so that no message is sent twice
when Telegram may already have delivered it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.chat.i18n import Html
from bot.chat.outbox import TelegramOutbox
from bot.chat.render import View
from bot.config import SummaryConfig
from bot.deliver.sender import Outcome
from bot.errors import NotFound
from bot.models import Article, Category, Chat, ClaimedDelivery
from bot.services.chats import ChatService
from bot.text import fold
from tests.helpers import START, FakeClock

ME = {"id": 1, "is_bot": True, "first_name": "newsbot", "username": "newsbot_test_bot"}


def bot_answering(send: Callable[[httpx.Request], httpx.Response]) -> Bot:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/getMe"):
            return httpx.Response(200, json={"ok": True, "result": ME})
        return send(request)

    request = HTTPXRequest(httpx_kwargs={"transport": httpx.MockTransport(handler)})
    return Bot("1:x", request=request)


def raising(exc: type[httpx.TimeoutException]) -> Callable[[httpx.Request], httpx.Response]:
    def send(request: httpx.Request) -> httpx.Response:
        raise exc("timed out", request=request)

    return send


def error(code: int, description: str, **parameters: object) -> Callable[..., httpx.Response]:
    body = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return lambda request: httpx.Response(code, content=json.dumps(body).encode())


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (raising(httpx.ReadTimeout), "unconfirmed"),  # sent; Telegram may have delivered it
        (raising(httpx.ConnectTimeout), "retry"),  # never left: safe to send again
        (raising(httpx.PoolTimeout), "retry"),
        (error(429, "Too Many Requests: retry after 7", retry_after=7), "retry"),
        (error(403, "Forbidden: bot was blocked by the user"), "gone"),
        (error(400, "Bad Request: chat not found"), "gone"),
        (error(400, "Bad Request: group chat was upgraded", migrate_to_chat_id=-100), "moved"),
        (error(400, "Bad Request: message is too long"), "failed"),
        (error(502, "Bad Gateway"), "retry"),
    ],
)
async def test_each_answer_has_its_outcome(
    answer: Callable[[httpx.Request], httpx.Response], kind: str
) -> None:
    bot = bot_answering(answer)
    await bot.initialize()
    chats = ChatService(None, SummaryConfig(), clock=FakeClock())  # type: ignore[arg-type]
    for chat_id in (42, -100):
        chats._remember(Chat(chat_id, "fr", {}))
    try:
        outbox = TelegramOutbox(bot, None, chats, None)  # type: ignore[arg-type]
        outcome = await outbox._send(42, View(Html("<b>hello</b>")))
    finally:
        await bot.shutdown()
    assert outcome.kind == kind
    if kind == "moved":
        assert outcome.new_chat_id == -100
        # The chat moves to -100: neither id keeps preferences cached from before.
        assert chats.cached(42) is None and chats.cached(-100) is None
    else:
        assert chats.cached(42) is not None


async def test_flood_control_carries_its_wait() -> None:
    bot = bot_answering(error(429, "Too Many Requests: retry after 7", retry_after=7))
    await bot.initialize()
    try:
        outcome = await TelegramOutbox(bot, None, None, None)._send(  # type: ignore[arg-type]
            42, View(Html("hi"))
        )
    finally:
        await bot.shutdown()
    assert outcome.kind == "retry" and outcome.retry_after == 7


# -- a broadcast draws its post once for all the chats that want it the same way -----------------


class Articles:
    """What the outbox reads of the article service; counts the summaries it is asked for."""

    def __init__(self, article: Article) -> None:
        self.current: Article | None = article
        self.summaries: list[tuple[int, str]] = []

    async def article(self, article_id: int) -> Article:
        await asyncio.sleep(0)  # a read from the store
        if self.current is None:
            raise NotFound(f"no article {article_id}")
        return self.current

    async def summary(self, article_id: int, *, sentences: int, algorithm: str) -> Any:
        self.summaries.append((sentences, algorithm))
        phrases = [f"Phrase {n} du résumé par {algorithm}." for n in range(1, sentences + 1)]
        return SimpleNamespace(sentences=phrases)

    async def find_category(self, name: str) -> Category | None:
        return Category(3, name, fold(name))


def claim(chat_id: int, language: str = "fr", **settings: object) -> ClaimedDelivery:
    return ClaimedDelivery(chat_id, chat_id, 1, 0, language, dict(settings), None)


async def test_a_post_is_drawn_once_per_way_chats_want_it() -> None:
    article = Article(
        1, "Les retraites", "Une phrase. " * 20, "https://news.example.org/a/1", None,
        "Nadia Benali", START, "Économie", "fr", None, "hash-1", START,
    )  # fmt: skip
    articles = Articles(article)
    chats = ChatService(None, SummaryConfig(), clock=FakeClock())  # type: ignore[arg-type]
    outbox = TelegramOutbox(None, articles, chats, None)  # type: ignore[arg-type]

    async def view(c: ClaimedDelivery) -> Any:
        ready = await outbox._article_view(c)
        assert not isinstance(ready, Outcome)
        return ready

    # The chats claimed together (the start of a broadcast) wait for one drawing.
    first, *others = await asyncio.gather(*(view(claim(chat)) for chat in range(100, 140)))
    assert all(other is first for other in others)
    assert await view(claim(101)) is first  # another chat, the same settings
    assert await view(claim(-102, sentences=3)) is first  # 3 is the default length
    assert len(articles.summaries) == 1
    # Each setting the post depends on draws another.
    english = await view(claim(103, "en"))
    assert english.post.view.text != first.post.view.text
    shorter = await view(claim(104, sentences=1))
    assert shorter.post.view.text.count("Phrase") == 1 < first.post.view.text.count("Phrase")
    other = await view(claim(105, algorithm="lexrank"))
    assert "par lexrank" in other.post.view.text and "par lexrank" not in first.post.view.text
    untitled = await view(claim(106, format={"title": False}))
    assert "Les retraites" in first.post.view.text
    assert "Les retraites" not in untitled.post.view.text
    silent = await view(claim(107, silent="always"))
    assert silent.always_silent and not first.always_silent
    assert await view(claim(108, format={"title": False})) is untitled
    # A new copy of the article (read again from the store) is drawn again.
    articles.current = replace(article, title="Les retraites, suite")
    assert "suite" in (await view(claim(109))).post.view.text
    articles.current = None  # gone from the store
    assert await outbox._article_view(claim(110)) == Outcome(
        "failed", "the article no longer exists"
    )
