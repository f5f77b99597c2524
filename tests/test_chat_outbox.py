"""The outbox's reading of Telegram's answers, at the HTTP level (httpx.MockTransport): which
timeouts are retried and which are recorded as unconfirmed, so that no message is sent twice
when Telegram may already have delivered it."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.chat.i18n import Html
from bot.chat.outbox import TelegramOutbox
from bot.chat.render import View
from bot.config import SummaryConfig
from bot.models import Chat
from bot.services.chats import ChatService
from tests.helpers import FakeClock

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
