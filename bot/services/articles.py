"""What a reader can do with the articles, independent of Telegram: pages of the latest articles
(overall or in a category), pages of search results, the categories, one article's summary and
its full text cut into pages.

Paging is by offset with one extra row fetched, so "is there a next page?" never costs a COUNT
over the search index; totals are given only where the store has them cheaply (a category's
article count, or the overall count), and reused for a few seconds.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass

from cachetools import TTLCache

from bot import metrics
from bot.clock import Clock
from bot.errors import BadArgument, NotFound, UnknownCategory
from bot.models import Article, Category
from bot.services.summaries import SummaryService
from bot.store.contract import ArticleReader
from bot.summarize import length_key, split_sentences, supported_languages
from bot.text import fold

DEFAULT_PAGE_SIZE = 5
MAX_PAGE_SIZE = 20
MAX_SUMMARY_SENTENCES = 20
# Ids are 64-bit in the store; a larger number typed by a user cannot exist, and must not reach
# the database driver (which would fail on it rather than find nothing).
MAX_ARTICLE_ID = 2**63 - 1
# The key of the one entry of the category cache: the whole list.
_ALL = "all"


@dataclass(frozen=True, slots=True)
class ArticlePage:
    """One page of a list of articles and what is needed to draw its paging buttons.

    `total` is None when counting would cost a scan (search results). Immutable and hashable,
    so a view of the same page can be reused.
    """

    articles: tuple[Article, ...]
    offset: int
    size: int
    has_more: bool
    total: int | None = None
    category: Category | None = None
    query: str | None = None

    @property
    def first(self) -> int:
        """1-based position of the first article on the page (for "6–10 of 42")."""
        return self.offset + 1

    @property
    def last(self) -> int:
        """1-based position of the last article on the page."""
        return self.offset + len(self.articles)


@dataclass(frozen=True, slots=True)
class Summary:
    """An article with the sentences of its summary, and how they were asked for."""

    article: Article
    sentences: list[str]
    length: int
    algorithm: str


@dataclass(frozen=True, slots=True)
class TextPage:
    """One page of an article's full text: `number` counts from 1 up to `count`."""

    article: Article
    text: str
    number: int
    count: int


class ArticleService:
    """Reader operations over the store and the summary cache.

    Readers ask for the same recent articles over and over, so articles and their summaries
    are kept in small in-memory LRU caches for `articles_ttl` seconds: a popular /summary costs
    no query at all, and a teaser the ingest later completes with its page's full text
    (`complete_page`) reaches readers within that time. Many readers ask for the same first
    pages of /latest, so a page read from the store is reused for `pages_ttl` seconds: a new
    article shows up in /latest at most that much later, which no reader of feeds polled every
    few minutes can tell. The category list and the article total are reused for `counts_ttl`
    seconds, so "1–5 of 1,234" may lag new arrivals by that long. Search always asks the store.
    """

    def __init__(
        self,
        store: ArticleReader,
        summaries: SummaryService,
        *,
        clock: Clock,
        counts_ttl: float = 30.0,
        pages_ttl: float = 5.0,
        articles_ttl: float = 60.0,
        cached_articles: int = 1024,
        cached_summaries: int = 4096,
        cached_pages: int = 256,
    ) -> None:
        self.store = store
        self.summaries = summaries
        self.counts_ttl = counts_ttl
        self.clock = clock
        timer = clock.monotonic
        self._pages: TTLCache[tuple[str | None, int, int], list[Article]] = TTLCache(
            cached_pages, pages_ttl, timer=timer
        )
        self._articles: TTLCache[int, Article] = TTLCache(
            cached_articles, articles_ttl, timer=timer
        )
        self._summaries: TTLCache[tuple[int, str, int], list[str]] = TTLCache(
            cached_summaries, articles_ttl, timer=timer
        )
        # The category list by key (folded name), with counts, for `counts_ttl` seconds: the
        # one read cache of categories above the store (the outbox asks it too). The store's
        # own id cache serves its write path and never goes stale; this one holds counts.
        self._categories: TTLCache[str, dict[str, Category]] = TTLCache(1, counts_ttl, timer=timer)
        self._total: int | None = None
        self._total_at = -math.inf

    async def latest(
        self,
        *,
        category: str | None = None,
        category_id: int | None = None,
        size: int = DEFAULT_PAGE_SIZE,
        offset: int = 0,
    ) -> ArticlePage:
        """A page of the newest articles, overall or in a category given by name or id.

        Raises UnknownCategory (with suggestions) for a name that matches no category,
        NotFound for an id that does not exist (a button from before a database reset), and
        BadArgument for a size outside 1..MAX_PAGE_SIZE.
        """
        size = _check_size(size)
        offset = max(0, offset)
        found: Category | None = None
        if category_id is not None:
            found = await self.category(category_id)
        elif category is not None:
            found = await self._find_category(category)
            if found is None:
                suggestions = await self.store.suggest_categories(category)
                raise UnknownCategory(category, suggestions)
        rows = await self._latest_rows(found.name if found else None, size + 1, offset)
        total = found.article_count if found else await self._count()
        has_more = len(rows) > size
        # A count up to `counts_ttl` old must not contradict the page in front of the reader.
        total = max(total, offset + min(len(rows), size) + (1 if has_more else 0))
        return ArticlePage(
            articles=tuple(rows[:size]),
            offset=offset,
            size=size,
            has_more=has_more,
            total=total,
            category=found,
        )

    async def _latest_rows(self, category: str | None, limit: int, offset: int) -> list[Article]:
        key = (category, limit, offset)
        cached = self._pages.get(key)
        if cached is not None:
            return cached
        rows = await self.store.latest(limit, category=category, offset=offset)
        self._pages[key] = rows
        for article in rows:
            self._articles[article.id] = article
        return rows

    async def search(
        self, query: str, *, size: int = DEFAULT_PAGE_SIZE, offset: int = 0
    ) -> ArticlePage:
        """A page of full-text search results, newest first; an empty query gives no results."""
        size = _check_size(size)
        rows = await self.store.search(query, size + 1, offset=max(0, offset))
        return ArticlePage(
            articles=tuple(rows[:size]),
            offset=max(0, offset),
            size=size,
            has_more=len(rows) > size,
            query=query,
        )

    async def categories(self) -> list[Category]:
        """Every category with its article count, largest first (always fresh)."""
        found = await self.store.categories()
        self._categories[_ALL] = {c.key: c for c in found}
        return found

    async def category(self, category_id: int) -> Category:
        """The category with this id; NotFound if there is none.

        The contract looks categories up by name only, so ids are resolved from the category
        list, read again when an id is not in it.
        """
        for fresh in (False, True):
            known = await self._known_categories(refresh=fresh)
            for found in known.values():
                if found.id == category_id:
                    return found
        raise NotFound(f"no category {category_id}")

    async def find_category(self, name: str) -> Category | None:
        """The category whose folded name is fold(*name*), from the cached list (read again
        when it is not in it); None if there is none."""
        return await self._find_category(name)

    async def _find_category(self, name: str) -> Category | None:
        key = fold(name)
        for fresh in (False, True):
            found = (await self._known_categories(refresh=fresh)).get(key)
            if found is not None:
                return found
        return None

    async def _known_categories(self, *, refresh: bool) -> dict[str, Category]:
        known = None if refresh else self._categories.get(_ALL)
        if known is None:
            known = {c.key: c for c in await self.categories()}
        return known

    async def _count(self) -> int:
        if self._total is None or self.clock.monotonic() - self._total_at > self.counts_ttl:
            self._total = await self.store.count_articles()
            self._total_at = self.clock.monotonic()
        return self._total

    async def article(self, article_id: int) -> Article:
        """The article with this id; NotFound if there is none."""
        if not 1 <= article_id <= MAX_ARTICLE_ID:
            raise NotFound(f"no article {article_id}")
        cached = self._articles.get(article_id)
        if cached is not None:
            return cached
        article = await self.store.get_article(article_id)
        self._articles[article_id] = article
        return article

    def forget(self, article_id: int) -> None:
        """Drop the cached copy of an article changed elsewhere (a refused picture)."""
        self._articles.pop(article_id, None)

    def updated(self, article: Article) -> None:
        """*article* was just read from the store: if the cached copy is an older version (a
        link fetched again), forget it and its summaries so readers see the new text now."""
        cached = self._articles.get(article.id)
        if cached is not None and cached.content_hash != article.content_hash:
            for key in [k for k in self._summaries if k[0] == article.id]:
                self._summaries.pop(key, None)
        self._articles[article.id] = article

    async def summary(self, article_id: int, *, sentences: int, algorithm: str) -> Summary:
        """The article's summary in `sentences` sentences (from the caches when possible).

        Raises NotFound for a missing article, SummaryError when it has no summarizable text,
        BadArgument for a length outside 1..MAX_SUMMARY_SENTENCES.
        """
        if not 1 <= sentences <= MAX_SUMMARY_SENTENCES:
            raise BadArgument(f"sentences must be from 1 to {MAX_SUMMARY_SENTENCES}")
        key = (article_id, algorithm, sentences)
        result = self._summaries.get(key)
        if result is not None:
            metrics.summary_lookup("memory")
            return Summary(await self.article(article_id), result, sentences, algorithm)
        # The article and the store's cached summary are independent reads: make them at once.
        article, result = await asyncio.gather(
            self.article(article_id),
            self.store.get_summary(article_id, algorithm, length_key(sentences, None)),
        )
        metrics.summary_lookup("store" if result is not None else "computed")
        if result is None:  # the store's cache was just read: compute without reading it again
            result = await self.summaries.compute(article, sentences=sentences, algorithm=algorithm)
        self._summaries[key] = result
        return Summary(article, result, sentences, algorithm)

    async def full_text(
        self,
        article_id: int,
        page: int,
        *,
        budget: Callable[[Article], int],
        measure: Callable[[str], int] = len,
    ) -> TextPage:
        """Page `page` (from 1; clamped to the last) of the article's text.

        `budget(article)` says how much room a page has once the caller's header is drawn,
        measured with `measure` (e.g. the length of the text once HTML-escaped), so the caller's
        whole message stays within its limit. NotFound for a missing article.
        """
        article = await self.article(article_id)
        pages = split_pages(article.text, budget(article), measure, article.language)
        number = min(max(1, page), len(pages))
        return TextPage(article, pages[number - 1], number, len(pages))


def _check_size(size: int) -> int:
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise BadArgument(f"page size must be from 1 to {MAX_PAGE_SIZE}")
    return size


def split_pages(
    text: str,
    limit: int,
    measure: Callable[[str], int] = len,
    language: str | None = None,
) -> list[str]:
    """Cut `text` into pages of at most `limit` (by `measure`), at the largest boundary that fits.

    Paragraphs are kept whole when they fit; a paragraph too long for a page is cut between
    sentences, a sentence too long between words, and a word too long between characters, so
    every page fits however the text is shaped. `measure` must be additive over concatenation
    (`len`, or the length of the escaped text), which lets each piece be measured once.
    Always returns at least one page.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    text = text.strip()
    if not text:
        return [""]
    pages: list[str] = []
    used = 0  # measure of pages[-1], kept so no page is measured twice
    for separator, piece in _pieces(text, limit, measure, language or "fr"):
        size = measure(piece)
        if pages and used + measure(separator) + size <= limit:
            pages[-1] += separator + piece
            used += measure(separator) + size
        else:
            pages.append(piece)
            used = size
    return pages


def _pieces(
    text: str, limit: int, measure: Callable[[str], int], language: str
) -> list[tuple[str, str]]:
    """The text as (separator, piece) pairs, each piece fitting `limit` on its own."""
    out: list[tuple[str, str]] = []
    for paragraph in text.split("\n\n"):
        paragraph = paragraph.strip()
        if not paragraph:
            continue
        if measure(paragraph) <= limit:
            out.append(("\n\n", paragraph))
            continue
        first = True
        for sentence in split_sentences(paragraph, _sentence_language(language)):
            for part in _split_long(sentence, limit, measure):
                out.append(("\n\n" if first else " ", part))
                first = False
    return out


def _sentence_language(language: str) -> str:
    """The splitter's rules for `language`, French ones when it has none (a cut at a period is
    still far better than one mid-word)."""
    code = language.replace("_", "-").split("-")[0].lower()
    return code if code in supported_languages() else "fr"


def _split_long(sentence: str, limit: int, measure: Callable[[str], int]) -> list[str]:
    """A sentence as parts that fit: between words, and inside a word only as a last resort."""
    if measure(sentence) <= limit:
        return [sentence]
    parts: list[str] = []
    current = ""
    for word in sentence.split():
        while measure(word) > limit:
            cut = _fit_prefix(word, limit, measure)
            if current:
                parts.append(current)
                current = ""
            parts.append(word[:cut])
            word = word[cut:]
        if not word:
            continue
        if current and measure(current) + 1 + measure(word) <= limit:
            current += " " + word
        else:
            if current:
                parts.append(current)
            current = word
    if current:
        parts.append(current)
    return parts


def _fit_prefix(word: str, limit: int, measure: Callable[[str], int]) -> int:
    """The length of the longest prefix of `word` that fits (at least one character)."""
    used = 0
    for i, char in enumerate(word):
        used += measure(char)
        if used > limit:
            return max(1, i)
    return len(word)
