"""The sender's HTTP layer (`bot.chat.transport`) against a real HTTP server on 127.0.0.1 that
answers as servers do: a body of known length or chunked, keep-alive or not, and the failures
a sender meets: no answer after the request was written (recorded as unconfirmed, never sent
twice), a connection closed without an answer (retried), a connection the server closed while
it was idle (a new one is opened, nothing is lost)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from telegram import Bot
from telegram.error import TelegramError

from bot.chat.callbacks import ShowSummary
from bot.chat.i18n import Html
from bot.chat.outbox import SenderBot, TelegramOutbox, _behind_proxy
from bot.chat.render import Button, View
from bot.chat.render_delivery import Post
from bot.chat.replies import send_post
from bot.chat.transport import BotAPIRequest
from bot.deliver.sender import Outcome
from tests.helpers import until

Answer = bytes | str | None
ME = {"id": 1, "is_bot": True, "first_name": "newsbot", "username": "newsbot_test_bot"}
SENT = {"message_id": 7, "date": 0, "chat": {"id": 42, "type": "private"}, "text": "hello"}


class Server:
    """HTTP/1.1 on 127.0.0.1: getMe answers the bot; each sendMessage is answered by the next
    of `answers` (raw bytes after reading the request, or None: never answer, or "close":
    close without answering). It records the connections and the requests' JSON bodies."""

    def __init__(self, answers: list[Answer]) -> None:
        self.answers = answers
        self.port = 0
        self.connections = 0
        self.bodies: list[dict[str, object]] = []
        self.writers: list[asyncio.StreamWriter] = []

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode().split("\r\n")
            headers = dict(line.split(": ", 1) for line in lines[1:] if line)
            body = await reader.readexactly(int(headers.get("Content-Length", 0)))
            if lines[0].split()[1].endswith("/getMe"):
                writer.write(answer(200, {"ok": True, "result": ME}))
                continue
            self.bodies.append(json.loads(body))
            reply = self.answers.pop(0)
            if reply is None:
                await asyncio.Event().wait()  # never answers
            if reply == "close":
                writer.close()
                return
            assert isinstance(reply, bytes)
            writer.write(reply)
            if b"Connection: close" in reply:
                writer.close()
                return


def answer(status: int, payload: object, *, close: bool = False, chunked: bool = False) -> bytes:
    body = json.dumps(payload).encode()
    head = f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
    if close:
        head += "Connection: close\r\n"
    if chunked:
        half = len(body) // 2
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in (body[:half], body[half:]))
        return (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + chunks + b"0\r\n\r\n"
    return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body


OK = answer(200, {"ok": True, "result": SENT})


Start = Callable[[list[Answer]], Awaitable[Server]]


@pytest.fixture
async def serving() -> AsyncIterator[Start]:
    servers: list[tuple[asyncio.Server, Server]] = []

    async def start(answers: list[Answer]) -> Server:
        server = Server(answers)
        listening = await asyncio.start_server(server.serve, "127.0.0.1", 0)
        server.port = listening.sockets[0].getsockname()[1]
        servers.append((listening, server))
        return server

    yield start
    for listening, server in servers:
        listening.close()
        for writer in server.writers:
            writer.close()


async def outbox_on(server: Server, read_timeout: float = 5.0) -> TelegramOutbox:
    bot = SenderBot(
        "1:x",
        base_url=f"http://127.0.0.1:{server.port}/bot",
        request=BotAPIRequest(4, read_timeout=read_timeout),
    )
    await bot.initialize()
    return TelegramOutbox(bot, None, None, None)  # type: ignore[arg-type]


async def send(outbox: TelegramOutbox, text: str = "hello") -> str:
    return (await outbox._send(42, View(Html(f"<b>{text}</b>")))).kind


async def test_messages_go_as_json_on_one_kept_connection(serving: Start) -> None:
    server = await serving([OK, answer(200, {"ok": True, "result": SENT}, chunked=True), OK])
    outbox = await outbox_on(server)
    try:
        assert [await send(outbox, f"n{i}") for i in range(3)] == ["sent"] * 3
    finally:
        await outbox.close()
    assert server.connections == 1
    assert [b["text"] for b in server.bodies] == ["<b>n0</b>", "<b>n1</b>", "<b>n2</b>"]
    assert server.bodies[0]["chat_id"] == 42 and server.bodies[0]["parse_mode"] == "HTML"


async def test_a_connection_the_server_closes_is_not_reused(serving: Start) -> None:
    server = await serving([answer(200, {"ok": True, "result": SENT}, close=True), OK])
    outbox = await outbox_on(server)
    try:
        assert await send(outbox) == "sent"
        assert await send(outbox) == "sent"
    finally:
        await outbox.close()
    assert server.connections == 2


async def test_an_idle_connection_closed_by_the_server_is_replaced(serving: Start) -> None:
    server = await serving([OK, OK])
    outbox = await outbox_on(server)
    try:
        assert await send(outbox) == "sent"
        for writer in server.writers:  # the server's keep-alive timeout
            writer.close()
        request = outbox.bot.request
        assert isinstance(request, BotAPIRequest)
        idle = [c for origin in request._origins.values() for c in origin._idle]
        await until(lambda: all(c.closed for c in idle), 5, "the client to see the close")
        assert await send(outbox) == "sent"
    finally:
        await outbox.close()
    assert server.connections == 2


async def test_no_answer_after_sending_is_unconfirmed_not_resent(serving: Start) -> None:
    server = await serving([None])
    outbox = await outbox_on(server, read_timeout=0.2)
    try:
        assert await send(outbox) == "unconfirmed"
    finally:
        await outbox.close()
    assert len(server.bodies) == 1


async def test_a_connection_closed_without_an_answer_is_retried(serving: Start) -> None:
    server = await serving(["close"])
    outbox = await outbox_on(server)
    try:
        assert await send(outbox) == "retry"
    finally:
        await outbox.close()


async def test_refusals_keep_their_meaning(serving: Start) -> None:
    flood = {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 3"}
    blocked = {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked"}
    server = await serving(
        [answer(429, {**flood, "parameters": {"retry_after": 3}}), answer(403, blocked)]
    )
    outbox = await outbox_on(server)
    try:
        flooded = await outbox._send(42, View(Html("hi")))
        assert (flooded.kind, flooded.retry_after) == ("retry", 3)
        assert await send(outbox) == "gone"
    finally:
        await outbox.close()
    assert server.connections == 1


@pytest.mark.parametrize(
    ("environment", "proxied"),
    [
        ({}, False),
        ({"HTTPS_PROXY": "http://proxy:3128"}, True),
        ({"ALL_PROXY": "http://proxy:3128"}, True),
        ({"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "api.telegram.org"}, False),
        ({"HTTP_PROXY": "http://proxy:3128"}, False),  # not for an https:// API
    ],
)
def test_the_sender_goes_through_httpx_behind_a_proxy(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], proxied: bool
) -> None:
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    assert _behind_proxy("https://api.telegram.org/bot") is proxied


# -- the sender's posts: `SenderBot.push` encodes them itself ------------------------------------

ROWS = (
    (
        Button("Résumé ⇢", ShowSummary(1, 3)),
        Button("Article", url="https://news.example.org/a/1"),
    ),
)
POSTS = [
    Post(View(Html("<b>Titre</b> &amp; « texte » 🇫🇷"), ROWS)),
    Post(View(Html("<b>Titre</b>"))),
    Post(View(Html("<i>légende</i>"), ROWS), photo="http://127.0.0.1:9/lead.png"),
    Post(View(Html("<b>Titre</b>"), ROWS), preview="https://news.example.org/a/1"),
]


class Chats:
    """What the outbox asks of the chat service when a group moves."""

    def __init__(self) -> None:
        self.forgotten: list[int] = []

    def forget(self, chat_id: int) -> None:
        self.forgotten.append(chat_id)


async def sender_bot(server: Server, *, paid: bool = False) -> SenderBot:
    bot = SenderBot(
        "1:x",
        base_url=f"http://127.0.0.1:{server.port}/bot",
        request=BotAPIRequest(4),
        paid_broadcast=paid,
    )
    await bot.initialize()
    return bot


@pytest.mark.parametrize("paid", [False, True])
async def test_a_pushed_post_sends_what_ptb_sends(serving: Start, paid: bool) -> None:
    cases = [
        (post, silent, thread)
        for post in POSTS
        for silent in (False, True)
        for thread in (None, 17)
    ]
    server = await serving([OK] * len(cases) * 3)
    bot = await sender_bot(server, paid=paid)
    try:
        for post, silent, thread in cases:
            view, photo, preview = post.view, post.photo, post.preview
            await send_post(
                bot, 42, view, photo=photo, preview=preview, silent=silent, thread_id=thread
            )
            await bot.push(42, post, silent=silent, thread_id=thread)
            await bot.push(-1001, post, silent=silent, thread_id=thread)  # encoded once, reused
    finally:
        await bot.shutdown()
    for n, case in enumerate(cases):
        by_ptb, pushed, other = server.bodies[3 * n : 3 * n + 3]
        assert pushed == by_ptb, case
        assert other == {**by_ptb, "chat_id": -1001}, case
        assert ("allow_paid_broadcast" in pushed) is paid
    assert server.connections == 1


REFUSALS = [
    answer(429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 7",
                 "parameters": {"retry_after": 7}}),
    answer(403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked"}),
    answer(400, {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}),
    answer(400, {"ok": False, "error_code": 400,
                 "description": "Bad Request: message thread not found"}),
    answer(400, {"ok": False, "error_code": 400,
                 "description": "Bad Request: wrong type of the web page content"}),
    answer(400, {"ok": False, "error_code": 400, "description": "Bad Request: group chat was "
                 "upgraded to a supergroup chat", "parameters": {"migrate_to_chat_id": -1002}}),
    answer(502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}),
    answer(500, {"ok": False, "error_code": 500, "description": "Internal Server Error"}),
    b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nnot JSON!",
    "close",
]  # fmt: skip


async def outcome_of(outbox: TelegramOutbox) -> Outcome | str:
    """The outcome of sending a picture post to a topic, or the error the sender gets."""
    try:
        return await outbox._send_post(-1001, POSTS[2], False, thread_id=17)
    except TelegramError as exc:
        return f"{type(exc).__name__}: {exc.message}"


async def test_a_pushed_post_is_refused_as_ptb_refuses_it(serving: Start) -> None:
    """Each refusal becomes the same outcome whether PTB or `push` sent the post."""
    outcomes = {}
    for lean in (False, True):
        server = await serving(list(REFUSALS))
        bot: Bot = await sender_bot(server)
        if not lean:  # PTB's own path: a Bot that is not the sender's
            await bot.shutdown()
            bot = Bot("1:x", base_url=f"http://127.0.0.1:{server.port}/bot",
                      request=BotAPIRequest(4))  # fmt: skip
            await bot.initialize()
        outbox = TelegramOutbox(bot, None, Chats(), None)  # type: ignore[arg-type]
        try:
            outcomes[lean] = [await outcome_of(outbox) for _ in REFUSALS]
        finally:
            await outbox.close()
    assert outcomes[True] == outcomes[False]
    kinds = [o if isinstance(o, str) else o.kind for o in outcomes[True]]
    assert kinds == [
        "retry", "gone", "gone", "topic_gone", "failed", "moved", "retry", "retry",
        "TelegramError: Invalid server response", "retry",
    ]  # fmt: skip
    assert outcomes[True][0] == Outcome("retry", "flood control: retry after 7 s", retry_after=7)
    assert outcomes[True][5] == Outcome("moved", "the group became a supergroup", new_chat_id=-1002)


async def test_a_pushed_post_whose_html_is_refused_goes_as_plain_text(serving: Start) -> None:
    refused = answer(
        400, {"ok": False, "error_code": 400, "description": "Bad Request: can't parse entities"}
    )
    server = await serving([refused, OK, refused, OK])
    bot = await sender_bot(server)
    try:
        for post in (POSTS[0], POSTS[2]):
            await bot.push(42, post)
    finally:
        await bot.shutdown()
    html, plain, caption, plain_caption = server.bodies
    assert caption["parse_mode"] == "HTML"
    assert html["parse_mode"] == "HTML" and "parse_mode" not in plain
    assert plain["text"] == "Titre & « texte » 🇫🇷"
    assert {k: v for k, v in plain.items() if k not in ("text", "parse_mode")} == {
        k: v for k, v in html.items() if k not in ("text", "parse_mode")
    }
    assert plain_caption["caption"] == "légende" and "parse_mode" not in plain_caption
