"""Article page HTML -> title, author, date, section and body text. Pure and synchronous.

trafilatura does the extraction, on HTML we fetched ourselves (it is never given a URL to
download). The settings are the ones `bench/extract.py` measured best on real French news
pages: token F1 of the body against hand-checked text, and time per page (ingest runs it on
every teaser, so a setting that costs twice the time for the same F1 loses).

Before trafilatura runs, the page is narrowed to its article when it marks exactly one (the
schema.org `itemprop="articleBody"` element, else a single `<article>`) holding most of the
page's paragraph text, keeping `<head>` for the metadata. trafilatura would find the same text,
but only after cleaning and scoring every node of the page: on real news pages, whose menus,
widgets and scripts are most of the DOM, narrowing first makes extraction three to four times
faster for the same F1 (`bench/extract.py --grid`). A narrowed page that yields no article
falls back to the whole page.

On top of trafilatura's body we drop what it keeps from the article header: the byline line
("AFP, publié le lundi 26 août 2019 à 10h43") and a repeat of the title. Both are metadata we
store in their own fields; left in the body they would open every summary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import trafilatura

from bot.text import clean_line, normalize_body, remove_repeats
from bot.urls import absolute_http_url

# Bodies shorter than this are navigation or a paywall stub, not an article.
MIN_BODY_WORDS = 25
# A byline is a short line; a long one is a paragraph that merely mentions a date.
_MAX_BYLINE_WORDS = 25
_BYLINE = re.compile(
    r"\b(publi[ée]e?s?|mis à jour|modifi[ée]|updated|published|posted)\b.*\d", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class ExtractOptions:
    """trafilatura settings (see `bench/extract.py` for how they were chosen)."""

    fast: bool = True
    favor_precision: bool = False
    favor_recall: bool = False
    include_comments: bool = False
    include_tables: bool = False
    with_metadata: bool = True
    # Narrow the page to its one marked article before extracting (see the module docstring).
    focus: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `trafilatura.bare_extraction`."""
        return {
            "fast": self.fast,
            "favor_precision": self.favor_precision,
            "favor_recall": self.favor_recall,
            "include_comments": self.include_comments,
            "include_tables": self.include_tables,
            "include_images": False,
            "include_links": False,
            "include_formatting": False,
            "with_metadata": self.with_metadata,
            "deduplicate": False,
            **self.extra,
        }


DEFAULT_OPTIONS = ExtractOptions()

_ARTICLE_BODY = '//*[@itemprop="articleBody"]'
# The marked article must hold at least this share of the page's paragraph text.
MIN_ARTICLE_SHARE = 0.5


@dataclass(frozen=True, slots=True)
class PageContent:
    """What an article page says about itself; None where it says nothing."""

    text: str
    title: str | None = None
    author: str | None = None
    published: datetime | None = None
    section: str | None = None
    # The page's lead picture (`og:image`, `twitter:image`) as an absolute http(s) URL, and
    # the site's name (`og:site_name`), from trafilatura's metadata.
    image: str | None = None
    site_name: str | None = None


def decode_html(content: bytes, charset: str | None) -> str | bytes:
    """The page as text when the HTTP header names a charset we know, else the bytes, which
    trafilatura decodes from the page's own <meta charset> or by detection."""
    if charset:
        try:
            return content.decode(charset, errors="replace")
        except LookupError:
            pass
    return content


def extract_page(
    content: bytes | str,
    *,
    url: str | None = None,
    charset: str | None = None,
    options: ExtractOptions = DEFAULT_OPTIONS,
    clean: bool = True,
) -> PageContent | None:
    """Extract the article of a page; None when there is no article text in it.

    `clean=False` keeps trafilatura's body as is (for `bench/extract.py --raw`)."""
    source = decode_html(content, charset) if isinstance(content, bytes) else content
    tree = trafilatura.load_html(source) if options.focus else None
    if tree is not None and _narrow_to_article(tree):
        # trafilatura prunes the tree it is given: the fallback parses the page again.
        document = _extract(tree, url, options, clean) or _extract(source, url, options, clean)
    else:
        document = _extract(source if tree is None else tree, url, options, clean)
    if document is None:
        return None
    title, author, text, raw = document
    categories = getattr(raw, "categories", None) or []
    section = clean_line(categories[0]) if categories else None
    return PageContent(
        text=text,
        title=title,
        author=author,
        published=_date(getattr(raw, "date", None)),
        section=section or None,
        image=absolute_http_url(str(getattr(raw, "image", None) or ""), url),
        site_name=clean_line(str(getattr(raw, "sitename", None) or ""))[:200] or None,
    )


def _extract(
    source: Any, url: str | None, options: ExtractOptions, clean: bool
) -> tuple[str | None, str | None, str, Any] | None:
    """trafilatura on *source*: (title, author, body, its document), None without a body."""
    document = trafilatura.bare_extraction(source, url=url, **options.kwargs())
    if document is None:
        return None
    title = clean_line(getattr(document, "title", None) or "") or None
    author = clean_line(getattr(document, "author", None) or "") or None
    raw = getattr(document, "text", None) or ""
    text = clean_body(raw, title=title, author=author) if clean else raw
    if len(text.split()) < MIN_BODY_WORDS:
        return None
    return title, author, text, document


def _narrow_to_article(tree: Any) -> bool:
    """Keep only `<head>` and the page's one marked article in *tree* (in place); False, and
    the tree untouched, when the page does not mark exactly one."""
    found = tree.xpath(_ARTICLE_BODY) or tree.xpath("//article")
    body = tree.find("body")
    if len(found) != 1 or body is None:
        return False
    article = found[0]
    if article is body or _paragraph_chars(article) < MIN_ARTICLE_SHARE * _paragraph_chars(body):
        # A lone <article> holding little of the page's prose is a teaser card, not the story.
        return False
    parent = article.getparent()
    if parent is not None:
        parent.remove(article)
    for child in list(body):
        body.remove(child)
    body.append(article)
    return True


def clean_body(raw: str, *, title: str | None = None, author: str | None = None) -> str:
    """trafilatura's text (one paragraph per line) as a stored body: paragraphs separated by
    blank lines, the leading byline and title repeat removed, repeated runs dropped."""
    lines = [clean_line(line) for line in raw.splitlines()]
    lines = [line for line in lines if line]
    head = 0
    while head < min(len(lines), 3) and _is_header_line(lines[head], title, author):
        head += 1
    return remove_repeats(normalize_body("\n\n".join(lines[head:])))


def _is_header_line(line: str, title: str | None, author: str | None) -> bool:
    if title and line.casefold() == title.casefold():
        return True
    if len(line.split()) > _MAX_BYLINE_WORDS:
        return False
    if _BYLINE.search(line):
        return True
    first_author = (author or "").split(";")[0].strip()
    return bool(first_author) and line.startswith(first_author) and any(c.isdigit() for c in line)


def _paragraph_chars(element: Any) -> int:
    return sum(len(p.text_content()) for p in element.iter("p"))


def _date(value: object) -> datetime | None:
    """trafilatura dates are "YYYY-MM-DD" strings (day precision), taken as UTC midnight."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
