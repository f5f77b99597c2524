"""Compact callback data: what a button does, in at most Telegram's 64 bytes.

One letter names the action, then its fields separated by ":". An upper-case letter opens a new
message, its lower-case twin edits the message the button belongs to (paging, switching the
summary length), so the conversation does not fill with copies:

    l:<offset>:<size>:<category id or empty>   a page of the latest articles (edit)
    c:<category id>                            a category's latest articles (new message)
    q:<offset>:<size>:<query>                  a page of search results (edit)
    S:<id>  / s:<id>:<sentences>               an article's summary (new / edit; 0 = chat's)
    F:<id>  / f:<id>:<page>                    an article's full text (new, page 1 / edit)
    o:<n|a|l>:<value>                          a setting: summary length, algorithm, language
    L:<language>                               the interface language (from /language)
    v:<latest|categories|settings>             a command's view (from /start's buttons)
    n:<category id> / x:<category id>          subscribe / unsubscribe (notice; x edits a list)
    g:<digest id>:<page>                       a page of a digest (edit)
    d:<m|t|q|p>:<value>                        a delivery setting: mode, digest time, quiet
                                               hours ("" = off), pause ("1") / resume ("0")
    P:<f|s>                                    the Format page of /settings, or back (edit)
    p:<key>:<value>                            a post format field (`/format key=value`; edit)
    A:<p|r|e|d|x|X>:<n>                        the bot's admins' /feeds: page n (edit); feed n
                                               fetched now, enabled, disabled, its removal
                                               asked (x: confirm), removed (X)

Ids are the article and category ids; a query is the last field so it may contain ":" and is
cut by UTF-8 bytes, at a character boundary, to fit. Data that does not parse (a button from an
older version of the bot, or forged) raises `StaleButton`, and the bot says the button has
expired.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from bot.errors import StaleButton

MAX_BYTES = 64
_HHMM = re.compile(r"\d\d:\d\d")
_QUIET = re.compile(r"\d\d:\d\d-\d\d:\d\d")
_FORMAT_VALUE = re.compile(r"[a-z0-9]{1,10}")
# The post format fields a button sets (the signature is typed: /format signature="...").
FORMAT_BUTTON_KEYS = (
    "title",
    "summary",
    "hashtags",
    "author",
    "source",
    "link",
    "picture",
    "silent",
)

SettingKind = Literal["n", "a", "l"]
View = Literal["latest", "categories", "settings"]
DeliveryKind = Literal["m", "t", "q", "p"]
FeedKind = Literal["p", "r", "e", "d", "x", "X"]
_FEED_KINDS: tuple[FeedKind, ...] = ("p", "r", "e", "d", "x", "X")


@dataclass(frozen=True, slots=True)
class ShowLatest:
    """A page of the latest articles, overall or in one category; edits the list."""

    offset: int = 0
    size: int = 5
    category_id: int | None = None


@dataclass(frozen=True, slots=True)
class OpenCategory:
    """The latest articles of a category, as a new message (from /categories)."""

    category_id: int


@dataclass(frozen=True, slots=True)
class ShowSearch:
    """A page of search results; edits the list."""

    query: str
    offset: int = 0
    size: int = 5


@dataclass(frozen=True, slots=True)
class OpenSummary:
    """An article's summary at the chat's length, as a new message."""

    article_id: int


@dataclass(frozen=True, slots=True)
class ShowSummary:
    """An article's summary in `sentences` sentences (0: the chat's setting), in place."""

    article_id: int
    sentences: int = 0


@dataclass(frozen=True, slots=True)
class OpenFullText:
    """The first page of an article's full text, as a new message."""

    article_id: int


@dataclass(frozen=True, slots=True)
class ShowFullText:
    """A page of an article's full text, in place."""

    article_id: int
    page: int = 1


@dataclass(frozen=True, slots=True)
class SetOption:
    """A change from the /settings view: n = summary length, a = algorithm, l = language."""

    kind: SettingKind
    value: str


@dataclass(frozen=True, slots=True)
class SetLanguage:
    """The interface language chosen from /language's buttons."""

    language: str


@dataclass(frozen=True, slots=True)
class OpenView:
    """One of the main views, as a new message (from /start's buttons)."""

    view: View


@dataclass(frozen=True, slots=True)
class Subscribe:
    """Subscribe the chat to a category (from /categories)."""

    category_id: int


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """Unsubscribe the chat from a category (from /subscriptions or a pushed article)."""

    category_id: int


@dataclass(frozen=True, slots=True)
class ShowDigest:
    """A page of a digest message, in place."""

    digest_id: int
    page: int = 1


@dataclass(frozen=True, slots=True)
class SetDelivery:
    """A delivery setting from /settings: m = mode, t = digest time, q = quiet hours,
    p = pause."""

    kind: DeliveryKind
    value: str


@dataclass(frozen=True, slots=True)
class FormatPage:
    """The Format page of /settings ("f") or back to the settings ("s"), in place."""

    page: Literal["f", "s"] = "f"


@dataclass(frozen=True, slots=True)
class SetFormat:
    """One field of the chat's post format, from the Format page: `value` as `/format`
    takes it ("on", "2", "photo", "quiet")."""

    key: str
    value: str


@dataclass(frozen=True, slots=True)
class FeedAction:
    """A button of /feeds (the bot's admins only): p = page `value`; for feed `value`,
    r = fetch now, e = enable, d = disable, x = ask to remove, X = remove."""

    kind: FeedKind
    value: int


Action = (
    ShowLatest
    | OpenCategory
    | ShowSearch
    | OpenSummary
    | ShowSummary
    | OpenFullText
    | ShowFullText
    | SetOption
    | SetLanguage
    | OpenView
    | Subscribe
    | Unsubscribe
    | ShowDigest
    | SetDelivery
    | FormatPage
    | SetFormat
    | FeedAction
)


def truncate_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of `text` that is at most `max_bytes` long in UTF-8, never cutting a
    character in two."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[: max(0, max_bytes)].decode("utf-8", "ignore")


def _opt(value: int | None) -> str:
    return "" if value is None else str(value)


def encode(action: Action) -> str:
    """The callback data of `action`; a search query is cut to fit, anything else that would
    not fit is a bug and raises ValueError."""
    match action:
        case ShowLatest(offset, size, category_id):
            data = f"l:{offset}:{size}:{_opt(category_id)}"
        case OpenCategory(category_id):
            data = f"c:{category_id}"
        case ShowSearch(query, offset, size):
            head = f"q:{offset}:{size}:"
            data = head + truncate_utf8(query, MAX_BYTES - len(head.encode())).rstrip()
        case OpenSummary(article_id):
            data = f"S:{article_id}"
        case ShowSummary(article_id, sentences):
            data = f"s:{article_id}:{sentences}"
        case OpenFullText(article_id):
            data = f"F:{article_id}"
        case ShowFullText(article_id, page):
            data = f"f:{article_id}:{page}"
        case SetOption(kind, value):
            data = f"o:{kind}:{value}"
        case SetLanguage(language):
            data = f"L:{language}"
        case OpenView(view):
            data = f"v:{view}"
        case Subscribe(category_id):
            data = f"n:{category_id}"
        case Unsubscribe(category_id):
            data = f"x:{category_id}"
        case ShowDigest(digest_id, page):
            data = f"g:{digest_id}:{page}"
        case SetDelivery(kind, value):
            data = f"d:{kind}:{value}"
        case FormatPage(page):
            data = f"P:{page}"
        case SetFormat(key, value):
            data = f"p:{key}:{value}"
        case FeedAction(kind, value):
            data = f"A:{kind}:{value}"
    if len(data.encode()) > MAX_BYTES:
        raise ValueError(f"callback data over {MAX_BYTES} bytes: {data!r}")
    return data


def _nat(text: str, data: str) -> int:
    """A non-negative decimal integer; StaleButton otherwise (no sign, no spaces, no "²")."""
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise StaleButton(data)
    return int(text)


def _fields(rest: str, count: int, data: str) -> list[str]:
    """`rest` split at ":" into exactly `count` fields (the last one keeps any further ":");
    StaleButton for fewer."""
    fields = rest.split(":", count - 1)
    if len(fields) != count:
        raise StaleButton(data)
    return fields


def decode(data: str | None) -> Action:
    """The action of a button's data; StaleButton if it is not one this version produces."""
    if not data:
        raise StaleButton(data)
    kind, _, rest = data.partition(":")
    match kind:
        case "l":
            offset, size, category = _fields(rest, 3, data)
            return ShowLatest(
                _nat(offset, data), _nat(size, data), _nat(category, data) if category else None
            )
        case "c":
            return OpenCategory(_nat(rest, data))
        case "q":
            offset, size, query = _fields(rest, 3, data)
            return ShowSearch(query, _nat(offset, data), _nat(size, data))
        case "S":
            return OpenSummary(_nat(rest, data))
        case "s":
            article, sentences = _fields(rest, 2, data)
            return ShowSummary(_nat(article, data), _nat(sentences, data))
        case "F":
            return OpenFullText(_nat(rest, data))
        case "f":
            article, page = _fields(rest, 2, data)
            return ShowFullText(_nat(article, data), _nat(page, data))
        case "o":
            setting, value = _fields(rest, 2, data)
            if setting == "n":
                return SetOption("n", str(_nat(value, data)))
            if setting == "a":
                return SetOption("a", value)
            if setting == "l":
                return SetOption("l", value)
        case "L":
            return SetLanguage(rest)
        case "v":
            if rest == "latest":
                return OpenView("latest")
            if rest == "categories":
                return OpenView("categories")
            if rest == "settings":
                return OpenView("settings")
        case "n":
            return Subscribe(_nat(rest, data))
        case "x":
            return Unsubscribe(_nat(rest, data))
        case "g":
            digest, page = _fields(rest, 2, data)
            return ShowDigest(_nat(digest, data), _nat(page, data))
        case "d":
            setting, value = _fields(rest, 2, data)
            if setting == "m" and value in ("instant", "digest"):
                return SetDelivery("m", value)
            if setting == "t" and _HHMM.fullmatch(value):
                return SetDelivery("t", value)
            if setting == "q" and (value == "" or _QUIET.fullmatch(value)):
                return SetDelivery("q", value)
            if setting == "p" and value in ("0", "1"):
                return SetDelivery("p", value)
        case "P":
            if rest == "f":
                return FormatPage("f")
            if rest == "s":
                return FormatPage("s")
        case "p":
            key, value = _fields(rest, 2, data)
            if key in FORMAT_BUTTON_KEYS and _FORMAT_VALUE.fullmatch(value):
                return SetFormat(key, value)
        case "A":
            feed_kind, value = _fields(rest, 2, data)
            for known in _FEED_KINDS:
                if feed_kind == known:
                    return FeedAction(known, _nat(value, data))
    raise StaleButton(data)
