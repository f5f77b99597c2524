"""Articles to share in any chat (inline mode): pages of matching articles with their summary.

`@bot words` asks for the articles that match the words, an empty query for the latest ones;
each comes with its default summary, which the ingest computed ahead, so a page is a search or
a page of /latest and one lookup per article. Telegram sends a query on every keystroke and
the next page (`offset`) as the user scrolls: a page is reused for `ttl` seconds, about as long
as Telegram itself is told to cache it. Nothing here knows Telegram.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from cachetools import TTLCache

from bot.clock import Clock
from bot.errors import NotFound, SummaryError
from bot.models import Article
from bot.services.articles import ArticlePage, ArticleService

# Results per page: Telegram takes 50, but a reader scrolls a few; 20 keeps a page one query.
PAGE_SIZE = 20
# Offsets past this are not served: nobody scrolls 500 results in an inline popup.
MAX_OFFSET = 500
MAX_QUERY = 200
_CACHED_PAGES = 512


@dataclass(frozen=True, slots=True)
class SharedArticle:
    """An article with the sentences of its default summary (empty when it has none)."""

    article: Article
    sentences: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SharePage:
    """One page of inline results; `next_offset` is "" on the last page."""

    items: tuple[SharedArticle, ...]
    next_offset: str


def parse_offset(offset: str) -> int:
    """The offset Telegram echoes back (the `next_offset` we gave), 0 when it is not ours."""
    if not offset.isascii() or not offset.isdigit() or len(offset) > 6:
        return 0
    return min(int(offset), MAX_OFFSET)


class SharingService:
    """Pages of articles for inline mode, with summaries (see the module docstring)."""

    def __init__(
        self,
        articles: ArticleService,
        *,
        clock: Clock,
        algorithm: str,
        sentences: int = 3,
        ttl: float = 30.0,
        page_size: int = PAGE_SIZE,
    ) -> None:
        self.articles = articles
        self.algorithm = algorithm
        self.sentences = sentences
        self.ttl = ttl
        self.page_size = page_size
        self._pages: TTLCache[tuple[str, int], SharePage] = TTLCache(
            _CACHED_PAGES, ttl, timer=clock.monotonic
        )

    async def page(self, query: str, offset: str = "") -> SharePage:
        """The articles matching `query` (the latest ones when it is blank), from `offset`."""
        words = " ".join(query.split())[:MAX_QUERY]
        start = parse_offset(offset)
        key = (words, start)
        cached = self._pages.get(key)
        if cached is not None:
            return cached
        found = SharePage((), "") if start >= MAX_OFFSET else await self._page(words, start)
        self._pages[key] = found
        return found

    async def _page(self, words: str, start: int) -> SharePage:
        page: ArticlePage
        if words:
            page = await self.articles.search(words, size=self.page_size, offset=start)
        else:
            page = await self.articles.latest(size=self.page_size, offset=start)
        summaries = await asyncio.gather(*(self._summary(a) for a in page.articles))
        items = tuple(
            SharedArticle(article, sentences)
            for article, sentences in zip(page.articles, summaries, strict=True)
        )
        more = page.has_more and start + len(items) < MAX_OFFSET
        return SharePage(items, str(start + len(items)) if more else "")

    async def _summary(self, article: Article) -> tuple[str, ...]:
        try:
            result = await self.articles.summary(
                article.id, sentences=self.sentences, algorithm=self.algorithm
            )
        except (SummaryError, NotFound):
            return ()
        return tuple(result.sentences)
