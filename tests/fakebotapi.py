"""A small fake Telegram Bot API server for tests and benchmarks, on 127.0.0.1.

The bot under test talks to it over real HTTP through `telegram.api_base_url`, exactly as it
talks to Telegram. The server keeps what a Telegram client would show (messages, with their
buttons) and checks every request the way Telegram does, refusing with Telegram's own error
texts: HTML must be valid Telegram HTML (only its tags, balanced, only its entities), a text at
most 4096 UTF-16 code units, callback data at most 64 bytes, an edit must change something.

Tests play the user: `send_message()` and `press()` queue updates that the bot fetches with
getUpdates (long polling), and `wait_acknowledged()` waits until the bot has fetched them (it
asks for the next offset only after queueing them in its Application). Every call is recorded
in `calls`; `fail_next()` makes the next call of a method fail, e.g. with "can't parse
entities" to test the plain-text fallback.

Like Telegram, the server only hands out the update types the bot asked for in
`allowed_updates` (by default every type but chat_member and reactions); waiting for an update
the bot will never get fails at once with the reason.

Groups and channels:

    api.send_message(user, "/latest", chat_type="supergroup", chat_id=-100123)
    api.channel_post(-100777, "/latest")            # a post in a channel (no sender)
    api.set_member_status(-100123, user.id, "administrator")   # getChatMember's answer
    api.set_member_status(-100123, owner.id, "creator")        # both in getChatAdministrators

A group's chat id is negative (`-user.id` unless given); the chat's type and title are kept,
so the bot's own messages there describe the chat the same way. A member's status defaults to
"member"; "creator", "administrator", "member", "restricted", "left" and "kicked" are answered
with the fields PTB requires for each.

Errors, as Telegram words them (PTB turns them into RetryAfter, ChatMigrated, Forbidden):

    api.fail_next("sendMessage", "Too Many Requests: retry after 3", 429,
                  parameters={"retry_after": 3})
    api.fail_next("sendMessage", "Bad Request: group chat was upgraded to a supergroup chat",
                  parameters={"migrate_to_chat_id": -100123}, chat_id=-42)
    api.fail_next("sendMessage", BLOCKED, 403, chat_id=4242)   # or, for good: api.block(4242)

`chat_id` limits a failure to calls for that chat; `times` repeats it.

Telegram's flood limits, when asked for (`FakeBotAPI(flood=FloodLimits(per_second=30))`): a
message is refused with 429 and a `retry_after` when the server already accepted `per_second`
messages in the last second (a sliding window), one in the last second to that private chat,
or 20 in the last minute to that group; every accepted message is timestamped on arrival in
`sends` (monotonic time, chat id), and the refusals are counted in `flood_refused`.

One consumer per token, as Telegram: a getUpdates arriving while another waits ends the
waiting one with 409 Conflict ("terminated by other getUpdates request"), and getUpdates while
a webhook is set is a 409 too.

Forum topics (a supergroup with topics, `is_forum`):

    thread = api.create_topic(-100123, "Économie")     # the topic's message_thread_id
    api.send_message(user, "/subscribe économie", "supergroup", chat_id=-100123,
                     thread_id=thread)                  # a message in that topic
    api.close_topic(-100123, thread); api.reopen_topic(...); api.delete_topic(...)

The bot may also call createForumTopic, closeForumTopic, reopenForumTopic and
deleteForumTopic. As Telegram does, a `message_thread_id` must name an open topic of a forum:
a deleted topic, an unknown one or one in a chat without topics is "Bad Request: message
thread not found", a closed one "Bad Request: TOPIC_CLOSED". `topics` keeps each topic's state.

Inline mode (`inline_mode=True`, as /setinline does in BotFather):

    update_id, query_id = api.inline_query(user, "retraites")
    answer = api.inline_answers[query_id]         # results, next_offset, cache_time...
    message = api.choose_inline_result(user, query_id, answer["results"][0]["id"], chat_id=-42)

Pictures: sendPhoto takes a photo URL and fetches it as Telegram does, but only on
127.0.0.1 (tests never leave the machine): a URL elsewhere, one that does not answer or answers
an error is refused with "failed to get HTTP URL content", a page that is not an image with
"wrong type of the web page content" (answers are cached per URL, as Telegram caches them). A
caption is valid HTML of at most 1,024 characters counted after its entities are parsed; a
photo message has no text to edit. `link_preview_options` (only its known fields) and
`disable_notification` are recorded on each message (`options()`).

answerInlineQuery is checked as Telegram does (at most 50 results, unique ids of at most 64
bytes, next_offset of at most 64 bytes, each result's message text valid HTML of at most 4096
characters, its buttons valid); choosing a result posts its message in the chat "via" the bot,
as the user's client does, and queues a chosen_inline_result update (`inline_feedback`, as
/setinlinefeedback does).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

TOKEN = "123456:TEST-token_for-the-fake-api"
MAX_TEXT = 4096
MAX_CAPTION = 1024
# What Telegram answers when it cannot use a photo's URL.
PHOTO_UNREACHABLE = "Bad Request: failed to get HTTP URL content"
PHOTO_NOT_AN_IMAGE = "Bad Request: wrong type of the web page content"
PHOTO_BAD_URL = "Bad Request: wrong file identifier/HTTP URL specified"
_PREVIEW_FIELDS = frozenset(
    {"is_disabled", "url", "prefer_small_media", "prefer_large_media", "show_above_text"}
)
MAX_CALLBACK_DATA = 64
MAX_BUTTONS_PER_ROW = 8
MAX_BUTTONS = 100
MAX_INLINE_RESULTS = 50
MAX_INLINE_ID = 64
BLOCKED = "Forbidden: bot was blocked by the user"
# What Telegram sends when a bot never said which updates it wants.
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
MEMBER_STATUSES = ("creator", "administrator", "member", "restricted", "left", "kicked")

# Parameters whose form value is JSON (PTB sends every non-string parameter JSON-encoded).
_JSON_PARAMS = frozenset(
    {
        "reply_markup",
        "commands",
        "scope",
        "link_preview_options",
        "allowed_updates",
        "entities",
        "reply_parameters",
        "results",
        "button",
        "disable_notification",
    }
)

# -- Telegram HTML ------------------------------------------------------------------------------

_TAG = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'>]+))?)*)\s*>"
)
_ATTR = re.compile(r"([a-zA-Z-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'>]+)))?")
_PLAIN = re.compile(r"[^<&]+")
_ENTITY = re.compile(r"&(?:amp|lt|gt|quot|#[0-9]{1,7}|#x[0-9a-fA-F]{1,6});")
_SIMPLE_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "tg-spoiler", "pre"}
)


class HtmlError(ValueError):
    """Text Telegram would refuse with "can't parse entities"."""


def _check_tag(name: str, attrs: dict[str, str], stack: list[str]) -> None:
    if name in _SIMPLE_TAGS:
        if attrs:
            raise HtmlError(f"unsupported attribute in <{name}>")
    elif name == "a":
        if set(attrs) != {"href"} or not attrs["href"]:
            raise HtmlError("<a> needs exactly an href")
        if "a" in stack:
            raise HtmlError("nested <a>")
    elif name == "span":
        if attrs != {"class": "tg-spoiler"}:
            raise HtmlError('<span> must be <span class="tg-spoiler">')
    elif name == "code":
        if attrs and (
            set(attrs) != {"class"}
            or not attrs["class"].startswith("language-")
            or not stack
            or stack[-1] != "pre"
        ):
            raise HtmlError('<code class> only as <pre><code class="language-...">')
    elif name == "blockquote":
        if set(attrs) - {"expandable"}:
            raise HtmlError("unsupported attribute in <blockquote>")
    else:
        raise HtmlError(f'unsupported start tag "{name}"')


def parse_html(text: str) -> str:
    """The plain text Telegram shows for HTML `text`; HtmlError where Telegram refuses it."""
    stack: list[str] = []
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "<":
            match = _TAG.match(text, i)
            if match is None:
                raise HtmlError(f'unexpected "<" at byte offset {len(text[:i].encode())}')
            closing, name, raw_attrs = match.group(1), match.group(2).lower(), match.group(3)
            if closing:
                if raw_attrs.strip():
                    raise HtmlError(f"attributes in end tag </{name}>")
                if not stack or stack[-1] != name:
                    raise HtmlError(f"unmatched end tag </{name}>")
                stack.pop()
            else:
                attrs = {
                    m.group(1).lower(): next((g for g in m.groups()[1:] if g is not None), "")
                    for m in _ATTR.finditer(raw_attrs)
                }
                _check_tag(name, attrs, stack)
                stack.append(name)
            i = match.end()
        elif char == "&":
            match = _ENTITY.match(text, i)
            if match is None:
                raise HtmlError(f"unsupported entity at byte offset {len(text[:i].encode())}")
            entity = match.group(0)
            out.append(
                {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"'}.get(entity)
                or chr(int(entity[3:-1], 16) if entity[2] == "x" else int(entity[2:-1]))
            )
            i = match.end()
        else:
            run = _PLAIN.match(text, i)
            assert run is not None
            out.append(run.group(0))
            i = run.end()
    if stack:
        raise HtmlError(f"unclosed start tag <{stack[-1]}>")
    return "".join(out)


def utf16_len(text: str) -> int:
    """Length as Telegram counts it."""
    return len(text.encode("utf-16-le")) // 2


# -- state --------------------------------------------------------------------------------------


class ApiError(Exception):
    """A refusal, as Telegram words it, with its `parameters` (retry_after...) if any."""

    def __init__(
        self, description: str, code: int = 400, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.description = description
        self.code = code
        self.parameters = parameters or {}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass
class Call:
    """One request the bot made, and whether the server accepted it."""

    method: str
    params: dict[str, Any]
    ok: bool = True
    error: str | None = None
    result: Any = None

    @property
    def text(self) -> str:
        """The text sent (HTML as sent), "" if none."""
        return str(self.params.get("text", ""))

    @property
    def buttons(self) -> list[list[dict[str, Any]]]:
        """The inline keyboard sent, as rows of button dicts."""
        markup = self.params.get("reply_markup") or {}
        return list(markup.get("inline_keyboard", []))

    @property
    def thread_id(self) -> int | None:
        """The forum topic the call addressed (`message_thread_id`), None for none."""
        return _int(self.params.get("message_thread_id"))

    @property
    def labels(self) -> list[str]:
        """Every button's label, in order."""
        return [button["text"] for row in self.buttons for button in row]


@dataclass
class User:
    """A Telegram user the test plays."""

    id: int = 4242
    first_name: str = "Camille"
    language_code: str | None = "fr"

    def as_user(self) -> Any:
        """The PTB `telegram.User` a bot sees for this user."""
        from telegram import User as TelegramUser

        return TelegramUser(
            self.id, self.first_name, is_bot=False, language_code=self.language_code
        )

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.language_code:
            data["language_code"] = self.language_code
        return data


@dataclass
class _Failure:
    method: str
    description: str
    code: int
    times: int
    parameters: dict[str, Any] | None = None
    chat_id: int | None = None

    def applies(self, method: str, params: dict[str, Any]) -> bool:
        if method != self.method:
            return False
        return self.chat_id is None or str(params.get("chat_id")) == str(self.chat_id)


# Methods that post a message in a chat, which Telegram's flood limits count.
SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument", "sendMediaGroup"})
CONFLICT_POLL = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)
CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to "
    "delete the webhook first"
)


@dataclass(frozen=True)
class FloodLimits:
    """Telegram's broadcast limits: messages per second overall (sliding window), the least
    interval between two messages to a private chat, messages per minute to a group."""

    per_second: int = 30
    private_interval: float = 1.0
    group_per_minute: int = 20
    # What a message sent with `allow_paid_broadcast` may reach instead of `per_second`.
    paid_per_second: int = 1000


def asks_paid_broadcast(params: dict[str, Any]) -> bool:
    """Whether a send's parameters ask for a paid broadcast (JSON true, or "true" in a form)."""
    return params.get("allow_paid_broadcast") in (True, "true", "True", "1")


def most_in_one_second(times: list[float]) -> int:
    """Most of `times` (sorted) in any one second, as a sliding window."""
    best, start = 0, 0
    for end, t in enumerate(times):
        while times[start] <= t - 1.0:
            start += 1
        best = max(best, end - start + 1)
    return best


class _Server(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: a client opening its pool's 32 connections at
    # once overflowed it, and the connections refused retried a second later (a TCP SYN
    # retransmission), a 1.2 s stall at the start of every bench/broadcast.py run. Telegram's
    # servers do not make a client wait for that.
    request_queue_size = 128


@dataclass
class FakeBotAPI:
    """The server and everything it remembers. Thread-safe; start with `start()` or `with`."""

    token: str = TOKEN
    username: str = "newsbot_test_bot"
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    commands: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    # A chat's own menus (BotCommandScopeChat): chat id -> language -> commands.
    chat_commands: dict[int, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    webhook: dict[str, Any] = field(default_factory=dict)
    max_poll_wait: float = 30.0
    record_calls: bool = True
    # /setinline and /setinlinefeedback in BotFather.
    inline_mode: bool = False
    inline_feedback: bool = True
    # Answers to inline queries, by query id: the parameters of answerInlineQuery.
    inline_answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (HTTP status, raw body) answered to every getMe instead of the bot: a revoked token
    # (401), a proxy that does not know the method (404), a conflict (409), a broken server
    # (500) or one that does not speak JSON, as `newsbot run` meets them at start-up.
    get_me_answer: tuple[int, bytes] | None = None
    # Telegram's flood limits, enforced when set (see the module docstring).
    flood: FloodLimits | None = None
    # Telegram down behind its front proxy: while set, every call is answered 502 Bad Gateway
    # (counted in `bad_gateways`), as when the Bot API is unreachable. See `outage`.
    down: bool = False
    bad_gateways: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Condition()
        self._updates: list[dict[str, Any]] = []
        self._confirmed = 0  # every update_id below this was acknowledged by an offset
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._open_queries: set[str] = set()
        self._failures: list[_Failure] = []
        self._allowed_updates: frozenset[str] | None = None  # None: Telegram's default
        self._dropped: dict[int, str] = {}  # update id -> type, for updates not allowed
        self._inline_queries: dict[str, dict[str, Any]] = {}  # query id -> the query
        self._open_inline: set[str] = set()
        self.chats: dict[int, dict[str, Any]] = {}  # chat id -> Telegram's Chat object
        self.users: dict[int, User] = {}
        self.members: dict[tuple[int, int], str] = {}  # (chat id, user id) -> status
        self.blocked: set[int] = set()
        # (chat id, message_thread_id) -> {"name", "closed", "deleted"}: forum topics.
        self.topics: dict[tuple[int, int], dict[str, Any]] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.counts: dict[str, int] = {}
        # (monotonic arrival time, chat id) of every message accepted; 429s by limit.
        self.sends: list[tuple[float, int]] = []
        self.flood_refused: dict[str, int] = {}
        self._window: list[float] = []  # accepted in the last second, oldest first
        self._private_last: dict[int, float] = {}
        self._group_recent: dict[int, list[float]] = {}
        self._polls = 0  # getUpdates calls so far: a waiting one ends when another comes
        self._photos: dict[str, str | None] = {}  # photo URL -> refusal (None: an image)
        self._photo_lock = threading.Lock()

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeBotAPI:
        """Listen on a free port of 127.0.0.1, in a background thread."""
        api = self

        class Handler(_Handler):
            server_api = api

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; long polls in progress return at once."""
        with self._lock:
            self.max_poll_wait = 0
            self._lock.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeBotAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    @property
    def allowed_updates(self) -> frozenset[str] | None:
        """The update types the bot last asked for (None: it never said, Telegram's default)."""
        with self._lock:
            return self._allowed_updates

    @property
    def base_url(self) -> str:
        """What goes in `telegram.api_base_url`."""
        return f"http://127.0.0.1:{self.port}/bot"

    # -- what the user does ---------------------------------------------------------------------

    def know_private_chat(self, user_id: int, first_name: str = "Admin") -> None:
        """Telegram knows the private chat of `user_id`: they have started the bot before."""
        with self._lock:
            self.chats.setdefault(
                user_id, {"id": user_id, "type": "private", "first_name": first_name}
            )

    def send_message(
        self,
        user: User,
        text: str,
        chat_type: str = "private",
        *,
        chat_id: int | None = None,
        title: str = "group",
        thread_id: int | None = None,
    ) -> int:
        """The user sends `text` (commands get their bot_command entity); the update id.

        In a "group" or "supergroup" the chat id is `chat_id` (negative), by default
        `-user.id`; in a forum, `thread_id` is the topic it is posted in (`create_topic`)."""
        with self._lock:
            self.users[user.id] = user
            if chat_type == "private":
                chat = {"id": user.id, "type": "private", "first_name": user.first_name}
            else:
                group_id = -user.id if chat_id is None else chat_id
                if group_id >= 0:
                    raise ValueError("group and channel chat ids are negative")
                chat = {"id": group_id, "type": chat_type, "title": title}
                if self.chats.get(group_id, {}).get("is_forum"):
                    chat["is_forum"] = True
            self.chats[chat["id"]] = chat
            message = self._incoming(chat, text)
            message["from"] = user.as_json()
            if thread_id is not None:
                topic = self.topics.get((chat["id"], thread_id))
                if topic is None or topic["deleted"]:
                    raise ValueError(f"no topic {thread_id} in chat {chat['id']}")
                message["message_thread_id"] = thread_id
                message["is_topic_message"] = True
            return self._queue("message", message)

    def webhook_update(self, user: User, text: str) -> dict[str, Any]:
        """The update Telegram would POST to a webhook for `user` sending `text` in their
        private chat (not queued for getUpdates)."""
        with self._lock:
            self.users[user.id] = user
            chat = {"id": user.id, "type": "private", "first_name": user.first_name}
            self.chats[user.id] = chat
            message = self._incoming(chat, text)
            message["from"] = user.as_json()
            return {"update_id": next(self._update_ids), "message": message}

    def create_topic(self, chat_id: int, name: str, title: str = "forum") -> int:
        """A forum topic in the supergroup `chat_id` (made a forum if it was not); its
        message_thread_id (the id of the service message that opens it, as in Telegram)."""
        with self._lock:
            return self._create_topic(chat_id, name, title)

    def _create_topic(self, chat_id: int, name: str, title: str = "forum") -> int:
        if chat_id >= 0:
            raise ApiError("Bad Request: the chat is not a forum")
        chat = self.chats.setdefault(chat_id, {"id": chat_id, "type": "supergroup", "title": title})
        chat["type"], chat["is_forum"] = "supergroup", True
        thread_id = next(self._message_ids)
        self.topics[(chat_id, thread_id)] = {"name": name, "closed": False, "deleted": False}
        return thread_id

    def close_topic(self, chat_id: int, thread_id: int) -> None:
        """An admin closes the topic: nobody but admins may post in it, the bot neither."""
        with self._lock:
            self._topic(chat_id, thread_id)["closed"] = True

    def reopen_topic(self, chat_id: int, thread_id: int) -> None:
        """An admin reopens a closed topic."""
        with self._lock:
            self._topic(chat_id, thread_id)["closed"] = False

    def delete_topic(self, chat_id: int, thread_id: int) -> None:
        """An admin deletes the topic with its messages."""
        with self._lock:
            self._topic(chat_id, thread_id)["deleted"] = True

    def _topic(self, chat_id: int, thread_id: int) -> dict[str, Any]:
        topic = self.topics.get((chat_id, thread_id))
        if topic is None or topic["deleted"]:
            raise ApiError("Bad Request: message thread not found")
        return topic

    def _check_thread(self, chat_id: int, params: dict[str, Any]) -> int | None:
        """The topic a call addresses, checked as Telegram checks it (lock held)."""
        raw = params.get("message_thread_id")
        if raw is None:
            return None
        thread_id = _int(raw)
        if thread_id is None:
            raise ApiError("Bad Request: message thread not found")
        if not self.chats.get(chat_id, {}).get("is_forum"):
            raise ApiError("Bad Request: message thread not found")
        if self._topic(chat_id, thread_id)["closed"]:
            raise ApiError("Bad Request: TOPIC_CLOSED")
        return thread_id

    def channel_post(self, chat_id: int, text: str, title: str = "channel") -> int:
        """A post in the channel `chat_id` (negative) where the bot is an admin; the update
        id. Channel posts have no sender, only the chat."""
        if chat_id >= 0:
            raise ValueError("channel chat ids are negative")
        with self._lock:
            chat = {"id": chat_id, "type": "channel", "title": title}
            self.chats[chat_id] = chat
            message = self._incoming(chat, text)
            message["sender_chat"] = chat
            return self._queue("channel_post", message)

    def bot_membership(
        self, user: User, chat_id: int, old: str, new: str, chat_type: str = "private"
    ) -> int:
        """`user` changes the bot's membership of a chat (a `my_chat_member` update): in a
        private chat "kicked" is blocking the bot and "member" unblocking it; in a group or a
        channel "left"/"kicked" is removing it. The update id."""
        with self._lock:
            self.users[user.id] = user
            if chat_type == "private":
                chat = {"id": user.id, "type": "private", "first_name": user.first_name}
            else:
                chat = self.chats.get(chat_id) or {"id": chat_id, "type": chat_type, "title": "g"}
            self.chats[chat["id"]] = chat
            bot_id = self._bot()["id"]
            self.members[(chat["id"], bot_id)] = old
            before = self._member(chat["id"], bot_id)
            self.members[(chat["id"], bot_id)] = new
            after = self._member(chat["id"], bot_id)
            change = {
                "chat": chat,
                "from": user.as_json(),
                "date": int(time.time()),
                "old_chat_member": before,
                "new_chat_member": after,
            }
            return self._queue("my_chat_member", change)

    def _incoming(self, chat: dict[str, Any], text: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "text": text,
        }
        if text.startswith("/"):
            length = utf16_len(text.split()[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return message

    def _queue(self, kind: str, payload: dict[str, Any]) -> int:
        """Queue an update of `kind` (lock held); its id."""
        update_id = next(self._update_ids)
        self._updates.append({"update_id": update_id, kind: payload})
        self._lock.notify_all()
        return update_id

    def inline_query(
        self, user: User, query: str = "", offset: str = "", chat_type: str = "private"
    ) -> tuple[int, str]:
        """The user types `@bot query` in a chat of `chat_type`; (update id, query id)."""
        if not self.inline_mode:
            raise RuntimeError("inline mode is off: FakeBotAPI(inline_mode=True), /setinline")
        with self._lock:
            self.users[user.id] = user
            query_id = f"iq{next(self._query_ids)}"
            payload = {
                "id": query_id,
                "from": user.as_json(),
                "query": query,
                "offset": offset,
                "chat_type": chat_type,
            }
            self._inline_queries[query_id] = payload
            self._open_inline.add(query_id)
            return self._queue("inline_query", payload), query_id

    def choose_inline_result(
        self, user: User, query_id: str, result_id: str, chat_id: int | None = None
    ) -> dict[str, Any]:
        """The user picks a result the bot answered `query_id` with: their client posts its
        message in `chat_id` (default: the private chat with the bot) via the bot, and the bot
        gets a chosen_inline_result update if `inline_feedback` is on. The message posted."""
        with self._lock:
            answer = self.inline_answers[query_id]
            result = next(r for r in answer["results"] if r["id"] == result_id)
            content = result["input_message_content"]
            target = user.id if chat_id is None else chat_id
            chat = self.chats.get(target) or (
                {"id": target, "type": "private", "first_name": user.first_name}
                if target > 0
                else {"id": target, "type": "group", "title": "group"}
            )
            shown = self._check_text(
                {"text": content["message_text"], "parse_mode": content.get("parse_mode")}
            )
            message: dict[str, Any] = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": chat,
                "from": user.as_json(),
                "via_bot": self._bot(),
                "text": shown,
            }
            markup = result.get("reply_markup")
            if markup and markup.get("inline_keyboard"):
                message["reply_markup"] = markup
            self.messages[(target, message["message_id"])] = {
                **message,
                "_html": content["message_text"],
                "_parse_mode": content.get("parse_mode"),
            }
            if self.inline_feedback:
                chosen: dict[str, Any] = {
                    "result_id": result_id,
                    "from": user.as_json(),
                    "query": self._inline_queries[query_id]["query"],
                }
                if markup:
                    chosen["inline_message_id"] = f"im{message['message_id']}"
                self._queue("chosen_inline_result", chosen)
            return {k: v for k, v in message.items() if not k.startswith("_")}

    def set_member_status(
        self, chat_id: int, user_id: int, status: str, user: User | None = None
    ) -> None:
        """What getChatMember says of `user_id` in `chat_id` from now on."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"status must be one of {MEMBER_STATUSES}")
        with self._lock:
            if user is not None:
                self.users[user.id] = user
            self.members[(chat_id, user_id)] = status

    def block(self, chat_id: int) -> None:
        """The user of `chat_id` blocks the bot: every call for that chat is refused with 403
        "Forbidden: bot was blocked by the user" until `unblock`."""
        with self._lock:
            self.blocked.add(chat_id)

    def unblock(self, chat_id: int) -> None:
        """The user unblocks the bot."""
        with self._lock:
            self.blocked.discard(chat_id)

    def press(self, user: User, message: dict[str, Any], data: str) -> int:
        """The user presses a button with callback `data` on `message` (as returned to the
        bot); the update id."""
        with self._lock:
            query_id = f"q{next(self._query_ids)}"
            self._open_queries.add(query_id)
            return self._queue(
                "callback_query",
                {
                    "id": query_id,
                    "from": user.as_json(),
                    "chat_instance": f"ci{user.id}",
                    "data": data,
                    "message": message,
                },
            )

    def message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """A message as a client has it now (after edits), as Telegram would describe it."""
        with self._lock:
            stored = self.messages[(chat_id, message_id)]
            return {k: v for k, v in stored.items() if not k.startswith("_")}

    def options(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """How a message was sent: its `link_preview_options` (None if not given) and whether
        it was silent (`disable_notification`)."""
        with self._lock:
            stored = self.messages[(chat_id, message_id)]
            return {"preview": stored.get("_preview"), "silent": bool(stored.get("_silent"))}

    def html(self, chat_id: int, message_id: int) -> str:
        """The HTML the bot last set for a message."""
        with self._lock:
            return str(self.messages[(chat_id, message_id)]["_html"])

    def fail_next(
        self,
        method: str,
        description: str = "Bad Request: can't parse entities: unsupported start tag",
        code: int = 400,
        times: int = 1,
        *,
        parameters: dict[str, Any] | None = None,
        chat_id: int | None = None,
    ) -> None:
        """Refuse the next `times` calls of `method` (for `chat_id` only, if given) with this
        error and its `parameters` (`retry_after`, `migrate_to_chat_id`)."""
        with self._lock:
            self._failures.append(
                _Failure(method, description, code, times, dict(parameters or {}), chat_id)
            )

    def outage(self, down: bool = True) -> None:
        """Start (or end) an outage: every call answered 502 until it ends. A long poll in
        progress returns at once (with no updates), so the next getUpdates meets the outage."""
        with self._lock:
            self.down = down
            self._lock.notify_all()

    def _check_fetched(self, update_id: int) -> None:
        """AssertionError if the bot will never get `update_id` (lock held)."""
        kind = self._dropped.get(update_id)
        if kind is not None:
            allowed = sorted(self._allowed_updates or ())
            raise AssertionError(
                f"update {update_id} ({kind}) is not in the bot's allowed_updates {allowed}"
            )

    def wait_acknowledged(self, update_id: int, timeout: float = 10.0) -> None:
        """Block until the bot asked for updates past `update_id` (it then holds it)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._confirmed <= update_id:
                self._check_fetched(update_id)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"update {update_id} was not fetched within {timeout}s")
                self._lock.wait(left)

    async def acknowledged(self, update_id: int, timeout: float = 10.0) -> None:
        """`wait_acknowledged` for async tests, without blocking their event loop."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self._confirmed > update_id:
                    return
                self._check_fetched(update_id)
            if time.monotonic() > deadline:
                raise TimeoutError(f"update {update_id} was not fetched within {timeout}s")
            await asyncio.sleep(0.002)

    def calls_of(self, method: str, since: int = 0) -> list[Call]:
        """The calls of `method` from index `since` on."""
        with self._lock:
            return [c for c in self.calls[since:] if c.method == method]

    def rejected(self) -> Iterator[Call]:
        """Calls the server refused."""
        with self._lock:
            return iter([c for c in self.calls if not c.ok])

    # -- the API --------------------------------------------------------------------------------

    def handle(self, token: str, method: str, params: dict[str, Any]) -> tuple[int, Any]:
        """Answer one call: (HTTP status, Bot API JSON body)."""
        if self.down:
            with self._lock:
                self.bad_gateways += 1
            return 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
        if token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        if method == "getUpdates":
            # Not recorded: polling would drown the interesting calls.
            try:
                return 200, {"ok": True, "result": self._get_updates(params)}
            except ApiError as exc:
                return exc.code, {"ok": False, "error_code": exc.code, "description": str(exc)}
        if method == "sendPhoto":  # fetch the picture, outside the lock, as Telegram would
            params = {**params, "_photo_error": self._probe_photo(params.get("photo"))}
        call = Call(method, params)
        with self._lock:
            self.counts[method] = self.counts.get(method, 0) + 1
            if self.record_calls:
                self.calls.append(call)
            try:
                failure = next((f for f in self._failures if f.applies(method, params)), None)
                if failure is not None:
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                    raise ApiError(failure.description, failure.code, failure.parameters)
                chat_id = params.get("chat_id")
                if chat_id is not None and _int(chat_id) in self.blocked:
                    raise ApiError(BLOCKED, 403)
                flooded = method in SEND_METHODS and self.flood is not None
                if flooded:
                    now = time.monotonic()
                    self._check_flood(_int(chat_id) or 0, now, asks_paid_broadcast(params))
                call.result = self._dispatch(method, params)
                if flooded:
                    self._count_send(_int(chat_id) or 0, now)
            except ApiError as exc:
                call.ok, call.error = False, exc.description
                body: dict[str, Any] = {
                    "ok": False,
                    "error_code": exc.code,
                    "description": exc.description,
                }
                if exc.parameters:
                    body["parameters"] = exc.parameters
                return exc.code, body
        return 200, {"ok": True, "result": call.result}

    def _check_flood(self, chat_id: int, now: float, paid: bool = False) -> None:
        """ApiError 429 if a message to *chat_id* now exceeds a flood limit (lock held); a
        *paid* broadcast may go past the free overall limit up to `paid_per_second`."""
        limits = self.flood
        assert limits is not None
        window = self._window
        while window and window[0] <= now - 1.0:
            window.pop(0)
        if len(window) >= (limits.paid_per_second if paid else limits.per_second):
            self._flood("overall", window[0] + 1.0 - now)
        if chat_id > 0:
            last = self._private_last.get(chat_id)
            if last is not None and now - last < limits.private_interval:
                self._flood("private chat", last + limits.private_interval - now)
        else:
            recent = self._group_recent.setdefault(chat_id, [])
            while recent and recent[0] <= now - 60.0:
                recent.pop(0)
            if len(recent) >= limits.group_per_minute:
                self._flood("group", recent[0] + 60.0 - now)

    def _flood(self, limit: str, wait: float) -> None:
        self.flood_refused[limit] = self.flood_refused.get(limit, 0) + 1
        seconds = max(1, int(wait + 0.999))
        raise ApiError(f"Too Many Requests: retry after {seconds}", 429, {"retry_after": seconds})

    def _count_send(self, chat_id: int, now: float) -> None:
        self._window.append(now)
        if chat_id > 0:
            self._private_last[chat_id] = now
        else:
            self._group_recent.setdefault(chat_id, []).append(now)
        self.sends.append((now, chat_id))

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = min(float(params.get("timeout") or 0), self.max_poll_wait)
        deadline = time.monotonic() + timeout
        with self._lock:
            if self.webhook.get("url"):
                raise ApiError(CONFLICT_WEBHOOK, 409)
            self._polls += 1
            mine = self._polls
            self._lock.notify_all()  # a getUpdates waiting ends: one consumer per token
            if "allowed_updates" in params:
                wanted = params.get("allowed_updates") or []
                self._allowed_updates = frozenset(wanted) if wanted else None
            if offset:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                if offset > self._confirmed:
                    self._confirmed = offset
                    self._lock.notify_all()
            while True:
                if self._polls != mine:
                    raise ApiError(CONFLICT_POLL, 409)
                self._drop_unwanted()
                if self._updates or self.down:
                    break
                left = min(deadline, time.monotonic() + self.max_poll_wait) - time.monotonic()
                if left <= 0:
                    break
                self._lock.wait(left)
            return self._updates[:limit]

    def _drop_unwanted(self) -> None:
        """Forget queued updates of types the bot did not ask for, as Telegram never sends
        them (lock held)."""
        kept = []
        for update in self._updates:
            kind = next(k for k in update if k != "update_id")
            wanted = (
                kind not in DEFAULT_EXCLUDED_UPDATES
                if self._allowed_updates is None
                else kind in self._allowed_updates
            )
            if wanted:
                kept.append(update)
            else:
                self._dropped[update["update_id"]] = kind
                self._lock.notify_all()
        self._updates = kept

    def _dispatch(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return self._bot()
        if method in ("deleteWebhook", "close", "logOut"):
            self.webhook = {}
            return True
        if method == "setWebhook":
            self.webhook = dict(params)
            return True
        if method == "getWebhookInfo":
            return {"url": self.webhook.get("url", ""), "pending_update_count": 0}
        if method == "setMyCommands":
            return self._set_commands(params)
        if method == "getMyCommands":
            return self._command_menu(params).get(str(params.get("language_code") or ""), [])
        if method == "deleteMyCommands":
            self._command_menu(params).pop(str(params.get("language_code") or ""), None)
            return True
        if method == "sendChatAction":
            self._check_thread(_int(params.get("chat_id")) or 0, params)
            return True
        if method == "createForumTopic":
            chat_id = _int(params.get("chat_id")) or 0
            if not self.chats.get(chat_id, {}).get("is_forum"):
                raise ApiError("Bad Request: the chat is not a forum")
            name = str(params.get("name") or "")
            if not 1 <= len(name) <= 128:
                raise ApiError("Bad Request: TOPIC_TITLE_EMPTY")
            thread_id = self._create_topic(chat_id, name)
            return {"message_thread_id": thread_id, "name": name, "icon_color": 7322096}
        if method in ("closeForumTopic", "reopenForumTopic", "deleteForumTopic"):
            chat_id = _int(params.get("chat_id")) or 0
            topic = self._topic(chat_id, _int(params.get("message_thread_id")) or 0)
            if method == "deleteForumTopic":
                topic["deleted"] = True
            else:
                closing = method == "closeForumTopic"
                if topic["closed"] == closing:
                    raise ApiError("Bad Request: TOPIC_NOT_MODIFIED")
                topic["closed"] = closing
            return True
        if method == "sendMessage":
            return self._send_message(params)
        if method == "sendPhoto":
            return self._send_photo(params)
        if method == "editMessageText":
            return self._edit(params, text=True)
        if method == "editMessageReplyMarkup":
            return self._edit(params, text=False)
        if method == "editMessageCaption":
            return self._edit_caption(params)
        if method == "answerCallbackQuery":
            return self._answer(params)
        if method == "answerInlineQuery":
            return self._answer_inline(params)
        if method == "getChatMember":
            return self._member(_int(params.get("chat_id")) or 0, _int(params.get("user_id")) or 0)
        if method == "getChatAdministrators":
            chat_id = _int(params.get("chat_id")) or 0
            return [
                self._member(chat, user)
                for (chat, user), status in self.members.items()
                if chat == chat_id and status in ("creator", "administrator")
            ]
        if method == "getChat":
            chat_id = _int(params.get("chat_id")) or 0
            if chat_id not in self.chats:
                raise ApiError("Bad Request: chat not found")
            return {**self.chats[chat_id], "accent_color_id": 0, "max_reaction_count": 11}
        raise ApiError(f"Not Found: method {method} not found", 404)

    def _member(self, chat_id: int, user_id: int) -> dict[str, Any]:
        """A ChatMember with the fields PTB requires for its status."""
        known = self.users.get(user_id)
        user = (known or User(id=user_id, first_name=f"User {user_id}")).as_json()
        if user_id == self._bot()["id"]:
            user = {k: v for k, v in self._bot().items() if k in ("id", "is_bot", "first_name")}
        status = self.members.get((chat_id, user_id), "member")
        member: dict[str, Any] = {"status": status, "user": user}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            member.update(
                {
                    "can_be_edited": False,
                    "is_anonymous": False,
                    **dict.fromkeys(_ADMIN_RIGHTS, True),
                }
            )
        elif status == "restricted":
            member.update(
                {"is_member": True, "until_date": 0, **dict.fromkeys(_RESTRICTED_RIGHTS, False)}
            )
        elif status == "kicked":
            member["until_date"] = 0
        return member

    def _bot(self) -> dict[str, Any]:
        return {
            "id": int(self.token.split(":")[0]),
            "is_bot": True,
            "first_name": "newsbot",
            "username": self.username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": self.inline_mode,
        }

    def _set_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError("Bad Request: commands must be a list of at most 100 commands")
        for command in commands:
            name, description = command.get("command", ""), command.get("description", "")
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name):
                raise ApiError("Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(description) <= 256:
                raise ApiError("Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self._command_menu(params)[str(params.get("language_code") or "")] = commands
        return True

    def _command_menu(self, params: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
        """The menus of a scope, by language: `commands` for the default scope,
        `chat_commands[chat_id]` for a chat's own (Telegram answers "chat not found" for a
        chat the bot has never seen, such as an admin who never started it)."""
        scope = params.get("scope") or {"type": "default"}
        if not isinstance(scope, dict):
            raise ApiError("Bad Request: can't parse BotCommandScope JSON object")
        kind = scope.get("type")
        if kind == "default":
            return self.commands
        if kind != "chat":
            raise ApiError(f"Bad Request: unsupported command scope {kind!r} in this fake")
        chat_id = _int(scope.get("chat_id")) or 0
        if chat_id not in self.chats:
            raise ApiError("Bad Request: chat not found")
        return self.chat_commands.setdefault(chat_id, {})

    def _check_text(self, params: dict[str, Any]) -> str:
        text = params.get("text")
        if not isinstance(text, str) or not text:
            raise ApiError("Bad Request: message text is empty")
        if utf16_len(text) > MAX_TEXT:
            raise ApiError("Bad Request: message is too long")
        mode = str(params.get("parse_mode") or "")
        if mode.upper() == "HTML":
            try:
                shown = parse_html(text)
            except HtmlError as exc:
                raise ApiError(f"Bad Request: can't parse entities: {exc}") from None
        elif mode:
            raise ApiError(f"Bad Request: unsupported parse_mode {mode} in this fake")
        else:
            shown = text
        if not shown.strip():
            raise ApiError("Bad Request: message text is empty")
        return shown

    def _check_markup(self, params: dict[str, Any]) -> dict[str, Any] | None:
        markup = params.get("reply_markup")
        if markup is None:
            return None
        rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
        if not isinstance(rows, list):
            raise ApiError("Bad Request: only inline keyboards are supported by this fake")
        if sum(len(row) for row in rows) > MAX_BUTTONS:
            raise ApiError("Bad Request: too many buttons")
        for row in rows:
            if len(row) > MAX_BUTTONS_PER_ROW:
                raise ApiError("Bad Request: too many buttons in a row")
            for button in row:
                if not str(button.get("text", "")).strip():
                    raise ApiError("Bad Request: BUTTON_TEXT_EMPTY")
                kinds = set(button) - {"text"}
                if len(kinds) != 1 or kinds - {"callback_data", "url"}:
                    raise ApiError("Bad Request: a button needs exactly one of callback_data, url")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
                    raise ApiError("Bad Request: BUTTON_DATA_INVALID")
                url = button.get("url")
                if url is not None and not re.fullmatch(r"(https?|tg)://\S+", str(url)):
                    raise ApiError("Bad Request: BUTTON_URL_INVALID")
        return markup

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        thread_id = self._check_thread(chat_id, params)
        shown = self._check_text(params)
        markup = self._check_markup(params)
        preview = self._check_preview(params)
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": self.chats.get(chat_id)
            or {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": self._bot(),
            "text": shown,
        }
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        if markup and markup.get("inline_keyboard"):
            message["reply_markup"] = markup
        self.messages[(chat_id, message["message_id"])] = {
            **message,
            "_html": params["text"],
            "_parse_mode": params.get("parse_mode"),
            "_preview": preview,
            "_silent": params.get("disable_notification") is True,
        }
        return message

    def _probe_photo(self, url: object) -> str | None:
        """Why Telegram would refuse this photo URL, or None for a usable image (cached)."""
        if not isinstance(url, str) or not re.fullmatch(r"https?://\S+", url):
            return PHOTO_BAD_URL
        with self._photo_lock:
            if url in self._photos:
                return self._photos[url]
        host = urllib.parse.urlsplit(url).hostname
        error: str | None = None
        if host not in ("127.0.0.1", "localhost"):
            error = PHOTO_UNREACHABLE  # never leave the machine: as if unreachable
        else:
            try:
                with urllib.request.urlopen(url, timeout=5) as answer:
                    kind = answer.headers.get("Content-Type", "")
                    body = answer.read(1)
                if not kind.lower().startswith("image/"):
                    error = PHOTO_NOT_AN_IMAGE
                elif not body:
                    error = PHOTO_UNREACHABLE
            except (OSError, ValueError):
                error = PHOTO_UNREACHABLE
        with self._photo_lock:
            self._photos[url] = error
        return error

    def _check_preview(self, params: dict[str, Any]) -> dict[str, Any] | None:
        options = params.get("link_preview_options")
        if options is None:
            return None
        if not isinstance(options, dict) or set(options) - _PREVIEW_FIELDS:
            raise ApiError("Bad Request: can't parse link preview options")
        url = options.get("url")
        if url is not None and not re.fullmatch(r"https?://\S+", str(url)):
            raise ApiError("Bad Request: link preview URL is invalid")
        if options.get("prefer_small_media") and options.get("prefer_large_media"):
            raise ApiError("Bad Request: can't prefer both small and large media")
        return options

    def _send_photo(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        thread_id = self._check_thread(chat_id, params)
        if params.get("_photo_error"):
            raise ApiError(str(params["_photo_error"]))
        caption = params.get("caption")
        shown = ""
        if caption:
            mode = str(params.get("parse_mode") or "")
            if mode.upper() == "HTML":
                try:
                    shown = parse_html(str(caption))
                except HtmlError as exc:
                    raise ApiError(f"Bad Request: can't parse entities: {exc}") from None
            elif mode:
                raise ApiError(f"Bad Request: unsupported parse_mode {mode} in this fake")
            else:
                shown = str(caption)
            if utf16_len(shown) > MAX_CAPTION:
                raise ApiError("Bad Request: message caption is too long")
        markup = self._check_markup(params)
        message_id = next(self._message_ids)
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": self.chats.get(chat_id)
            or {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": self._bot(),
            "photo": [
                {
                    "file_id": f"photo-{message_id}",
                    "file_unique_id": f"u{message_id}",
                    "width": 800,
                    "height": 450,
                }
            ],
        }
        if shown:
            message["caption"] = shown
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        if markup and markup.get("inline_keyboard"):
            message["reply_markup"] = markup
        self.messages[(chat_id, message_id)] = {
            **message,
            "_html": str(caption or ""),
            "_parse_mode": params.get("parse_mode"),
            "_photo": params["photo"],
            "_silent": params.get("disable_notification") is True,
        }
        return message

    def _edit_caption(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (int(params["chat_id"]), int(params["message_id"]))
        old = self.messages.get(key)
        if old is None:
            raise ApiError("Bad Request: message to edit not found")
        if "photo" not in old:
            raise ApiError("Bad Request: there is no caption in the message to edit")
        caption = str(params.get("caption") or "")
        try:
            shown = parse_html(caption) if str(params.get("parse_mode") or "").upper() else caption
        except HtmlError as exc:
            raise ApiError(f"Bad Request: can't parse entities: {exc}") from None
        if utf16_len(shown) > MAX_CAPTION:
            raise ApiError("Bad Request: message caption is too long")
        markup = self._check_markup(params)
        new = {**old, "caption": shown, "_html": caption, "_parse_mode": params.get("parse_mode")}
        new.pop("reply_markup", None)
        if markup and markup.get("inline_keyboard"):
            new["reply_markup"] = markup
        if (new["_html"], new.get("reply_markup")) == (old["_html"], old.get("reply_markup")):
            raise ApiError(
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message"
            )
        new["edit_date"] = int(time.time())
        self.messages[key] = new
        return {k: v for k, v in new.items() if not k.startswith("_")}

    def _edit(self, params: dict[str, Any], *, text: bool) -> dict[str, Any]:
        key = (int(params["chat_id"]), int(params["message_id"]))
        old = self.messages.get(key)
        if old is None:
            raise ApiError("Bad Request: message to edit not found")
        if text and "photo" in old:
            raise ApiError("Bad Request: there is no text in the message to edit")
        markup = self._check_markup(params)
        new = dict(old)
        if text:
            new["text"] = self._check_text(params)
            new["_html"], new["_parse_mode"] = params["text"], params.get("parse_mode")
        new.pop("reply_markup", None)
        if markup and markup.get("inline_keyboard"):
            new["reply_markup"] = markup
        same = (new["_html"], new["_parse_mode"], new.get("reply_markup")) == (
            old["_html"],
            old["_parse_mode"],
            old.get("reply_markup"),
        )
        if same:
            raise ApiError(
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message"
            )
        new["edit_date"] = int(time.time())
        self.messages[key] = new
        return {k: v for k, v in new.items() if not k.startswith("_")}

    def _answer(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id"))
        if query_id not in self._open_queries:
            raise ApiError(
                "Bad Request: query is too old and response timeout expired or query id is invalid"
            )
        if len(str(params.get("text") or "")) > 200:
            raise ApiError("Bad Request: MESSAGE_TOO_LONG")
        self._open_queries.discard(query_id)
        return True

    def _answer_inline(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("inline_query_id"))
        if query_id not in self._open_inline:
            raise ApiError(
                "Bad Request: query is too old and response timeout expired or query ID is invalid"
            )
        results = params.get("results")
        if not isinstance(results, list):
            raise ApiError("Bad Request: results must be a list")
        if len(results) > MAX_INLINE_RESULTS:
            raise ApiError("Bad Request: RESULTS_TOO_MUCH")
        seen: set[str] = set()
        for result in results:
            result_id = str(result.get("id", ""))
            if not 1 <= len(result_id.encode()) <= MAX_INLINE_ID:
                raise ApiError("Bad Request: RESULT_ID_INVALID")
            if result_id in seen:
                raise ApiError("Bad Request: RESULT_ID_DUPLICATE")
            seen.add(result_id)
            if result.get("type") != "article":
                raise ApiError(f"Bad Request: result type {result.get('type')} not in this fake")
            if not str(result.get("title", "")).strip():
                raise ApiError("Bad Request: RESULT_TITLE_EMPTY")
            content = result.get("input_message_content") or {}
            if "message_text" not in content:
                raise ApiError("Bad Request: MESSAGE_EMPTY")
            self._check_text(
                {"text": content["message_text"], "parse_mode": content.get("parse_mode")}
            )
            self._check_markup({"reply_markup": result.get("reply_markup")})
        next_offset = str(params.get("next_offset") or "")
        if len(next_offset.encode()) > MAX_INLINE_ID:
            raise ApiError("Bad Request: NEXT_OFFSET_INVALID")
        cache_time = params.get("cache_time")
        if cache_time is not None and (_int(cache_time) is None or int(cache_time) < 0):
            raise ApiError("Bad Request: cache_time must be a non-negative integer")
        self._open_inline.discard(query_id)
        self.inline_answers[query_id] = {**params, "results": results, "next_offset": next_offset}
        return True


_ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
)
_RESTRICTED_RIGHTS = (
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
    "can_edit_tag",
    "can_react_to_messages",
)


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, like api.telegram.org, so the client reuses connections.

    The request line and headers are read here, not by `BaseHTTPRequestHandler.parse_request`:
    it parses headers with the `email` package and stamps every answer with a formatted Date,
    which was over a third of the fake's CPU per request at paid-broadcast rates (bench/
    broadcast.py measures the bot against it). What is checked stays: the method, the path
    (token and Bot API method), Content-Length, Content-Type (JSON or a form), keep-alive."""

    protocol_version = "HTTP/1.1"
    # An answer goes out in one write; with Nagle's algorithm on, the client's delayed ACK
    # could still hold it back ~40 ms.
    disable_nagle_algorithm = True
    server_api: FakeBotAPI
    # Header name (lower case) -> value, of the request being served.
    fields: dict[str, str]

    def handle_one_request(self) -> None:
        line = self.rfile.readline(65537)
        if not line:
            self.close_connection = True
            return
        parts = line.decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/") or len(line) > 65536:
            self.close_connection = True
            self._reply_raw(400, b'{"ok":false,"error_code":400,"description":"Bad Request"}')
            return
        self.command, self.path, self.request_version = parts
        fields: dict[str, str] = {}
        while True:
            header = self.rfile.readline(65537)
            if header in (b"\r\n", b"\n", b""):
                break
            if len(fields) > 100:
                self.close_connection = True
                self._reply_raw(
                    431, b'{"ok":false,"error_code":431,"description":"Too many headers"}'
                )
                return
            name, _, value = header.decode("latin-1").partition(":")
            fields[name.strip().lower()] = value.strip()
        self.fields = fields
        self.close_connection = (
            self.request_version != "HTTP/1.1" or fields.get("connection", "").lower() == "close"
        )
        if self.command not in ("GET", "POST"):
            self._reply_raw(501, b'{"ok":false,"error_code":501,"description":"Not Implemented"}')
            return
        self._serve()

    def _serve(self) -> None:
        match = re.fullmatch(r"/bot([^/]+)/([A-Za-z]+)", self.path.split("?")[0])
        length = int(self.fields.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        if match is None:
            self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        if match[2] == "getMe" and self.server_api.get_me_answer is not None:
            self._reply_raw(*self.server_api.get_me_answer)
            return
        status, payload = self.server_api.handle(match[1], match[2], self._params(body))
        self._reply(status, payload)

    def _params(self, body: bytes) -> dict[str, Any]:
        kind = self.fields.get("content-type", "")
        if kind.startswith("application/json"):
            return dict(json.loads(body or b"{}"))
        pairs = parse_qsl(body.decode(), keep_blank_values=True)
        if "?" in self.path:
            pairs += parse_qsl(self.path.split("?", 1)[1], keep_blank_values=True)
        return {k: json.loads(v) if k in _JSON_PARAMS else v for k, v in pairs}

    def _reply(self, status: int, payload: Any) -> None:
        self._reply_raw(status, json.dumps(payload).encode())

    def _reply_raw(self, status: int, data: bytes) -> None:
        phrase = self.responses.get(status, ("",))[0]
        close = "Connection: close\r\n" if self.close_connection else ""
        head = (
            f"HTTP/1.1 {status} {phrase}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n{close}\r\n"
        )
        # A long poll the client gave up on (the bot stopping) has nobody left to answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(head.encode("latin-1") + data)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log lines."""
