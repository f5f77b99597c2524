"""What a chat's posts look like: the publisher's format, the picture mode and silent posts.

A chat's admins (in a private chat, its user) choose per chat what each pushed article shows
(title, 0–5 summary sentences, the category as a #hashtag, the author, the source, the link, a
signature line), how its picture is shown (a photo with the post as caption, the text under a
large link preview, or text only) and whether posts ring (always silent, silent during quiet
hours instead of holding them, or never silent). It lives in the chat's settings (JSON, key
"format" and key "silent"), read back leniently: a hand-edited or older value falls back to its
default rather than break the chat's posts.

`/format summary=2 hashtags=on signature="— Rédaction"` and the Format page of /settings both
go through `parse_format` and `FormatService.update`; the one renderer
(`bot.chat.render_delivery.post`) draws every post from an article and a `PostFormat`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from bot.deliver.policy import SILENT
from bot.errors import BadArgument
from bot.models import Chat
from bot.services.chats import ChatService
from bot.store.contract import ChatStore
from bot.text import clean_line

MAX_POST_SENTENCES = 5
MAX_SIGNATURE = 200
# How a post shows its article's picture.
PICTURE_MODES: tuple[str, ...] = ("photo", "preview", "text")
# When posts are sent without a notification (`disable_notification`).
SILENT_MODES: tuple[str, ...] = SILENT
# The on/off fields of a format, in the order /format and /settings show them.
SWITCHES: tuple[str, ...] = ("title", "hashtags", "author", "source", "link")
FORMAT_KEYS: tuple[str, ...] = (
    "title",
    "summary",
    "hashtags",
    "author",
    "source",
    "link",
    "signature",
    "picture",
    "silent",
)
_ON = frozenset({"on", "oui", "yes", "true", "1"})
_OFF = frozenset({"off", "non", "no", "false", "0"})
_PICTURE_WORDS = {
    "photo": "photo",
    "picture": "photo",
    "image": "photo",
    "preview": "preview",
    "apercu": "preview",
    "aperçu": "preview",
    "text": "text",
    "texte": "text",
}
_SILENT_WORDS = {
    "off": "off",
    "non": "off",
    "no": "off",
    "never": "off",
    "jamais": "off",
    "on": "always",
    "always": "always",
    "toujours": "always",
    "oui": "always",
    "yes": "always",
    "quiet": "quiet",
    "night": "quiet",
    "nuit": "quiet",
}


@dataclass(frozen=True, slots=True)
class PostFormat:
    """What a chat's posts show. `summary` None: the chat's summary length (at most 5)."""

    title: bool = True
    summary: int | None = None
    hashtags: bool = False
    author: bool = True
    source: bool = True
    link: bool = False
    signature: str = ""
    picture: str = "photo"
    silent: str = "off"

    def sentences(self, chat_default: int) -> int:
        """The number of summary sentences a post shows."""
        if self.summary is None:
            return min(chat_default, MAX_POST_SENTENCES)
        return self.summary

    def stored(self) -> dict[str, object]:
        """The format as kept in the chat's settings (key "format"), without `silent`."""
        values: dict[str, object] = {
            "title": self.title,
            "hashtags": self.hashtags,
            "author": self.author,
            "source": self.source,
            "link": self.link,
            "signature": self.signature,
            "picture": self.picture,
        }
        if self.summary is not None:
            values["summary"] = self.summary
        return values


DEFAULT_FORMAT = PostFormat()


def format_of(settings: Mapping[str, object]) -> PostFormat:
    """The post format in a chat's settings, each bad or missing value its default."""
    raw = settings.get("format")
    stored: Mapping[str, object] = raw if isinstance(raw, Mapping) else {}
    fields: dict[str, object] = {}
    for name in SWITCHES:
        value = stored.get(name)
        if isinstance(value, bool):
            fields[name] = value
    summary = stored.get("summary")
    if (
        isinstance(summary, int)
        and not isinstance(summary, bool)
        and 0 <= summary <= MAX_POST_SENTENCES
    ):
        fields["summary"] = summary
    signature = stored.get("signature")
    if isinstance(signature, str):
        fields["signature"] = clean_line(signature)[:MAX_SIGNATURE]
    picture = stored.get("picture")
    if picture in PICTURE_MODES:
        fields["picture"] = picture
    silent = settings.get("silent")
    if silent in SILENT_MODES:
        fields["silent"] = silent
    return replace(DEFAULT_FORMAT, **fields)  # type: ignore[arg-type]


def parse_format(text: str, current: PostFormat = DEFAULT_FORMAT) -> PostFormat:
    """`summary=2 hashtags=on signature="— Rédaction"` applied to *current*; BadArgument for
    anything that is not `key=value` pairs with known keys and values those keys take."""
    words = _words(text)
    if not words:
        raise BadArgument("expected key=value")
    changes: dict[str, object] = {}
    for key, value in words:
        key = key.lower()
        if key not in FORMAT_KEYS:
            raise BadArgument(f"unknown key {key!r}")
        changes[key] = _value(key, value.strip())
    return replace(current, **changes)  # type: ignore[arg-type]


# key=value, the value bare or quoted. Not shlex: Telegram clients turn "…" into “…” or «…»
# as people type, and a signature in those quotes must read the same as in straight ones.
_PAIR = re.compile(
    r'\s*([A-Za-z]+)=(?:"([^"]*)"|\'([^\']*)\'|“([^”]*)”|«([^»]*)»|([^\s"\'“”«»]*))(?=\s|$)'
)


def _words(text: str) -> list[tuple[str, str]]:
    """The key=value pairs of *text*; BadArgument if anything else is in it."""
    pairs: list[tuple[str, str]] = []
    position = 0
    text = text.rstrip()
    while position < len(text):
        match = _PAIR.match(text, position)
        if match is None:
            raise BadArgument(f"not key=value: {text[position:].split()[0]!r}")
        key, *values = match.groups()
        pairs.append((key, next((v for v in values if v is not None), "")))
        position = match.end()
    return pairs


def _value(key: str, value: str) -> object:
    lowered = value.lower()
    if key in SWITCHES:
        if lowered in _ON:
            return True
        if lowered in _OFF:
            return False
        raise BadArgument(f"{key} takes on or off")
    if key == "summary":
        if lowered.isdigit() and int(lowered) <= MAX_POST_SENTENCES:
            return int(lowered)
        raise BadArgument(f"summary takes 0 to {MAX_POST_SENTENCES}")
    if key == "signature":
        line = clean_line(value)
        if len(line) > MAX_SIGNATURE:
            raise BadArgument(f"a signature has at most {MAX_SIGNATURE} characters")
        return "" if lowered in ("off", "none", "aucune") else line
    if key == "picture":
        if lowered in _PICTURE_WORDS:
            return _PICTURE_WORDS[lowered]
        raise BadArgument("picture takes photo, preview or text")
    # silent
    if lowered in _SILENT_WORDS:
        return _SILENT_WORDS[lowered]
    raise BadArgument("silent takes on, off or quiet")


class FormatService:
    """Reads and changes a chat's post format (the chat row exists from then on)."""

    def __init__(self, store: ChatStore, chats: ChatService) -> None:
        self.store = store
        self.chats = chats

    async def format(self, chat_id: int) -> PostFormat:
        chat = await self.store.find_chat(chat_id)
        return format_of(chat.settings if chat else {})

    async def update(self, chat_id: int, new: PostFormat) -> PostFormat:
        """Store *new* as the chat's format and silent mode."""
        await self.chats.preferences(chat_id)
        old = await self.format(chat_id)
        chat: Chat = await self.store.update_chat_settings(
            # Only silent posts change when the chat receives (held or sent silently).
            chat_id,
            format=new.stored(),
            silent=new.silent,
            reschedule=new.silent != old.silent,
        )
        return format_of(chat.settings)

    async def change(self, chat_id: int, text: str) -> PostFormat:
        """Apply `/format` arguments; BadArgument for a bad one, nothing stored then."""
        return await self.update(chat_id, parse_format(text, await self.format(chat_id)))
