"""The sender's outbox: renders a queued delivery and sends it, turning Telegram's answers into
`Outcome`s the sender records (see `bot.deliver.sender`).

Every Telegram failure a broadcast meets has one outcome here: flood control (429) pauses the
sender for `retry_after`; "Forbidden" (bot blocked, kicked) and "chat not found" make the chat
gone; a forum topic closed or deleted ("message thread not found", TOPIC_CLOSED) is
"topic_gone" (the sender stops that topic's subscriptions and the outbox tells the group
once, in its General topic); a group upgraded to a supergroup is "moved" to its new id;
refused HTML is resent as plain text (by `replies.send`); a timeout before the request was
written is retried, one after it was written is "unconfirmed" (Telegram may have delivered it
and has no way to ask, so it is not sent twice); other network and server errors are retried.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from datetime import timedelta

import httpx
from telegram import Bot
from telegram.error import BadRequest, ChatMigrated, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.request import HTTPXRequest

from bot.chat import render_delivery as views
from bot.chat import render_feeds
from bot.chat.application import file_url
from bot.chat.render import View
from bot.chat.replies import send
from bot.config import TelegramConfig
from bot.deliver.sender import MAX_IN_FLIGHT, SENT, Outcome
from bot.errors import NotFound, SummaryError
from bot.models import ClaimedDelivery
from bot.services.articles import ArticleService
from bot.services.chats import ChatService
from bot.services.feeds import FeedAlert
from bot.services.subscriptions import SubscriptionService

log = logging.getLogger(__name__)

# Connections the sender keeps to the Bot API: one per request it keeps in flight, enough for
# 30/s (or several hundred/s with paid broadcasts) over a real network's round trips.
SENDER_CONNECTIONS = MAX_IN_FLIGHT

# Errors that say the chat will never accept a message again.
_GONE = ("chat not found", "user is deactivated", "bot was kicked", "have no rights to send")
# Errors that say a forum topic is closed or deleted: its subscriptions stop, not the chat's.
_TOPIC_GONE = ("message thread not found", "topic_closed", "topic_deleted")


class TelegramOutbox:
    """See the module docstring. Build it with `open_outbox` for a running bot."""

    def __init__(
        self,
        bot: Bot,
        articles: ArticleService,
        chats: ChatService,
        subscriptions: SubscriptionService,
    ) -> None:
        self.bot = bot
        self.articles = articles
        self.chats = chats
        self.subscriptions = subscriptions
        # Delivery id -> its message, rendered before its send slot (`prepare_article`).
        self._prepared: dict[int, View | Outcome] = {}

    async def prepare_article(self, claim: ClaimedDelivery) -> None:
        self._prepared[claim.id] = await self._article_view(claim)

    async def send_article(self, chat_id: int, article_id: int, claim: ClaimedDelivery) -> Outcome:
        view = self._prepared.pop(claim.id, None) or await self._article_view(claim)
        if isinstance(view, Outcome):
            return view
        return await self._send(chat_id, view, claim.thread_id)

    async def _article_view(self, claim: ClaimedDelivery) -> View | Outcome:
        prefs = self.chats.preferences_of(claim.chat_id, claim.language, claim.settings)
        try:
            article = await self.articles.article(claim.article_id)
        except NotFound:
            return Outcome("failed", "the article no longer exists")
        category_id = await self._category_id(article.category)
        try:
            result = await self.articles.summary(
                claim.article_id, sentences=prefs.sentences, algorithm=prefs.algorithm
            )
            return views.delivery(prefs.language, result, category_id)
        except SummaryError:
            return views.delivery_without_summary(prefs.language, article, category_id)

    async def send_digest(
        self, chat_id: int, digest_id: int, article_ids: Sequence[int], claim: ClaimedDelivery
    ) -> Outcome:
        prefs = self.chats.preferences_of(chat_id, claim.language, claim.settings)
        page = await self.subscriptions.digest_page(digest_id, 1, prefs)
        return await self._send(chat_id, views.digest(prefs.language, page), claim.thread_id)

    async def topic_closed(
        self, chat_id: int, categories: Sequence[str], claim: ClaimedDelivery
    ) -> Outcome:
        prefs = self.chats.preferences_of(chat_id, claim.language, claim.settings)
        # To the chat itself (its General topic), where its admins see it.
        return await self._send(chat_id, views.topic_closed(prefs.language, categories))

    async def tell_admins(self, admins: Sequence[int], alerts: Sequence[FeedAlert]) -> None:
        """Each alert to each of the bot's admins, in their private chat and language (an
        admin who never started the bot cannot be written to: logged, not retried)."""
        for admin in admins:
            prefs = await self.chats.preferences(admin)
            for alert in alerts:
                outcome = await self._send(admin, render_feeds.alert(prefs.language, alert))
                if outcome.kind != "sent":
                    log.warning(
                        "could not tell admin %s of feed %s: %s",
                        admin,
                        alert.feed.id,
                        outcome.error,
                    )

    async def close(self) -> None:
        """Close the bot's connections."""
        await self.bot.shutdown()

    async def _category_id(self, name: str | None) -> int | None:
        """The id of a category for its Unsubscribe button (the category list is cached)."""
        if not name:
            return None
        # The service's category cache: not one store read per message.
        found = await self.articles.find_category(name)
        return found.id if found else None

    async def _send(self, chat_id: int, view: View, thread_id: int | None = None) -> Outcome:
        try:
            await send(self.bot, chat_id, view, thread_id=thread_id)
        except RetryAfter as exc:
            with warnings.catch_warnings():  # PTB warns that it will be a timedelta: both work
                warnings.simplefilter("ignore")
                wait = exc.retry_after
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            return Outcome(
                "retry", f"flood control: retry after {seconds:g} s", retry_after=seconds
            )
        except ChatMigrated as exc:
            # The sender moves the chat in the store next; neither id's cached preferences may
            # outlive that. Forgetting them now is enough: a read in between finds no row under
            # the new id and creates one, which then wins over the old one's in the move.
            self.chats.forget(chat_id)
            self.chats.forget(exc.new_chat_id)
            return Outcome("moved", "the group became a supergroup", new_chat_id=exc.new_chat_id)
        except Forbidden as exc:
            return Outcome("gone", exc.message)
        except BadRequest as exc:
            if thread_id is not None and any(m in exc.message.lower() for m in _TOPIC_GONE):
                return Outcome("topic_gone", exc.message)
            if any(marker in exc.message.lower() for marker in _GONE):
                return Outcome("gone", exc.message)
            return Outcome("failed", exc.message)
        except TimedOut as exc:
            if isinstance(exc.__cause__, httpx.ReadTimeout):
                return Outcome("unconfirmed", "no answer from Telegram after sending; not resent")
            return Outcome("retry", f"timed out before sending: {exc.message}")
        except NetworkError as exc:
            return Outcome("retry", exc.message)
        return SENT


async def open_outbox(
    telegram: TelegramConfig,
    articles: ArticleService,
    chats: ChatService,
    subscriptions: SubscriptionService,
) -> TelegramOutbox:
    """An outbox on a Bot of its own: not the Application's, whose rate limiter would retry
    flood errors out of the sender's sight and pace every message twice (the sender paces
    itself), and whose connection pool the handlers' replies need. Close it with `close()`."""
    bot = Bot(
        telegram.token,
        base_url=telegram.api_base_url,
        base_file_url=file_url(telegram.api_base_url),
        request=HTTPXRequest(connection_pool_size=SENDER_CONNECTIONS),
    )
    await bot.initialize()
    return TelegramOutbox(bot, articles, chats, subscriptions)
