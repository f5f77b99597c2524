"""Feed bytes -> entries. Pure: no network, no database, no clock.

feedparser does the parsing (RSS 0.9x, 1.0, 2.0, Atom 0.3/1.0, with its loose parser as a
fallback for broken XML); this module only feeds it the bytes we fetched and turns its loose
dictionaries into `FeedEntry` values the rest of the pipeline can trust:

- feedparser is never given a URL or a string, only a byte stream, so it cannot fetch anything
  or open a local file by itself;
- the response's Content-Type goes along for the charset, except when the bytes are valid
  UTF-8 but declared as a single-byte charset: then the declaration is wrong (a CMS's
  misconfiguration, common) and UTF-8 is what we read;
- a document flagged malformed ("bozo") that still has entries is used, its problem noted;
  one without entries is a `FeedParseError` saying why (an HTML page, truncated XML, ...).

Guids: a feed's `<guid>`/`<id>` is only promised unique within that feed, and many are just
"1", "2", ... So a guid that is not globally unique by construction (an http(s) URL, a
`urn:` or a `tag:` URI) is namespaced by the feed: `https://ex.org/rss#1` (see `entry_guid`).
The same story in two feeds of one site is then still caught by its URL.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from bot.errors import FeedParseError
from bot.text import clean_line, first_image, html_to_text, normalize_body, remove_repeats
from bot.urls import absolute_http_url, normalize_url

# A feed text shorter than this many words is a teaser: the article page is fetched for the
# full text. News feeds either carry whole articles (hundreds of words) or a one-to-three
# sentence description, so the threshold is not delicate.
TEASER_MAX_WORDS = 120
# ...and so is a longer text that ends like a cut ("[…]", "Lire la suite").
_CUT_ENDINGS = re.compile(
    r"(\[(…|\.\.\.)\]|…|\.\.\.|lire la suite|read more|continue reading|la suite)\W*$",
    re.IGNORECASE,
)
_GLOBAL_GUID = re.compile(r"^(https?://|urn:|tag:)", re.IGNORECASE)
_SINGLE_BYTE_CHARSETS = frozenset(
    {"us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1", "windows-1252", "cp1252"}
)
_TITLE_CHARS = 160
_EMAIL_NAME = re.compile(r"\S+@\S+\s*\((?P<name1>[^)]*)\)|(?P<name2>[^<]*?)\s*<\S+@\S+>")


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One entry of a feed, cleaned: plain-text title and text, UTC date, absolute URL.

    `text` is the best text the feed carries (its full content, else its description);
    `teaser` says whether that is only a teaser, so the page should be fetched.
    """

    title: str
    text: str
    guid: str | None = None
    url: str | None = None
    author: str | None = None
    published: datetime | None = None
    tags: tuple[str, ...] = ()
    teaser: bool = False
    # The lead picture's absolute http(s) URL (see `lead_image`).
    image: str | None = None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed feed: its title, format (feedparser's `version`, e.g. "rss20", "atom10"),
    entries in document order, and why feedparser found it malformed if it did."""

    entries: list[FeedEntry]
    title: str | None = None
    version: str = ""
    malformed: str | None = None
    # The feed's own category (RSS <channel><category>, Atom <feed><category>), if any.
    category: str | None = None


def parse_feed(
    content: bytes,
    *,
    url: str,
    headers: Mapping[str, str] | None = None,
    base: str | None = None,
) -> ParsedFeed:
    """Parse fetched feed bytes. *url* is the feed's URL as configured (non-URL guids are
    namespaced by it, so they stay stable if the feed starts redirecting); *base* the final
    URL after redirects, which relative links resolve against (default *url*); *headers* the
    response's, with lower-case names.

    Raises FeedParseError when the bytes hold no usable entry.
    """
    # No Content-Location on purpose: with a base URL feedparser turns a permalink guid "1"
    # into "https://ex.org/1" before we can namespace it. Links are resolved in `_entry`.
    response_headers: dict[str, str] = {}
    content_type = (headers or {}).get("content-type", "")
    response_headers["content-type"] = _content_type(content, content_type)
    if headers and headers.get("content-language"):
        response_headers["content-language"] = headers["content-language"]
    parsed = feedparser.parse(
        io.BytesIO(content), response_headers=response_headers, sanitize_html=True
    )
    problem = _bozo_reason(parsed) if parsed.get("bozo") else None
    raw_entries: list[Any] = parsed.get("entries") or []
    if not raw_entries:
        if not content.strip():
            raise FeedParseError("empty response")
        if not parsed.get("version"):
            raise FeedParseError(
                f"not a feed: {_not_a_feed_reason(content, content_type, problem)}"
            )
        raise FeedParseError("feed has no entries")
    entries = [entry for raw in raw_entries if (entry := _entry(raw, url, base or url)) is not None]
    if not entries:
        raise FeedParseError("no entry has a title or text")
    feed = parsed.get("feed") or {}
    title = clean_line(html_to_text(feed.get("title") or "")) or None
    categories = _tags(feed.get("tags") or ())
    return ParsedFeed(
        entries,
        title,
        parsed.get("version") or "",
        problem,
        categories[0] if categories else None,
    )


def entry_guid(feed_url: str, guid: str | None) -> str | None:
    """The guid to store for an entry of the feed at *feed_url* (see the module docstring)."""
    if not guid or not guid.strip():
        return None
    guid = guid.strip()
    if _GLOBAL_GUID.match(guid):
        return guid
    return f"{normalize_url(feed_url)}#{guid}"


def is_teaser(text: str) -> bool:
    """Whether a feed text is only a teaser of the article (short, or visibly cut)."""
    return len(text.split()) < TEASER_MAX_WORDS or bool(_CUT_ENDINGS.search(text))


def _content_type(content: bytes, declared: str) -> str:
    media, _, params = declared.partition(";")
    charset = ""
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip("\"'").lower()
    media = media.strip().lower()
    single_byte = not charset or charset in _SINGLE_BYTE_CHARSETS
    if single_byte and not content.isascii() and _is_utf8(content):
        # Valid multi-byte UTF-8 is vanishingly unlikely in real Latin-1 text, so a
        # "latin-1" (or an absent header with a wrong XML declaration) here is a lie.
        return f"{media or 'application/xml'}; charset=utf-8"
    # text/xml without a charset means US-ASCII by RFC 3023, which feedparser applies and
    # which is never what a French feed means; application/xml lets the XML declaration speak.
    if not charset and (not media or media == "text/xml"):
        return "application/xml"
    return declared or "application/xml"


def _is_utf8(content: bytes) -> bool:
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _bozo_reason(parsed: Any) -> str:
    exc = parsed.get("bozo_exception")
    reason = str(getattr(exc, "getMessage", lambda: exc)()) if exc is not None else ""
    return " ".join(reason.split()) or "malformed document"


def _not_a_feed_reason(content: bytes, content_type: str, problem: str | None) -> str:
    head = content[:2048].lstrip().lower()
    if b"<html" in head or b"<!doctype html" in head or "html" in content_type.lower():
        return "got an HTML page"
    return problem or "no RSS or Atom document"


def _entry(raw: Any, feed_url: str, base: str) -> FeedEntry | None:
    title = clean_line(html_to_text(raw.get("title") or ""))
    texts = [
        normalize_body(html_to_text(part.get("value") or "")) for part in raw.get("content") or []
    ]
    texts.append(normalize_body(html_to_text(raw.get("summary") or "")))
    text = remove_repeats(max(texts, key=len))
    if not title and not text:
        return None
    if not title:
        title = _title_from(text)
    if title and text == title:  # some feeds repeat the title as the description
        text = ""
    link = urljoin(base, (raw.get("link") or "").strip()) if raw.get("link") else ""
    url = link if link.lower().startswith(("http://", "https://")) else None
    return FeedEntry(
        title=title,
        text=text,
        guid=entry_guid(feed_url, raw.get("id")),
        url=url,
        author=_author(raw.get("author_detail", {}).get("name") or raw.get("author") or ""),
        published=_date(raw.get("published_parsed") or raw.get("updated_parsed")),
        tags=_tags(raw.get("tags") or ()),
        teaser=is_teaser(text),
        image=lead_image(raw, base),
    )


_IMAGE_TYPES = ("image/",)


def lead_image(raw: Any, base: str) -> str | None:
    """An entry's lead picture, as an absolute http(s) URL: the first `media:content` that is
    an image (by type or medium), else `media:thumbnail`, else an `enclosure` of type
    `image/*`, else the first `<img>` of its content or description. None for anything else
    (a `data:` or `javascript:` source, a video)."""
    candidates: list[str] = []
    for media in raw.get("media_content") or ():
        kind = str(media.get("type") or "").lower()
        medium = str(media.get("medium") or "").lower()
        if kind.startswith(_IMAGE_TYPES) or medium == "image":
            candidates.append(str(media.get("url") or ""))
    candidates += [str(thumb.get("url") or "") for thumb in raw.get("media_thumbnail") or ()]
    for link in raw.get("links") or ():
        if link.get("rel") == "enclosure" and str(link.get("type") or "").lower().startswith(
            _IMAGE_TYPES
        ):
            candidates.append(str(link.get("href") or ""))
    for part in [*(raw.get("content") or ()), {"value": raw.get("summary") or ""}]:
        src = first_image(part.get("value") or "")
        if src:
            candidates.append(src)
            break
    for candidate in candidates:
        url = absolute_http_url(candidate, base)
        if url:
            return url
    return None


def _author(value: str) -> str | None:
    """A display name from RSS's "email (Name)" or "Name <email>"; a bare address is dropped
    (it is not a byline, and readers need not see it)."""
    value = clean_line(html_to_text(value))
    if match := _EMAIL_NAME.fullmatch(value):
        value = (match["name1"] or match["name2"] or "").strip()
    if "@" in value and " " not in value:
        return None
    return value or None


def _title_from(text: str) -> str:
    first = text.split("\n", 1)[0]
    if len(first) <= _TITLE_CHARS:
        return first
    return first[:_TITLE_CHARS].rsplit(" ", 1)[0] + "…"


def _date(value: Any) -> datetime | None:
    """feedparser's parsed dates are UTC struct_times; out-of-range ones are dropped."""
    if not value:
        return None
    try:
        year, month, day, hour, minute, second = value[:6]
        return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
    except (TypeError, ValueError):
        return None


def _tags(tags: Sequence[Any]) -> tuple[str, ...]:
    found: list[str] = []
    for tag in tags:
        term = clean_line(tag.get("label") or tag.get("term") or "")
        if term and term not in found:
            found.append(term)
    return tuple(found)
