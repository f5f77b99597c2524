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
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

TOKEN = "123456:TEST-token_for-the-fake-api"
MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64
MAX_BUTTONS_PER_ROW = 8
MAX_BUTTONS = 100

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
    """A refusal, as Telegram words it."""

    def __init__(self, description: str, code: int = 400) -> None:
        super().__init__(description)
        self.description = description
        self.code = code


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
    def labels(self) -> list[str]:
        """Every button's label, in order."""
        return [button["text"] for row in self.buttons for button in row]


@dataclass
class User:
    """A Telegram user the test plays."""

    id: int = 4242
    first_name: str = "Camille"
    language_code: str | None = "fr"

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


@dataclass
class FakeBotAPI:
    """The server and everything it remembers. Thread-safe; start with `start()` or `with`."""

    token: str = TOKEN
    username: str = "newsbot_test_bot"
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)
    commands: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    webhook: dict[str, Any] = field(default_factory=dict)
    max_poll_wait: float = 30.0
    record_calls: bool = True

    def __post_init__(self) -> None:
        self._lock = threading.Condition()
        self._updates: list[dict[str, Any]] = []
        self._confirmed = 0  # every update_id below this was acknowledged by an offset
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._open_queries: set[str] = set()
        self._failures: list[_Failure] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.counts: dict[str, int] = {}

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> FakeBotAPI:
        """Listen on a free port of 127.0.0.1, in a background thread."""
        api = self

        class Handler(_Handler):
            server_api = api

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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
    def base_url(self) -> str:
        """What goes in `telegram.api_base_url`."""
        return f"http://127.0.0.1:{self.port}/bot"

    # -- what the user does ---------------------------------------------------------------------

    def send_message(self, user: User, text: str, chat_type: str = "private") -> int:
        """The user sends `text` (commands get their bot_command entity); the update id."""
        with self._lock:
            update_id = next(self._update_ids)
            message: dict[str, Any] = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": user.id, "type": chat_type, "first_name": user.first_name},
                "from": user.as_json(),
                "text": text,
            }
            if chat_type != "private":
                message["chat"] = {"id": -user.id, "type": chat_type, "title": "group"}
            if text.startswith("/"):
                length = utf16_len(text.split()[0])
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
            self._updates.append({"update_id": update_id, "message": message})
            self._lock.notify_all()
            return update_id

    def press(self, user: User, message: dict[str, Any], data: str) -> int:
        """The user presses a button with callback `data` on `message` (as returned to the
        bot); the update id."""
        with self._lock:
            update_id = next(self._update_ids)
            query_id = f"q{next(self._query_ids)}"
            self._open_queries.add(query_id)
            self._updates.append(
                {
                    "update_id": update_id,
                    "callback_query": {
                        "id": query_id,
                        "from": user.as_json(),
                        "chat_instance": f"ci{user.id}",
                        "data": data,
                        "message": message,
                    },
                }
            )
            self._lock.notify_all()
            return update_id

    def message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """A message as a client has it now (after edits), as Telegram would describe it."""
        with self._lock:
            stored = self.messages[(chat_id, message_id)]
            return {k: v for k, v in stored.items() if not k.startswith("_")}

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
    ) -> None:
        """Refuse the next `times` calls of `method` with this error."""
        with self._lock:
            self._failures.append(_Failure(method, description, code, times))

    def wait_acknowledged(self, update_id: int, timeout: float = 10.0) -> None:
        """Block until the bot asked for updates past `update_id` (it then holds it)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._confirmed <= update_id:
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
        if token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        if method == "getUpdates":
            # Not recorded: polling would drown the interesting calls.
            return 200, {"ok": True, "result": self._get_updates(params)}
        call = Call(method, params)
        with self._lock:
            self.counts[method] = self.counts.get(method, 0) + 1
            if self.record_calls:
                self.calls.append(call)
            try:
                failure = next((f for f in self._failures if f.method == method), None)
                if failure is not None:
                    failure.times -= 1
                    if failure.times <= 0:
                        self._failures.remove(failure)
                    raise ApiError(failure.description, failure.code)
                call.result = self._dispatch(method, params)
            except ApiError as exc:
                call.ok, call.error = False, exc.description
                return exc.code, {
                    "ok": False,
                    "error_code": exc.code,
                    "description": exc.description,
                }
        return 200, {"ok": True, "result": call.result}

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = min(float(params.get("timeout") or 0), self.max_poll_wait)
        deadline = time.monotonic() + timeout
        with self._lock:
            if offset:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                if offset > self._confirmed:
                    self._confirmed = offset
                    self._lock.notify_all()
            while not self._updates:
                left = min(deadline, time.monotonic() + self.max_poll_wait) - time.monotonic()
                if left <= 0:
                    break
                self._lock.wait(left)
            return self._updates[:limit]

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
            return self.commands.get(str(params.get("language_code") or ""), [])
        if method == "deleteMyCommands":
            self.commands.pop(str(params.get("language_code") or ""), None)
            return True
        if method == "sendChatAction":
            return True
        if method == "sendMessage":
            return self._send_message(params)
        if method == "editMessageText":
            return self._edit(params, text=True)
        if method == "editMessageReplyMarkup":
            return self._edit(params, text=False)
        if method == "answerCallbackQuery":
            return self._answer(params)
        raise ApiError(f"Not Found: method {method} not found", 404)

    def _bot(self) -> dict[str, Any]:
        return {
            "id": int(self.token.split(":")[0]),
            "is_bot": True,
            "first_name": "newsbot",
            "username": self.username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
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
        self.commands[str(params.get("language_code") or "")] = commands
        return True

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
        shown = self._check_text(params)
        markup = self._check_markup(params)
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
            "from": self._bot(),
            "text": shown,
        }
        if markup and markup.get("inline_keyboard"):
            message["reply_markup"] = markup
        self.messages[(chat_id, message["message_id"])] = {
            **message,
            "_html": params["text"],
            "_parse_mode": params.get("parse_mode"),
        }
        return message

    def _edit(self, params: dict[str, Any], *, text: bool) -> dict[str, Any]:
        key = (int(params["chat_id"]), int(params["message_id"]))
        old = self.messages.get(key)
        if old is None:
            raise ApiError("Bad Request: message to edit not found")
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


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, like api.telegram.org, so the client reuses connections."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle's algorithm on, the client's delayed
    # ACK would hold every answer back ~40 ms.
    disable_nagle_algorithm = True
    server_api: FakeBotAPI

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _serve(self) -> None:
        match = re.fullmatch(r"/bot([^/]+)/([A-Za-z]+)", self.path.split("?")[0])
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if match is None:
            self._reply(404, {"ok": False, "error_code": 404, "description": "Not Found"})
            return
        status, payload = self.server_api.handle(match[1], match[2], self._params(body))
        self._reply(status, payload)

    def _params(self, body: bytes) -> dict[str, Any]:
        kind = self.headers.get("Content-Type", "")
        if kind.startswith("application/json"):
            return dict(json.loads(body or b"{}"))
        pairs = parse_qsl(body.decode(), keep_blank_values=True)
        if "?" in self.path:
            pairs += parse_qsl(self.path.split("?", 1)[1], keep_blank_values=True)
        return {k: json.loads(v) if k in _JSON_PARAMS else v for k, v in pairs}

    def _reply(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        # A long poll the client gave up on (the bot stopping) has nobody left to answer.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request log lines."""
