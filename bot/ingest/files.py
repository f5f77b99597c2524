"""Parsing of the files `newsbot import` reads and the records `newsbot export` writes.

Pure: no database, no network. Two input formats:

* JSON Lines (`.jsonl`, `.ndjson`, `.json`, or any file whose first non-blank character is
  "{"): one article object per line, the same shape `article_to_record` exports, so an export
  can be imported again. Streamed line by line, so a large file costs little memory.
* A plain-text page (anything else): one article per file, either flattened to one line
  ("Title Author, November 26, 2025 Body... Category") or on several lines (title, byline,
  paragraphs, category alone on the last line).

A bad record never stops an import: `iter_import_file` yields an `ImportFormatError` carrying
`FILE:LINE` and a precise reason, then goes on. Only a file that cannot be read at all (missing,
a directory, binary, empty, or a text page that is not UTF-8) raises, with line 0. `-` is
standard input.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from bot.errors import ImportFormatError
from bot.models import Article, NewArticle, as_utc
from bot.text import (
    MAX_CATEGORY_CHARS,
    MAX_KEY_BYTES,
    MAX_LANGUAGE_CHARS,
    cap_category,
    cap_language,
    clean_line,
    key_fits,
    normalize_body,
    remove_repeats,
)
from bot.urls import normalize_url

JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson", ".json"})

# A text page is read whole; past this size it is surely not one article.
MAX_TEXT_PAGE_BYTES = 8 * 1024 * 1024

_SNIFF_BYTES = 8192
# A line that starts a JSON object: the sign of JSON Lines, whatever else the start holds.
_RECORD_START = re.compile(rb"(?:^|\n)\{")


@dataclass(frozen=True, slots=True)
class ImportNote:
    """A good record stored with a field shortened or left out to fit the store's limits
    (`bot.text`), so that every backend takes it: reported like a problem, counted apart."""

    source: str
    lineno: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.lineno}: {self.reason}"


ImportItem = tuple[int, NewArticle] | ImportFormatError | ImportNote
"""What `iter_import_file` yields: a good record with its line number, a note about a field of
the record that follows it, or a bad record's error."""

_OPTIONAL_FIELDS = ("url", "guid", "author", "published", "category", "language", "image")
_WHITESPACE = re.compile(r"\s")
_LANGUAGE_CODE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*")
# A JSON escape that can decode to a surrogate: only then are the values checked for a lone one
# (a line decoded from UTF-8 cannot hold one otherwise), keeping the common case free.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


# --------------------------------------------------------------------------------------------
# Files


STDIN = "-"
"""The file name that means standard input, as for `summarize` and `feeds import`."""


def iter_import_file(path: Path, source: str | None = None) -> ImportItems:
    """Yield `(line_number, article)` for each good record of *path* and an error for each bad one.

    Not a generator itself: the file is opened and sniffed (and a text page read) when this is
    called, so an unreadable file raises `ImportFormatError(source, 0, reason)` right at the
    call, not halfway through iterating, and never looks like an empty import. The file is
    opened once and what the sniff read is parsed too, so standard input (`-`), a pipe,
    `/dev/stdin` or a named FIFO is read completely. JSON Lines are then decoded line by line
    from bytes: a stray invalid byte spoils only its line, wherever it is, and "\\r" or U+2028
    inside a record cannot split it. Close the result when not iterating it to the end.
    """
    stdin = str(path) == STDIN
    if source is None:
        source = "<stdin>" if stdin else str(path)
    if stdin:
        if sys.stdin is None:  # started with standard input closed
            raise ImportFormatError(source, 0, "standard input is closed")
        handle: BinaryIO = sys.stdin.buffer
    else:
        if path.is_dir():
            raise ImportFormatError(source, 0, "is a directory, not a file")
        try:
            handle = path.open("rb")
        except FileNotFoundError:
            raise ImportFormatError(source, 0, "no such file") from None
        except OSError as exc:
            raise ImportFormatError(source, 0, f"cannot read: {exc.strerror or exc}") from None
    try:
        head, first_char = _sniff(handle, source)
        if path.suffix.lower() in JSONL_SUFFIXES or first_char == "{":
            # The whole file is refused only when nothing in its start looks like a record:
            # one bad first line must not cost the good lines after it.
            if first_char != "{" and not _RECORD_START.search(head[:_SNIFF_BYTES]):
                if first_char == "[":
                    raise ImportFormatError(
                        source, 0, "a JSON array, not JSON Lines: put one article object per line"
                    )
                if b"\x00" in head[:_SNIFF_BYTES]:
                    raise ImportFormatError(source, 0, "binary file, not UTF-8 text")
            return ImportItems(_iter_jsonl(_lines(head, handle), source), handle, not stdin)
        text = _read_text_page(head, handle, source)
    except BaseException:
        if not stdin:
            handle.close()
        raise
    if not stdin:
        handle.close()
    try:
        item: ImportItem = (1, parse_text_page(text, source))
    except ImportFormatError as exc:
        item = exc
    return ImportItems(iter([item]), None, False)


class ImportItems(Iterator[ImportItem]):
    """The records of one input, and the file they are read from (closed by `close`, or at the
    end of the iteration)."""

    def __init__(self, items: Iterator[ImportItem], handle: BinaryIO | None, owned: bool) -> None:
        self._items = items
        self._handle = handle if owned else None

    def __next__(self) -> ImportItem:
        try:
            return next(self._items)
        except StopIteration:
            self.close()
            raise

    def position(self) -> int | None:
        """Bytes of the file read so far (for progress), None when unknown (standard input,
        a pipe or FIFO, a text page read whole, the file closed)."""
        handle = self._handle
        if handle is None or handle.closed or not handle.seekable():
            return None
        return handle.tell()

    def close(self) -> None:
        """Release the file (standard input is left open)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def _sniff(handle: BinaryIO, source: str) -> tuple[bytes, str]:
    """The first bytes of *handle* (at least one non-blank, unless the input is blank) and its
    first non-blank character ("\\x80" for any non-ASCII one).

    Nothing read is lost: the caller parses the returned bytes before reading on, since a pipe
    cannot be rewound. The encoding is not judged here: in JSON Lines a bad byte is its line's
    problem, and a text page is decoded whole.
    """
    try:
        head = handle.read(_SNIFF_BYTES)
        while head:
            stripped = head.lstrip().removeprefix(b"\xef\xbb\xbf").lstrip()
            if stripped:
                return head, (chr(stripped[0]) if stripped[0] < 0x80 else "\x80")
            chunk = handle.read(_SNIFF_BYTES)
            if not chunk:
                break
            head += chunk
    except OSError as exc:
        raise ImportFormatError(source, 0, f"cannot read: {exc.strerror or exc}") from None
    raise ImportFormatError(source, 0, "empty file")


def _read_text_page(head: bytes, handle: BinaryIO, source: str) -> str:
    try:
        data = head + handle.read(MAX_TEXT_PAGE_BYTES + 1 - len(head))
        if len(data) > MAX_TEXT_PAGE_BYTES:
            raise ImportFormatError(
                source, 0, f"too large for a text page (over {MAX_TEXT_PAGE_BYTES} bytes)"
            )
        if b"\x00" in data:
            raise ImportFormatError(source, 0, "binary file, not UTF-8 text")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ImportFormatError(
            source, 0, f"not UTF-8 text (invalid byte at offset {exc.start})"
        ) from None
    except OSError as exc:
        raise ImportFormatError(source, 0, f"cannot read: {exc.strerror or exc}") from None


def _lines(head: bytes, handle: BinaryIO) -> Iterator[bytes]:
    """The lines of *head* followed by the rest of *handle*, split on "\\n" only."""
    *complete, tail = head.split(b"\n")
    for line in complete:
        yield line + b"\n"
    rest = handle.readline()
    if tail or rest:
        yield tail + rest
    yield from handle


def _iter_jsonl(lines: Iterator[bytes], source: str) -> Iterator[ImportItem]:
    notes: list[ImportNote] = []
    for lineno, raw in enumerate(lines, 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield ImportFormatError(
                source, lineno, f"not valid UTF-8 text (invalid byte at column {exc.start + 1})"
            )
            continue
        if lineno == 1:
            line = line.removeprefix("\ufeff")
        if not line.strip():
            continue
        try:
            article = parse_jsonl_line(line, source, lineno, notes)
        except ImportFormatError as exc:
            yield exc
            continue
        if notes:
            yield from notes
            notes.clear()
        yield lineno, article


# --------------------------------------------------------------------------------------------
# JSON Lines


def parse_jsonl_line(
    line: str, source: str, lineno: int, notes: list[ImportNote] | None = None
) -> NewArticle:
    """Parse one JSON Lines record into a `NewArticle`, or raise `ImportFormatError`.

    `title` and `text` are required; the optional fields may be absent or null; `id` (added by
    export) and unknown keys are ignored, since exports from other tools carry extras. Strings
    are cleaned the same way as text pages so both import paths store the same text.

    A lone surrogate (`"\\ud800"` not followed by its pair) in a field rejects the record: it is
    not a character, no backend can store it, and replacing it would silently change a title,
    or worse a guid or URL that de-duplication relies on; the producer's encoding is broken and
    the operator should know which line. Fields over the store's limits (`bot.text`) do not
    reject the record, since an export of a store must import into any other: a category or
    language tag is shortened, an over-long guid or URL is left out (the content hash still
    finds the duplicate), each with an `ImportNote` appended to *notes*.
    """

    def fail(reason: str) -> ImportFormatError:
        return ImportFormatError(source, lineno, reason)

    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise fail(f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    if not isinstance(record, dict):
        raise fail(f"expected a JSON object, got {_json_kind(record)}")
    if ("\\ud" in line or "\\uD" in line) and _SURROGATE_ESCAPE.search(line):
        _check_surrogates(record, fail)

    title = clean_line(_required_string(record, "title", fail))
    if not title:
        raise fail('"title" is empty')
    text = remove_repeats(normalize_body(_required_string(record, "text", fail)))
    if not text:
        raise fail('"text" is empty')

    if record.get("category") is None:
        # Many news datasets (OrangeSum among them) call the category "section".
        record["category"] = record.get("section")
    values: dict[str, str | None] = {}
    for name in _OPTIONAL_FIELDS:
        value = record.get(name)
        if value is None:
            values[name] = None
            continue
        if not isinstance(value, str):
            raise fail(f'"{name}": expected a string, got {_json_kind(value)}')
        values[name] = clean_line(value) or None

    def note(reason: str) -> None:
        if notes is not None:
            notes.append(ImportNote(source, lineno, reason))

    url = values["url"]
    if url is not None and not _is_http_url(url):
        raise fail(f'"url": not an http(s) URL: {_show(url)}')
    # Percent-encoding makes a character at most 12 bytes: a usual URL needs no normalizing.
    if url is not None and len(url) * 12 > MAX_KEY_BYTES and not key_fits(normalize_url(url)):
        note(f'"url" longer than {MAX_KEY_BYTES} bytes: stored without it')
        url = None
    image = values["image"]
    if image is not None and not _is_http_url(image):
        raise fail(f'"image": not an http(s) URL: {_show(image)}')
    if image is not None and len(image.encode()) > MAX_KEY_BYTES:
        note(f'"image" longer than {MAX_KEY_BYTES} bytes: stored without it')
        image = None
    guid = values["guid"]
    if guid is not None and not key_fits(guid):
        note(f'"guid" longer than {MAX_KEY_BYTES} bytes: stored without it')
        guid = None
    language = values["language"]
    if language is not None and not _LANGUAGE_CODE.fullmatch(language):
        raise fail(f'"language": not a language code like "fr" or "en-GB": {_show(language)}')
    if language is not None and len(language) > MAX_LANGUAGE_CHARS:
        language = cap_language(language)
        note(f'"language" longer than {MAX_LANGUAGE_CHARS} characters: cut to {language!r}')
    category = values["category"]
    if category is not None:
        capped = cap_category(category)
        if capped != category:
            note(f'"category" longer than {MAX_CATEGORY_CHARS} characters: cut')
            category = capped
    published: datetime | None = None
    if values["published"] is not None:
        try:
            published = as_utc(datetime.fromisoformat(values["published"]))
        except ValueError:
            raise fail(f'"published": not an ISO 8601 date: {_show(values["published"])}') from None

    return NewArticle(
        title=title,
        text=text,
        url=url,
        guid=guid,
        author=values["author"],
        published=published,
        category=category,
        language=language,
        image=image,
    )


def article_to_record(article: Article) -> dict[str, object]:
    """The JSON Lines record `newsbot export` writes for *article*: the import fields plus `id`.

    Every key is always present (null when unknown) so the export has one schema for tools like
    jq; `published` is ISO 8601 in UTC with its offset, so `parse_jsonl_line` reads it back to
    the same instant.
    """
    return {
        "id": article.id,
        "title": article.title,
        "text": article.text,
        "url": article.url,
        "guid": article.guid,
        "author": article.author,
        "published": as_utc(article.published).isoformat() if article.published else None,
        "category": article.category,
        "language": article.language,
        "image": article.image,
    }


def _required_string(
    record: dict[str, Any], name: str, fail: Callable[[str], ImportFormatError]
) -> str:
    value = record.get(name)
    if value is None:
        raise fail(f'missing "{name}"')
    if not isinstance(value, str):
        raise fail(f'"{name}": expected a string, got {_json_kind(value)}')
    return value


def _check_surrogates(record: dict[str, Any], fail: Callable[[str], ImportFormatError]) -> None:
    """Reject a record whose title, text or optional field holds a lone surrogate."""
    for name in ("title", "text", "section", *_OPTIONAL_FIELDS):
        value = record.get(name)
        if isinstance(value, str) and (match := _SURROGATE.search(value)):
            code = f"\\u{ord(match[0]):04x}"
            at = match.start() + 1
            raise fail(f'"{name}": a lone surrogate ({code}) at character {at}: not text')


def _json_kind(value: object) -> str:
    """The JSON name of *value*'s type, as the user wrote it in the file."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _is_http_url(value: str) -> bool:
    if _WHITESPACE.search(value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def _show(value: str, limit: int = 60) -> str:
    """repr() of a user value for an error message, shortened so one bad line prints one line."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


# --------------------------------------------------------------------------------------------
# Plain-text pages

_MONTHS = {
    "janvier": 1, "janv": 1, "january": 1, "jan": 1,
    "février": 2, "fevrier": 2, "févr": 2, "fevr": 2, "fév": 2, "fev": 2, "february": 2, "feb": 2,
    "mars": 3, "march": 3, "mar": 3,
    "avril": 4, "avr": 4, "april": 4, "apr": 4,
    "mai": 5, "may": 5,
    "juin": 6, "june": 6, "jun": 6,
    "juillet": 7, "juil": 7, "july": 7, "jul": 7,
    "août": 8, "aout": 8, "august": 8, "aug": 8,
    "septembre": 9, "sept": 9, "september": 9, "sep": 9,
    "octobre": 10, "october": 10, "oct": 10,
    "novembre": 11, "november": 11, "nov": 11,
    "décembre": 12, "decembre": 12, "déc": 12, "december": 12, "dec": 12,
}  # fmt: skip
_WEEKDAYS = (
    *("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    *("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
)
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DAY_RE = r"[0-3]?\d(?:er|st|nd|rd|th)?"
# "novembre 26, 2025", "November 26 2025", "26 novembre 2025", "1er mai 2025", with an optional
# weekday in front, or ISO "2025-11-26". Digits are checked against the calendar after matching.
_DATE = re.compile(
    rf"(?<!\w)(?:(?:{'|'.join(_WEEKDAYS)}),?\s+)?"
    rf"(?:(?P<m1>{_MONTH_RE})\.?\s+(?P<d1>{_DAY_RE}),?\s+(?P<y1>\d{{4}})"
    rf"|(?P<d2>{_DAY_RE})\s+(?P<m2>{_MONTH_RE})\.?,?\s+(?P<y2>\d{{4}})"
    rf"|(?P<y3>\d{{4}})-(?P<m3>[01]\d)-(?P<d3>[0-3]\d))(?![\w-])",
    re.IGNORECASE,
)
# The byline of a one-line page must start within this many characters: it follows the title.
_MAX_TITLE_CHARS = 400
# An author is at most this many words, of which at most `_MAX_NAME_CORE` are plain names (the
# rest particles or initials). Two plain names ("Louis Joubert") is by far the common case, and
# allowing more would eat a title ending in a proper noun ("... en Chine Louis Joubert").
_MAX_AUTHOR_WORDS = 4
_MAX_NAME_CORE = 2
_PARTICLES = frozenset(
    {"de", "du", "des", "d'", "d’", "la", "le", "van", "von", "der", "den", "da", "di", "dos"}
    | {"das", "del", "della", "ter", "ten", "bin", "ben", "al", "el", "zu"}
)
_BY = frozenset({"par", "by"})
_NAME_WORD = re.compile(r"(?:[dD][’']|[oO][’'])?[^\W\d_][^\W\d_’'-]*(?:[-’'][^\W\d_]+)*")
_INITIAL = re.compile(r"[^\W\d_]\.(?:-?[^\W\d_]\.)?")
_SEPARATOR_CHARS = " ,;:|-–—·•"
_SENTENCE_END_CHARS = '.!?…»”"’)'
_FIRST_SENTENCE = re.compile(r"(.+?[.!?…][»”\"’)]?)\s+(?=\S)(.*)", re.DOTALL)


def parse_text_page(text: str, source: str = "<text>") -> NewArticle:
    """Parse a plain-text news page into a `NewArticle`, or raise `ImportFormatError` (line 1).

    Handles the page flattened to one line ("Title Author, <date> Body... Category") and the
    multi-line variant (title, byline, paragraphs, category alone on the last line). Without a
    recognisable byline the first line (or first sentence) becomes the title and there is no
    author or date; a page is rejected only when no body is left.
    """
    clean = normalize_body(text)
    lines = clean.split("\n")
    content = [i for i, line in enumerate(lines) if line]
    if not content:
        raise ImportFormatError(source, 1, "empty page")

    title: str | None = None
    author: str | None = None
    published: datetime | None = None
    category: str | None = None
    first = lines[content[0]]
    body_lines = lines[content[0] + 1 :]
    byline = _parse_byline_line(lines[content[1]]) if len(content) > 1 else None

    if byline is not None:
        title = first
        author, published = byline
        body_lines = lines[content[1] + 1 :]
    else:
        head = _split_one_line(first)
        if isinstance(head, str):
            raise ImportFormatError(source, 1, head)
        if head is not None:
            title, author, published, rest = head
            body_lines = [rest, *body_lines]
        elif len(content) > 1:
            title = first
        else:
            title, rest = _first_sentence(first)
            if (undated := _undated_byline(title)) is not None:
                raise ImportFormatError(
                    source,
                    1,
                    f"a byline without a date ({_show(undated)}): cannot tell the title from "
                    'the body; write it as "Title Author, November 26, 2025 Body"',
                )
            body_lines = [rest]

    body_content = [line for line in body_lines if line]
    if body_content and _is_category_word(body_content[-1]):
        category = body_content[-1]
        body_lines = body_lines[: len(body_lines) - body_lines[::-1].index(category) - 1]
    body = _join_paragraphs(body_lines)
    if category is None:
        body, category = _split_trailing_category(body)

    if not title:  # byline first on the page: the title is the body's first sentence
        title, body = _first_sentence(body)
    body = remove_repeats(body)
    if not body:
        raise ImportFormatError(source, 1, "no article body after the title and byline")
    return NewArticle(
        title=clean_line(title),
        text=body,
        author=author,
        published=published,
        category=category,
    )


def _match_date(match: re.Match[str]) -> datetime | None:
    """The UTC midnight of a matched date, or None when the digits are not a real date."""
    month = match["m1"] or match["m2"] or match["m3"]
    day = match["d1"] or match["d2"] or match["d3"]
    year = match["y1"] or match["y2"] or match["y3"]
    try:
        return datetime(
            int(year),
            int(month) if month.isdigit() else _MONTHS[month.lower().rstrip(".")],
            int(day.rstrip("erstndh")),
            tzinfo=UTC,
        )
    except ValueError:
        return None


def _parse_byline_line(line: str) -> tuple[str | None, datetime] | None:
    """A whole line that is a byline: "[Par|By] [Author][,|-] <date>"; else None."""
    match = _DATE.search(line)
    if match is None or line[match.end() :].strip(_SEPARATOR_CHARS):
        return None
    published = _match_date(match)
    if published is None:
        return None
    words = line[: match.start()].strip(_SEPARATOR_CHARS).split()
    if words and words[0].casefold() in _BY:
        words = words[1:]
    if len(words) > _MAX_AUTHOR_WORDS + 2 or not all(_is_name_part(word) for word in words):
        return None
    return (" ".join(words) or None), published


def _split_one_line(line: str) -> tuple[str, str | None, datetime, str] | str | None:
    """Split "Title Author, <date> Body" into (title, author, published, body); None if no byline.

    The date must follow a comma (or a separator like "|" or "-"), so a date inside the title
    ("Le 1er mai 2025 : ...") is not taken for the byline. The author is the run of capitalized
    name words right before that comma (with particles like "de"/"van" and initials); the title
    is everything before the author. A byline whose date is not in the calendar ("février 30,
    2025") gives the reason to reject the page, as a string: without it the first sentence
    would be taken for the title and swallow the byline.
    """
    for match in _DATE.finditer(line, 0, _MAX_TITLE_CHARS + 80):
        if match.start() > _MAX_TITLE_CHARS:
            break
        before = line[: match.start()].rstrip()
        if not before or before[-1] not in ",|-–—·•":
            continue
        published = _match_date(match)
        if published is None:
            return f"the byline date {_show(match[0].strip())} is not a real date"
        tokens = before[:-1].rstrip().split(" ")
        author_words = _author_run(tokens) if before[-1] == "," else []
        tokens = tokens[: len(tokens) - len(author_words)]
        if author_words and tokens and tokens[-1].casefold() in _BY:
            tokens.pop()
        title = " ".join(tokens).strip(_SEPARATOR_CHARS)
        rest = line[match.end() :].lstrip(_SEPARATOR_CHARS)
        return title, (" ".join(author_words) or None), published, rest
    return None


# "Author, Body" in a first sentence: a name of two or more words, a comma, a capitalized word.
_UNDATED_BYLINE = re.compile(rf"(?<=\S) ((?:\S+ ){{1,{_MAX_AUTHOR_WORDS - 1}}}\S+), (?=[^\W\d_])")


def _undated_byline(sentence: str) -> str | None:
    """The byline of "Title Author, Body..." whose date is missing, else None.

    Only a name of at least two plain words followed by a comma and a capital counts ("... du
    gazole Marie de La Tour, Les patrons ..."), so a title like "Emmanuel Macron, président"
    or "Paris, la nuit" is not taken for one.
    """
    for match in _UNDATED_BYLINE.finditer(sentence):
        after = sentence[match.end() :]
        if not after[:1].isupper():
            continue
        tokens = match[1].split(" ")
        run = _author_run(tokens)
        core = sum(
            1 for word in run if word.casefold() not in _PARTICLES and not _INITIAL.fullmatch(word)
        )
        if core >= 2:
            return " ".join(run) + ","
    return None


def _author_run(tokens: list[str]) -> list[str]:
    """The trailing tokens that form a person's name (see `_MAX_NAME_CORE`)."""
    run: list[str] = []
    core = 0
    for token in reversed(tokens):
        if len(run) == _MAX_AUTHOR_WORDS or token.casefold() in _BY:
            break
        if token.casefold() in _PARTICLES:
            if not run:
                break
        elif _INITIAL.fullmatch(token):
            pass
        elif _NAME_WORD.fullmatch(token) and _starts_upper(token):
            if core == _MAX_NAME_CORE:
                break
            core += 1
        else:
            break
        run.append(token)
    while run and run[-1].casefold() in _PARTICLES:  # a name does not start with "de"
        run.pop()
    return run[::-1] if core else []


def _is_name_part(word: str) -> bool:
    if word.casefold() in _PARTICLES or _INITIAL.fullmatch(word):
        return True
    return bool(_NAME_WORD.fullmatch(word)) and _starts_upper(word)


def _starts_upper(word: str) -> bool:
    """True for "Louis", "Élise", "d’Ormesson", "O’Neill": the name part is capitalized."""
    core = word[2:] if word[:2].lower() in ("d’", "d'") else word
    return core[:1].isupper()


def _is_category_word(word: str) -> bool:
    """A single capitalized word such as "Politique", "Économie", "Fait-divers", "High-tech"."""
    return (
        2 <= len(word) <= 30
        and word[0].isupper()
        and word[-1].isalpha()
        and all(ch.isalpha() or ch == "-" for ch in word)
    )


def _split_trailing_category(body: str) -> tuple[str, str | None]:
    """Split a category word off the end of *body* when it follows the last sentence's end.

    A body that is nothing but such a word is a category with no body (rejected by the caller).
    """
    head, _, last = body.rpartition(" ")
    if "\n" in last:
        head_tail, _, last = last.rpartition("\n")
        head = f"{head} {head_tail}" if head else head_tail
    head = head.rstrip()
    if (not head or head[-1] in _SENTENCE_END_CHARS) and _is_category_word(last):
        return head, last
    return body, None


def _join_paragraphs(lines: list[str]) -> str:
    """Paragraphs from lines: blank-line separated blocks if there are any, else one per line."""
    while lines and not lines[0]:
        lines = lines[1:]
    while lines and not lines[-1]:
        lines = lines[:-1]
    if "" in lines:
        return "\n\n".join(
            " ".join(block.split("\n")) for block in "\n".join(lines).split("\n\n") if block
        )
    return "\n\n".join(lines)


def _first_sentence(text: str) -> tuple[str, str]:
    """(first sentence, rest) of *text*; the whole text and "" when it has one sentence."""
    match = _FIRST_SENTENCE.match(text)
    if match is None:
        return text.strip(), ""
    return match[1].strip(), match[2].strip()
