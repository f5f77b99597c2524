"""`newsbot shell`: chat with the bot in a terminal, with no token and no network.

The real Application and handlers run; only the request layer differs. `ShellRequest` answers
the Bot API methods the bot calls (getMe, sendMessage, editMessageText, answerCallbackQuery...)
itself and prints what a Telegram client would show: the text rendered readably and the buttons
numbered. Each line read becomes an update, as if the user had typed it in Telegram: a number,
or a button's label, presses that button of the last message shown; `/quit` or the end of the
input leaves. Input can be piped, so the shell doubles as a scripted end-to-end check.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any, TextIO

from telegram import Update
from telegram.request import BaseRequest, RequestData

from bot.chat.context import NewsApplication
from bot.clock import Clock
from bot.text import html_to_text

SHELL_CHAT_ID = 1
SHELL_BOT = {
    "id": 1000,
    "is_bot": True,
    "first_name": "newsbot",
    "username": "newsbot_shell_bot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
QUIT = ("/quit", "/exit")


def language_from_env(env: dict[str, str] | None = None) -> str:
    """The user's language from the locale variables ("fr_FR.UTF-8" -> "fr"), else "en"."""
    env = dict(os.environ) if env is None else env
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name, "")
        if value and value not in ("C", "POSIX") and not value.startswith("C."):
            return value[:2].lower()
    return "en"


# ANSI styles for Telegram's formatting tags when the terminal shows colors.
_STYLES = {"b": "1", "strong": "1", "i": "3", "em": "3", "u": "4", "ins": "4", "code": "2"}
_MARKS = {tag: (f"\033[{code}m", "\033[0m") for tag, code in _STYLES.items()}


def terminal_text(text: str, parse_mode: str | None, color: bool = False) -> str:
    """A message's text as the terminal shows it: bold/italic as ANSI styles (or nothing),
    links as "text <url>"."""
    if parse_mode != "HTML":
        return text
    return html_to_text(text, links=" <{href}>", marks=_MARKS if color else None)


@dataclass(slots=True)
class ShownButton:
    """A button of the last message shown, as the user can press it."""

    label: str
    message: dict[str, Any]
    data: str | None = None
    url: str | None = None


@dataclass(slots=True)
class Screen:
    """What the terminal shows: messages by id, and the buttons of the last one that had any."""

    out: TextIO
    color: bool = False
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    buttons: list[ShownButton] = field(default_factory=list)

    def show(self, message: dict[str, Any], parse_mode: str | None, edited: bool) -> None:
        """Print a message (again, marked, when edited) with its buttons numbered."""
        self.messages[message["message_id"]] = message
        tag = "✎ newsbot (edited)" if edited else "newsbot"
        lines = [f"── {tag} " + "─" * max(0, 40 - len(tag))]
        body = terminal_text(message["text"], parse_mode, self.color)
        lines += [f"  {line}" if line else "" for line in body.split("\n")]
        rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
        if rows:
            self.buttons = []
            lines.append("")
            for row in rows:
                cells = []
                for button in row:
                    self.buttons.append(
                        ShownButton(
                            button["text"], message, button.get("callback_data"), button.get("url")
                        )
                    )
                    arrow = " ↗" if button.get("url") else ""
                    cells.append(f"[{len(self.buttons)}] {button['text']}{arrow}")
                lines.append("  " + "   ".join(cells))
        self.print("\n".join(lines))

    def notice(self, text: str, alert: bool) -> None:
        """A callback query's answer: a toast, or an alert the user must dismiss."""
        self.print(f"  {'⚠' if alert else 'ⓘ'} {text}")

    def find(self, typed: str) -> ShownButton | None:
        """The button a line presses: its number, or its label (case-insensitive, emoji and
        "✓" optional), among the last buttons shown."""
        if typed.isdigit():
            index = int(typed) - 1
            return self.buttons[index] if 0 <= index < len(self.buttons) else None
        wanted = _label_key(typed)
        matches = [b for b in self.buttons if wanted and _label_key(b.label) == wanted]
        return matches[0] if len(matches) == 1 else None

    def print(self, text: str) -> None:
        """Write a block of output, flushed so piped readers see it in order."""
        self.out.write(text + "\n")
        self.out.flush()


def _label_key(label: str) -> str:
    kept = "".join(c for c in label.casefold() if c.isalnum() or c.isspace())
    return " ".join(kept.split())


class ShellRequest(BaseRequest):
    """A Bot API that lives in the terminal: answers the bot's calls locally and shows them."""

    def __init__(self, screen: Screen, clock: Clock) -> None:
        self.screen = screen
        self.clock = clock
        self._ids = itertools.count(1)

    @property
    def read_timeout(self) -> float | None:
        """Nothing is read from a network, so there is nothing to time out."""
        return None

    async def initialize(self) -> None:
        """No connection to open."""

    async def shutdown(self) -> None:
        """No connection to close."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: object = BaseRequest.DEFAULT_NONE,
        write_timeout: object = BaseRequest.DEFAULT_NONE,
        connect_timeout: object = BaseRequest.DEFAULT_NONE,
        pool_timeout: object = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Answer the Bot API method named at the end of `url` as Telegram would."""
        name = url.rsplit("/", 1)[-1]
        params = request_data.parameters if request_data else {}
        try:
            result = self.call(name, params)
        except LookupError as exc:
            body = {"ok": False, "error_code": 400, "description": f"Bad Request: {exc}"}
            return 400, json.dumps(body).encode()
        return 200, json.dumps({"ok": True, "result": result}).encode()

    def _date(self) -> int:
        return int(self.clock.now().timestamp())

    def call(self, name: str, params: dict[str, Any]) -> object:
        """The result of one Bot API call; LookupError for what the shell cannot do."""
        if name == "getMe":
            return SHELL_BOT
        if name in ("setMyCommands", "deleteMyCommands", "deleteWebhook", "sendChatAction"):
            return True
        if name == "getMyCommands":
            return []
        if name in ("sendMessage", "sendPhoto"):
            text = params.get("text") or params.get("caption") or ""
            if name == "sendPhoto":  # a terminal shows no picture: its address, then the caption
                photo = str(params.get("photo"))
                shown = html.escape(photo) if params.get("parse_mode") else photo
                text = f"🖼 {shown}\n{text}"
            message = {
                "message_id": next(self._ids),
                "date": self._date(),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "from": SHELL_BOT,
                "text": text,
            }
            if params.get("reply_markup"):
                message["reply_markup"] = params["reply_markup"]
            self.screen.show(message, params.get("parse_mode"), edited=False)
            return message
        if name in ("editMessageText", "editMessageReplyMarkup"):
            old = self.screen.messages.get(int(params["message_id"]))
            if old is None:
                raise LookupError("message to edit not found")
            message = {**old, "edit_date": self._date()}
            if name == "editMessageText":
                message["text"] = params["text"]
            message.pop("reply_markup", None)
            if params.get("reply_markup"):
                message["reply_markup"] = params["reply_markup"]
            if (message["text"], message.get("reply_markup")) == (
                old["text"],
                old.get("reply_markup"),
            ):
                # What Telegram answers; the bot takes it as "nothing to do".
                raise LookupError("message is not modified")
            self.screen.show(message, params.get("parse_mode"), edited=True)
            return message
        if name == "answerCallbackQuery":
            if params.get("text"):
                self.screen.notice(str(params["text"]), bool(params.get("show_alert")))
            return True
        raise LookupError(f"method {name} is not available in the shell")


@dataclass(slots=True)
class ShellUser:
    """The person at the terminal, as Telegram would describe them."""

    language_code: str
    first_name: str = "you"
    id: int = SHELL_CHAT_ID

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "is_bot": False,
            "first_name": self.first_name,
            "language_code": self.language_code,
        }


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def message_update(update_id: int, user: ShellUser, text: str, date: int) -> dict[str, Any]:
    """The update Telegram sends when the user types `text` (commands marked as such) at
    *date* (a Unix time)."""
    message: dict[str, Any] = {
        "message_id": 1_000_000 + update_id,
        "date": date,
        "chat": {"id": user.id, "type": "private", "first_name": user.first_name},
        "from": user.as_json(),
        "text": text,
    }
    if text.startswith("/"):
        command = text.split()[0]
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": _utf16_len(command)}]
    return {"update_id": update_id, "message": message}


def callback_update(update_id: int, user: ShellUser, button: ShownButton) -> dict[str, Any]:
    """The update Telegram sends when the user presses `button`."""
    return {
        "update_id": update_id,
        "callback_query": {
            "id": str(update_id),
            "from": user.as_json(),
            "chat_instance": "shell",
            "data": button.data,
            "message": button.message,
        },
    }


def _read_lines(stdin: TextIO) -> asyncio.Queue[str | None]:
    """Lines of `stdin` as they come, then None at the end.

    Read in a daemon thread rather than `asyncio.to_thread`: on Ctrl-C the loop must not wait
    at exit for a thread still blocked in `readline`.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        try:
            for line in stdin:
                loop.call_soon_threadsafe(queue.put_nowait, line)
        finally:
            with contextlib.suppress(RuntimeError):  # the loop is already closed
                loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=read, name="shell-stdin", daemon=True).start()
    return queue


async def run_shell(
    application: NewsApplication,
    screen: Screen,
    stdin: TextIO,
    user: ShellUser,
    *,
    interactive: bool,
    clock: Clock,
) -> None:
    """Read lines until /quit or end of input, and hand each to the bot as an update."""
    screen.print(
        "newsbot shell: talk to the bot as in Telegram (try /start, /latest, /help).\n"
        "Press a button by typing its number or its label; /quit or Ctrl-D leaves."
    )
    lines = _read_lines(stdin)
    for update_id in itertools.count(1):
        if interactive:
            screen.out.write("› ")
            screen.out.flush()
        line = await lines.get()
        if line is None:
            break
        text = line.strip()
        if not text:
            continue
        if not interactive:
            screen.print(f"› {text}")
        if text.lower() in QUIT:
            break
        button = screen.find(text)
        if button is not None and button.url:
            screen.print(f"  ↗ {button.url}")
            continue
        if button is not None:
            data = callback_update(update_id, user, button)
        else:
            data = message_update(update_id, user, text, int(clock.now().timestamp()))
        await application.process_update(Update.de_json(data, application.bot))
