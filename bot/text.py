"""Small text helpers shared by the store, import, ingest and chat layers."""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections.abc import Mapping
from html.parser import HTMLParser

_SPACES = re.compile(r"\s+")


# Combining marks of the Basic Multilingual Plane as one regex character class: deleting them
# after NFKD strips accents in C instead of a Python loop over every character (fold runs on
# whole bodies for content hashes, so it is on the import hot path).
def _combining_class() -> re.Pattern[str]:
    ranges: list[list[int]] = []
    for cp in range(0x300, 0x10000):
        if unicodedata.combining(chr(cp)):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1][1] = cp
            else:
                ranges.append([cp, cp])
    return re.compile("[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in ranges) + "]+")


_COMBINING_MARKS = _combining_class()


def fold(value: str) -> str:
    """Case- and accent-insensitive key: "Économie" -> "economie".

    Used for category keys and search so "economie" finds "Économie". NFKD splits letters from
    their accents; dropping combining marks removes the accents; casefold handles "ß" and friends.
    """
    return _SPACES.sub(" ", fold_chars(value)).strip()


def fold_chars(value: str) -> str:
    """`fold` without its whitespace clean-up: for text that is split into words anyway (the
    search words of a whole article), where that clean-up cost as much as the folding."""
    if not value.isascii():
        value = _COMBINING_MARKS.sub("", unicodedata.normalize("NFKD", value))
    return value.casefold()


def content_hash(title: str, text: str) -> str:
    """A hash of an article's title and body, insensitive to case and spacing.

    The last resort for de-duplication when an article has neither guid nor url: the same
    story re-published verbatim. Deliberately no accent folding here: it would double the cost
    of every import for duplicates that differ only in accents, which real feeds do not produce.
    """
    digest = hashlib.sha256()
    digest.update(" ".join(title.casefold().split()).encode())
    digest.update(b"\x00")
    digest.update(" ".join(text.casefold().split()).encode())
    return digest.hexdigest()[:32]


# What text loses wherever it is cleaned (`clean_line`, `normalize_body`): control characters
# (C0 and C1, except tab/newline/CR which are whitespace we normalize); invisible characters that
# sneak in from copy-paste and CMS exports (zero-width space, word joiner, BOM); and the bidi
# embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), which a title could leave
# open to reverse the rest of a message (U+202E shows "gpj.exe" as "exe.jpg"). Kept: the
# zero-width joiner and non-joiner (U+200D in 👨‍👩‍👧, U+200C in Persian words) and the
# left-to-right and right-to-left marks, which open nothing.
_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u2060\ufeff\u202a-\u202e\u2066-\u2069]"
)


def clean_line(value: str) -> str:
    """One-line text (title, author, category): control characters out, all whitespace to one space.

    Titles from feeds and exports often carry stray newlines or tabs; a title is shown on one line.
    """
    return _SPACES.sub(" ", _CONTROL.sub("", value)).strip()


# -- field limits ------------------------------------------------------------------------------
# One set of limits for every source of articles (import, a shared page) and both backends, so
# a record SQLite would take is never refused by PostgreSQL halfway through an import. They
# follow the schema (`bot/store/schema.py`: `categories.name`/`key` String(200),
# `articles.language` String(16)) and PostgreSQL's btree limit for the unique `guid` and
# `url_key` (about 2,700 bytes per index entry; counted in UTF-8 bytes, with a margin).

MAX_CATEGORY_CHARS = 200
MAX_LANGUAGE_CHARS = 16
MAX_KEY_BYTES = 2000


def cap_category(name: str) -> str:
    """*name* (a cleaned line) cut to `MAX_CATEGORY_CHARS`, with "…", so that its folded key
    fits as well (NFKD can make the key longer than the name); unchanged when it fits."""
    if len(name) <= MAX_CATEGORY_CHARS and (
        name.isascii() or len(fold(name)) <= MAX_CATEGORY_CHARS
    ):
        return name
    cut = name[: MAX_CATEGORY_CHARS - 1].rstrip()
    while cut and len(fold(cut + "…")) > MAX_CATEGORY_CHARS:
        cut = cut[: len(cut) - max(1, (len(fold(cut + "…")) - MAX_CATEGORY_CHARS) // 4)].rstrip()
    return cut + "…"


def cap_language(tag: str) -> str:
    """A language tag cut to `MAX_LANGUAGE_CHARS` by dropping whole subtags from the end
    ("de-DE-1996-x-private" -> "de-DE-1996"); unchanged when it fits."""
    if len(tag) <= MAX_LANGUAGE_CHARS:
        return tag
    subtags = tag.replace("_", "-").split("-")
    while len(subtags) > 1 and (
        len("-".join(subtags)) > MAX_LANGUAGE_CHARS or len(subtags[-1]) == 1  # "-x" alone
    ):
        subtags.pop()
    return "-".join(subtags)[:MAX_LANGUAGE_CHARS]


def key_fits(value: str) -> bool:
    """True when *value* (a guid, a normalized URL) is short enough for a unique index."""
    return len(value) * 4 <= MAX_KEY_BYTES or len(value.encode("utf-8", "replace")) <= MAX_KEY_BYTES


def normalize_body(text: str) -> str:
    """Article body with control characters removed and whitespace collapsed, paragraphs kept.

    Runs of spaces/tabs/no-break spaces become one space, spaces around line breaks go, and any run
    of blank lines becomes exactly one paragraph break ("\\n\\n"); single line breaks are kept
    because some sources use them inside a paragraph (lists, verse). Idempotent, so re-importing
    an export does not change the text.
    """
    # Per line with str.split()/join rather than whole-text regexes: it runs on every imported
    # record and is several times faster; str.split() knows every Unicode blank (NBSP, U+202F...).
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2029", "\n\n").replace("\u2028", "\n")
    lines: list[str] = []
    blank = False
    for line in _CONTROL.sub("", text).split("\n"):
        line = " ".join(line.split())
        if not line:
            blank = True
            continue
        if blank and lines:
            lines.append("")
        lines.append(line)
        blank = False
    return "\n".join(lines)


# -- HTML to text ------------------------------------------------------------------------------

_BLOCKS = frozenset(
    {
        "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
        "tr", "table", "section", "article", "header", "footer", "figure", "figcaption", "pre",
        "hr", "dd", "dt", "dl",
    }
)  # fmt: skip
_SKIPPED = frozenset({"script", "style", "template", "noscript"})


class _TextOf(HTMLParser):
    """The text of an HTML fragment, see `html_to_text`.

    The standard library's tolerant parser is enough for feed descriptions (small, already
    sanitized by feedparser) and for Telegram's few tags, and keeps this module free of lxml.
    """

    def __init__(self, links: str | None, marks: Mapping[str, tuple[str, str]]) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._links = links
        self._marks = marks
        self._open: list[tuple[str, int]] = []  # (href, where its text starts) of each <a>
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skipping += 1
        elif tag in _BLOCKS:
            self.parts.append("\n\n")
        elif tag == "a":
            self._open.append((dict(attrs).get("href") or "", len(self.parts)))
        elif tag in self._marks:
            self.parts.append(self._marks[tag][0])

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n\n")
        elif tag == "a" and self._open:
            href, start = self._open.pop()
            # A link whose text is its address ("https://e.org") is not shown twice.
            if href and self._links and not "".join(self.parts[start:]).endswith(href):
                self.parts.append(self._links.format(href=href))
        elif tag in self._marks:
            self.parts.append(self._marks[tag][1])

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(
    markup: str,
    *,
    links: str | None = None,
    marks: Mapping[str, tuple[str, str]] | None = None,
) -> str:
    """The text of an HTML fragment (or of plain text): tags dropped, entities decoded.

    The one converter for every kind of HTML the bot reads: feed titles and descriptions,
    and its own Telegram messages (plain-text fallback, terminal shell). Block elements
    (p, div, br, li, ...) become paragraph breaks; scripts and styles are dropped with their
    content; other whitespace is kept as it is, because in a Telegram message it is the layout.
    Callers that store the text normalize it (`normalize_body`, `clean_line`).

    `links` is how a link's address follows its text, a format with `{href}` (" ({href})");
    None keeps the text only. `marks` puts strings around the text of some tags (the
    terminal's ANSI styles for <b>, <i> ...).
    """
    if "<" not in markup:
        return html.unescape(markup)
    parser = _TextOf(links, marks or {})
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


class _FirstImage(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.src: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.src is None and tag == "img":
            self.src = next((v for k, v in attrs if k == "src" and v and v.strip()), None)


def first_image(markup: str) -> str | None:
    """The `src` of the first `<img>` of an HTML fragment (as written: maybe relative), or
    None. The standard library's parser, like `html_to_text`: no second HTML parser."""
    if "<img" not in markup.lower():
        return None
    parser = _FirstImage()
    parser.feed(markup)
    parser.close()
    return parser.src.strip() if parser.src else None


# Where `remove_repeats` cuts a line into the pieces it compares: sentence-final punctuation,
# optionally followed by a closing quote/bracket (also French "fin. »"), then whitespace, then
# something that can start a sentence (uppercase letter, digit, opening quote/bracket).
#
# This is not a sentence splitter, and must not grow into one: the bot has one, the summarizer's
# (`bot.summarize.split_sentences`), for text that readers see sentence by sentence. Here the
# pieces are only compared for equality, and a verbatim repeat is cut identically by any
# deterministic rule, whatever its mistakes (an abbreviation like "M. Dupont" cut in two is cut
# in two in both copies). The body is then rebuilt from the pieces, so a cut must never add or
# change a character, which the summarizer's splitter does on purpose (it puts a space into
# "fin.Début", normalizes Unicode). And this runs on every imported record: on the 300 OrangeSum
# dev articles it takes 37 µs an article where the summarizer's splitter takes 2.8 ms (330 µs
# if only bodies with a repeated 8-word run were split), against ~250 µs for a whole import.
_CUT = re.compile(r"(?P<end>[.!?…](?:[»”\"’)\]]| [»”])?)\s+(?=[«\"“‘(\[0-9A-ZÀ-ÖØ-ÞŒŠŽŸ])")
_PARAGRAPH_SPLIT = re.compile(r"\n\s*\n")

# A repeated run is dropped only when it is long enough to be unmistakably a copy: one sentence
# of this many words, or a run of shorter sentences totalling as many. Short sentences that
# legitimately recur ("Rien n'a changé.", "Oui.") are never dropped on their own.
MIN_REPEAT_WORDS = 8

# Separator ranks: a kept sentence takes the strongest break among itself and the sentences
# dropped just before it, so a kept paragraph still starts a paragraph.
_SEPARATORS = ("", " ", "\n", "\n\n")


def _pieces(text: str) -> list[tuple[int, str]]:
    """*text* cut into the pieces repeats are looked for among (at `_CUT`, line and paragraph
    breaks), each with the rank of the break before it.

    Rank 0 = start of text, 1 = space, 2 = line break, 3 = paragraph break (see `_SEPARATORS`).
    """
    units: list[tuple[int, str]] = []
    pending = 0
    for p_index, paragraph in enumerate(_PARAGRAPH_SPLIT.split(text)):
        if p_index:
            pending = max(pending, 3)
        for l_index, line in enumerate(paragraph.split("\n")):
            if l_index:
                pending = max(pending, 2)
            for s_index, piece in enumerate(_cut_line(line)):
                if s_index:
                    pending = max(pending, 1)
                units.append((pending if units else 0, piece))
                pending = 0
    return units


def _cut_line(line: str) -> list[str]:
    """One line cut at every `_CUT`, each piece stripped, none empty."""
    pieces: list[str] = []
    start = 0
    for match in _CUT.finditer(line):
        pieces.append(line[start : match.end("end")].strip())
        start = match.end()
    pieces.append(line[start:].strip())
    return [piece for piece in pieces if piece]


def remove_repeats(text: str) -> str:
    """Keep one copy of paragraphs or sentence runs repeated verbatim inside one body.

    Scraped pages and some generators repeat whole paragraphs, sometimes flattened into a single
    line, so detection works on sentences (as cut by `_CUT`) rather than on newline paragraphs.
    Walking the
    sentences in order, at each one we look for the longest run starting there that already
    appeared earlier; if that run has at least `MIN_REPEAT_WORDS` words it is dropped, otherwise
    the sentence is kept. The first occurrence always stays, with its paragraph breaks. Text
    without any repeated sentence is returned unchanged.
    """
    units = _pieces(text)
    sentences = [sentence for _, sentence in units]
    if len(set(sentences)) == len(sentences):
        return text

    seen: dict[str, list[int]] = {}
    words = [len(sentence.split()) for sentence in sentences]
    kept: list[str] = []
    pending = 0
    i = 0
    n = len(sentences)
    while i < n:
        best = 0
        for j in seen.get(sentences[i], ()):
            length = 1
            while i + length < n and sentences[j + length] == sentences[i + length]:
                length += 1
            best = max(best, length)
        pending = max(pending, units[i][0])
        if best and sum(words[i : i + best]) >= MIN_REPEAT_WORDS:
            step = best
        else:
            kept.append(_SEPARATORS[pending] if kept else "")
            kept.append(sentences[i])
            pending = 0
            step = 1
        for k in range(i, i + step):
            seen.setdefault(sentences[k], []).append(k)
        i += step
    return "".join(kept)
