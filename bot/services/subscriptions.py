"""Subscriptions and delivery settings: what a chat receives, and when.

A chat subscribes to categories, each with optional word filters ("+word" must appear, "-word"
must not; plain words, no patterns). How it receives them is in its settings: instant (one
message per article) or a daily digest at a time of its time zone, quiet hours, pause. Every
settings change clears the chat's hold in the store, so the sender decides again at once.
"""

from __future__ import annotations

import math
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.config import DeliveryConfig
from bot.deliver.policy import (
    DIGEST,
    INSTANT,
    MODES,
    DeliveryPolicy,
    find_timezone,
    format_hhmm,
    parse_hhmm,
    parse_quiet,
)
from bot.deliver.rules import parse_filters
from bot.errors import (
    BadArgument,
    NotFound,
    SummaryError,
    UnknownCategory,
)
from bot.models import Article, Category, Subscription
from bot.services.articles import ArticleService
from bot.services.chats import ChatService, Preferences
from bot.store.contract import ArticleReader, ChatStore, DeliveryQueue

DIGEST_PAGE_SIZE = 5
# Sentences of each article's summary in a digest: a digest is a list to skim.
DIGEST_SENTENCES = 2


class SubscriptionStore(ChatStore, ArticleReader, DeliveryQueue, Protocol):
    """What the subscription service needs: chats and subscriptions, categories and articles,
    digests, and deactivating a chat that removed the bot."""


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    """A chat's delivery settings as shown in /settings."""

    mode: str
    digest_time: str
    timezone: str
    quiet: tuple[str, str] | None
    paused: bool
    # "quiet": posts arriving in quiet hours go out silently instead of being held.
    silent: str = "off"


@dataclass(frozen=True, slots=True)
class DigestEntry:
    article: Article
    sentences: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DigestPage:
    """One page of a digest message."""

    digest_id: int
    created_at: datetime  # in the chat's time zone
    number: int
    pages: int
    total: int
    entries: tuple[DigestEntry, ...]


class SubscriptionService:
    def __init__(
        self,
        store: SubscriptionStore,
        articles: ArticleService,
        chats: ChatService,
        defaults: DeliveryConfig,
    ) -> None:
        self.store = store
        self.articles = articles
        self.chats = chats
        self.defaults = defaults

    # -- subscriptions -----------------------------------------------------------------------

    async def category(self, name: str) -> Category:
        """The category matching *name*; UnknownCategory with the closest ones if none."""
        found = await self.store.find_category(name)
        if found is None:
            raise UnknownCategory(name, await self.store.suggest_categories(name))
        return found

    async def subscribe(
        self,
        chat_id: int,
        category: str,
        words: Sequence[str] = (),
        *,
        thread_id: int | None = None,
    ) -> Subscription:
        """Subscribe to a category (matched case- and accent-insensitively); UnknownCategory
        with suggestions, BadFilter / TooManyFilters for filters. Subscribing again replaces the
        filters. Only articles stored from now on are delivered, to forum topic *thread_id*
        (None: the chat itself); subscribing from another topic moves the category there."""
        filters = parse_filters(words)
        found = await self.category(category)
        await self.chats.preferences(chat_id)
        return await self.store.subscribe(chat_id, found.name, filters, thread_id=thread_id)

    async def unsubscribe(
        self, chat_id: int, category: str | None, *, thread_id: int | None = None
    ) -> int:
        """Remove one subscription (None: all those of topic *thread_id*, or outside topics);
        how many. UnknownCategory for a name that matches no category."""
        if category is None:
            return await self.store.unsubscribe(chat_id, thread_id=thread_id)
        found = await self.category(category)
        return await self.store.unsubscribe(chat_id, found.name)

    async def unsubscribe_id(self, chat_id: int, category_id: int) -> str:
        """Remove the subscription to the category with this id (from a button); its name."""
        found = await self.articles.category(category_id)
        await self.store.unsubscribe(chat_id, found.name)
        return found.name

    async def subscribe_id(
        self, chat_id: int, category_id: int, *, thread_id: int | None = None
    ) -> Subscription:
        """Subscribe to the category with this id (from a button), without filters."""
        found = await self.articles.category(category_id)
        await self.chats.preferences(chat_id)
        return await self.store.subscribe(chat_id, found.name, (), thread_id=thread_id)

    async def subscriptions(
        self, chat_id: int, *, thread_id: int | None = None
    ) -> list[Subscription]:
        """The chat's subscriptions; in a forum topic (*thread_id*), only that topic's."""
        subs = await self.store.subscriptions(chat_id)
        if thread_id is None:
            return subs
        return [sub for sub in subs if sub.thread_id == thread_id]

    async def topic_closed(self, chat_id: int, thread_id: int, reason: str) -> list[str]:
        """A forum topic was closed or deleted: its subscriptions stop (the chat's others go
        on); the categories stopped, empty when that was already done."""
        return await self.store.deactivate_topic(chat_id, thread_id, reason)

    async def bot_removed(self, chat_id: int, reason: str) -> None:
        """The chat blocked or removed the bot: nothing more is queued or sent to it."""
        await self.store.deactivate_chat(chat_id, reason)  # a chat never stored: no-op

    async def bot_back(self, chat_id: int) -> bool:
        """The chat took the bot back (unblocked, added again): its subscriptions resume."""
        return await self.store.reactivate_chat(chat_id)

    async def picture_refused(self, article_id: int, url: str) -> None:
        """Telegram refused the article's picture: no chat is offered it again."""
        self.articles.forget(article_id)
        await self.store.forget_image(article_id, url)
        self.articles.forget(article_id)

    # -- delivery settings -------------------------------------------------------------------

    async def settings(self, chat_id: int) -> DeliverySettings:
        chat = await self.store.find_chat(chat_id)
        return self._settings_of(chat.settings if chat else {})

    def _settings_of(self, settings: Mapping[str, object]) -> DeliverySettings:
        policy = DeliveryPolicy.of(settings, self.defaults)
        return DeliverySettings(
            mode=policy.mode,
            digest_time=format_hhmm(policy.digest_time),
            timezone=policy.timezone.key,
            quiet=(
                (format_hhmm(policy.quiet[0]), format_hhmm(policy.quiet[1]))
                if policy.quiet
                else None
            ),
            paused=policy.paused,
            silent=policy.silent,
        )

    async def set_mode(self, chat_id: int, mode: str) -> DeliverySettings:
        if mode not in MODES:
            raise BadArgument(f"mode must be one of {', '.join(MODES)}")
        return await self._update(chat_id, delivery=mode)

    async def set_digest_time(self, chat_id: int, text: str) -> DeliverySettings:
        """Switch to digest mode at *text* ("08:00"); BadArgument if it is not a time."""
        value = parse_hhmm(text)
        if value is None:
            raise BadArgument("expected a time like 08:00")
        return await self._update(chat_id, delivery=DIGEST, digest_time=format_hhmm(value))

    async def set_timezone(self, chat_id: int, name: str) -> DeliverySettings:
        zone = find_timezone(name)
        if zone is None:
            raise BadArgument(f"unknown time zone {name!r}")
        return await self._update(chat_id, timezone=zone)

    async def set_quiet(self, chat_id: int, text: str | None) -> DeliverySettings:
        """Quiet hours "22:00-07:00", or None to turn them off; BadArgument if not a range."""
        if text is None:
            return await self._update(chat_id, quiet=None)
        found = parse_quiet(text)
        if found is None:
            raise BadArgument("expected a range like 22:00-07:00")
        return await self._update(chat_id, quiet=[format_hhmm(found[0]), format_hhmm(found[1])])

    async def set_paused(self, chat_id: int, paused: bool) -> DeliverySettings:
        return await self._update(chat_id, paused=paused)

    async def _update(self, chat_id: int, **values: object) -> DeliverySettings:
        await self.chats.preferences(chat_id)  # the chat row exists from then on
        chat = await self.store.update_chat_settings(chat_id, reschedule=True, **values)
        return self._settings_of(chat.settings)

    # -- digests -----------------------------------------------------------------------------

    async def digest_page(self, digest_id: int, number: int, prefs: Preferences) -> DigestPage:
        """Page *number* (from 1, clamped) of a digest; NotFound if it is gone or belongs to
        another chat."""
        digest = await self.store.get_digest(digest_id)
        if digest.chat_id != prefs.chat_id:
            raise NotFound(f"no digest {digest_id} in this chat")
        pages = max(1, math.ceil(len(digest.article_ids) / DIGEST_PAGE_SIZE))
        number = min(max(1, number), pages)
        wanted = digest.article_ids[(number - 1) * DIGEST_PAGE_SIZE :][:DIGEST_PAGE_SIZE]
        entries: list[DigestEntry] = []
        for article in await self.store.get_articles(wanted):
            try:
                summary = await self.articles.summary(
                    article.id,
                    sentences=min(prefs.sentences, DIGEST_SENTENCES),
                    algorithm=prefs.algorithm,
                )
                sentences = tuple(summary.sentences)
            except (SummaryError, NotFound):
                sentences = ()
            entries.append(DigestEntry(article, sentences))
        # The digest is dated as its reader's clock says: 08:00 in Tokyo is the day before in UTC.
        zone = zoneinfo.ZoneInfo((await self.settings(prefs.chat_id)).timezone)
        created = digest.created_at.astimezone(zone)
        return DigestPage(
            digest_id, created, number, pages, len(digest.article_ids), tuple(entries)
        )


__all__ = [
    "DIGEST",
    "INSTANT",
    "DeliverySettings",
    "DigestPage",
    "SubscriptionService",
    "parse_filters",
]
