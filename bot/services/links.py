"""Summaries of web pages users send: fetch safely, extract, store, hand back the article.

A page a user sends becomes an ordinary stored article (category `links.category`, or the
page's own section), so its summary, its full text and their buttons work like any other
article's, and a second request for the same URL is answered from the store: the URL as sent
and the page's final URL (after redirects) are both looked up, normalized, before anything is
fetched. Two users sending the same URL at once share one fetch.

Fetching goes through `bot.ingest.safefetch.SafeFetcher`, the bot's one fetcher with no trust
(the SSRF rules live in `bot.ingest.guard`), and each user may ask for at most
`links.per_user_per_minute` URLs a minute. Nothing here knows Telegram.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import deque
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Protocol
from urllib.parse import urlsplit

from cachetools import TTLCache

from bot import metrics
from bot.clock import Clock
from bot.config import LinksConfig
from bot.errors import LinkError, LinksDisabled, NewsbotError, RateLimited
from bot.ingest.extract import PageContent, decode_html, extract_page
from bot.ingest.safefetch import Page, SafeFetcher
from bot.models import Article, NewArticle
from bot.store.contract import ArticleReader, ArticleWriter
from bot.summarize import supported_languages
from bot.text import cap_category, clean_line, content_hash, normalize_body
from bot.urls import normalize_url

log = logging.getLogger(__name__)

# A URL in a message: http(s), then anything but blanks; trailing punctuation is the sentence's.
_URL_IN_TEXT = re.compile(r"(?i)\bhttps?://[^\s<>\"]+")
_TRAILING = ".,;:!?)]}»”’'\""
_HTML_LANG = re.compile(rb"<html[^>]*?\slang\s*=\s*[\"']?([A-Za-z]{2,3})\b", re.IGNORECASE)
MAX_URL = 2048
MAX_TITLE = 300
# URLs as sent remembered with their article (see `LinkService._recent`).
MAX_REMEMBERED = 4096


def find_url(text: str, candidates: Iterable[str] = ()) -> str | None:
    """The first http(s) URL of a message: among `candidates` (the URLs Telegram marked in
    it, hidden links included) first, else in its text."""
    for candidate in candidates:
        if _URL_IN_TEXT.fullmatch(candidate.strip()):
            return candidate.strip()
    match = _URL_IN_TEXT.search(text)
    if match is None:
        return None
    url = match[0]
    while url and url[-1] in _TRAILING:
        # A closing bracket that opened inside the URL is part of it (Wikipedia titles).
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


class LinkStore(ArticleReader, ArticleWriter, Protocol):
    """What the link service needs: looking articles up, and storing or refreshing one."""


class PerUserRateLimit:
    """At most `limit` events per `window` seconds per key (a sliding window)."""

    def __init__(
        self, limit: int, window: float, clock: Callable[[], float], users: int = 10_000
    ) -> None:
        """`clock` is a monotonic clock (`Clock.monotonic`); the last events of at most
        `users` keys are kept, each forgotten a `window` after its last event."""
        self.limit = limit
        self.window = window
        self.clock = clock
        self._events: TTLCache[int, deque[float]] = TTLCache(users, window, timer=clock)

    def hit(self, key: int) -> None:
        """Count one event for `key`; RateLimited (and not counted) over the limit."""
        now = self.clock()
        events = self._events.get(key) or deque()
        while events and now - events[0] >= self.window:
            events.popleft()
        if len(events) >= self.limit:
            raise RateLimited(max(1, int(events[0] + self.window - now + 0.999)))
        events.append(now)
        self._events[key] = events  # kept for a window from now


class LinkService:
    """Articles from URLs users send (see the module docstring)."""

    def __init__(
        self,
        store: LinkStore,
        config: LinksConfig,
        fetcher: SafeFetcher,
        *,
        clock: Clock,
    ) -> None:
        self.store = store
        self.config = config
        self.fetcher = fetcher
        self.limiter = PerUserRateLimit(config.per_user_per_minute, 60.0, clock.monotonic)
        self.fresh_for = timedelta(hours=config.refetch_after_hours)
        self.clock = clock
        # URL as sent (normalized) -> article id, for `refetch_after_hours`: a URL that
        # redirects is stored under its final URL, and must not be fetched again for that either.
        self._recent: TTLCache[str, int] = TTLCache(
            MAX_REMEMBERED, self.fresh_for.total_seconds(), timer=clock.monotonic
        )
        # One lock per URL being fetched, with how many requests hold or wait for it.
        self._inflight: dict[str, tuple[asyncio.Lock, int]] = {}

    @property
    def enabled(self) -> bool:
        """Whether the operator allows link summaries."""
        return self.config.enabled

    async def article(self, url: str, user_id: int) -> Article:
        """The stored article for `url`, fetched and stored first unless it is already there.

        Raises LinksDisabled, RateLimited (before any lookup), LinkError when the URL is
        refused or the page cannot be fetched or has no article text.
        """
        if not self.config.enabled:
            raise LinksDisabled("link summaries are disabled")
        url = url.strip()
        if len(url) > MAX_URL:
            raise LinkError("too_long", f"URL of {len(url)} characters")
        self.fetcher.policy.target(url)  # a bad scheme or port costs nothing: not counted
        self.limiter.hit(user_id)
        key = normalize_url(url)
        lock, users = self._inflight.get(key, (asyncio.Lock(), 0))
        self._inflight[key] = (lock, users + 1)
        try:
            async with lock:
                known = await self._known(key, url)
                if known is not None:
                    return known
                article = await self._fetch_and_store(url)
                self._remember(key, article.id)
                return article
        finally:
            lock, users = self._inflight[key]
            if users > 1:
                self._inflight[key] = (lock, users - 1)
            else:
                del self._inflight[key]

    def _remember(self, key: str, article_id: int) -> None:
        self._recent[key] = article_id

    async def _known(self, key: str, url: str) -> Article | None:
        """The article stored for this URL (or for the URL it redirected to lately), if any.

        One stored less than `refetch_after_hours` ago is answered as it is; an older one is
        fetched again and updated in place (same id: its buttons keep working), or answered as
        it is when its page cannot be fetched now.
        """
        found = await self.store.find_article_by_url(url)
        remembered = self._recent.get(key)
        if found is None and remembered is not None:
            try:
                found = await self.store.get_article(remembered)
            except NewsbotError:
                self._recent.pop(key, None)
        if found is None or self.clock.now() - found.stored_at < self.fresh_for:
            return found
        try:
            return await self._refresh(found)
        except LinkError as exc:
            log.info("article %s: its page could not be fetched again (%s)", found.id, exc)
            return found

    async def _refresh(self, article: Article) -> Article:
        """Fetch the page of a stored article again and store its new text under the same id."""
        assert article.url is not None
        page = await self.fetcher.fetch(article.url)
        content = await asyncio.to_thread(_extract, page)
        if content is None:
            return article
        refreshed = await self.store.refresh_article(
            article.id,
            title=clip_title(content.title or article.title),
            text=content.text,
            author=content.author,
            published=content.published,
        )
        if refreshed:
            log.info("article %s: refreshed from its page", article.id)
            return await self.store.get_article(article.id)
        return article

    async def _fetch_and_store(self, url: str) -> Article:
        page = await self.fetcher.fetch(url)
        if page.url != url:
            stored = await self.store.find_article_by_url(page.url)
            if stored is not None:
                return stored
        content = await asyncio.to_thread(_extract, page)
        if content is None:
            raise LinkError("no_article", "no article text in the page")
        title = clip_title(content.title or urlsplit(page.url).hostname or page.url)
        item = NewArticle(
            title=title,
            text=content.text,
            url=page.url,
            author=content.author,
            published=content.published,
            category=cap_category(content.section) if content.section else self.config.category,
            language=_language(page),
            image=content.image,
            site_name=content.site_name,
        )
        result = await self.store.add_articles([item])
        metrics.articles_ingested("link", len(result.ids))
        if result.ids:
            log.info("stored article %s from a user's link", result.ids[0])
            return await self.store.get_article(result.ids[0])
        return await self._duplicate(item)

    async def _duplicate(self, item: NewArticle) -> Article:
        """The stored article `item` duplicates: same URL (a race) or same text elsewhere."""
        assert item.url is not None
        found = await self.store.find_article_by_url(item.url)
        if found is not None:
            return found
        digest = content_hash(item.title, item.text)
        for candidate in await self.store.search(item.title, 20):
            if candidate.content_hash == digest:
                return candidate
        raise LinkError("bad_response", "a duplicate that cannot be found")


def clip_title(title: str) -> str:
    """A title of at most `MAX_TITLE` characters, on one line."""
    line = clean_line(title)
    return line if len(line) <= MAX_TITLE else line[: MAX_TITLE - 1].rstrip() + "…"


def _extract(page: Page) -> PageContent | None:
    """The article of a fetched page (off the event loop: trafilatura takes milliseconds)."""
    if page.media_type == "text/plain":
        raw = decode_html(page.content, page.charset or "utf-8")
        text = raw if isinstance(raw, str) else raw.decode("utf-8", errors="replace")
        lines = [clean_line(line) for line in text.splitlines()]
        first = next((line for line in lines if line), "")
        body = normalize_body(text)
        if len(body.split()) < 25:
            return None
        return PageContent(text=body, title=first[:MAX_TITLE] or None)
    return extract_page(page.content, url=page.url, charset=page.charset)


def _language(page: Page) -> str | None:
    """The page's declared language (`<html lang>`), when the summarizer knows it."""
    match = _HTML_LANG.search(page.content[:8192])
    if match is None:
        return None
    code = match[1].decode("ascii").lower()
    return code if code in supported_languages() else None
