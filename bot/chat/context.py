"""The handlers' typed view of the application: services and preferences without casts.

The services are created in `post_init` (see `bot.app`) and stored on `bot_data`, an instance
of `BotData` rather than a dict, so a handler writes `context.services.articles` and mypy knows
what it gets. Before `post_init` has run there are no services, and asking for them is a bug
that raises at once instead of failing later on a None.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from telegram import Update
from telegram.ext import Application, CallbackContext, ContextTypes, ExtBot, JobQueue

from bot.services.admin import AdminService
from bot.services.articles import ArticleService
from bot.services.chats import ChatService, Preferences
from bot.services.feeds import FeedService
from bot.services.links import LinkService
from bot.services.publishing import FormatService
from bot.services.sharing import SharingService
from bot.services.subscriptions import SubscriptionService


@dataclass(frozen=True, slots=True)
class Services:
    """What the handlers can do: reader operations, chat preferences, summaries of the links
    users send, articles to share inline and subscriptions (absent where a test builds the
    reader services alone)."""

    articles: ArticleService
    chats: ChatService
    links: LinkService | None = None
    sharing: SharingService | None = None
    subscriptions: SubscriptionService | None = None
    admin: AdminService | None = None
    publishing: FormatService | None = None
    feeds: FeedService | None = None  # the bot's admins' /feeds, /addfeed, /delfeed


@dataclass(frozen=True, slots=True)
class Updates:
    """Whether this process takes updates (its role), and in polling mode the lease that says
    which one process calls getUpdates when several share a store: `lease()` takes or renews
    it and says whether this process holds it, `release()` gives it up. Without a lease, this
    process polls as the only one."""

    take: bool = True
    lease: Callable[[], Awaitable[bool]] | None = None
    release: Callable[[], Awaitable[None]] | None = None
    renew_seconds: float = 3.0


class BotData:
    """The application's `bot_data`: the services, once started, and who takes updates."""

    def __init__(self) -> None:
        self.services: Services | None = None
        self.updates = Updates()


class NewsContext(CallbackContext[ExtBot[Any], dict[Any, Any], dict[Any, Any], BotData]):
    """The context every handler gets, with a typed accessor for the services."""

    @property
    def services(self) -> Services:
        """The running bot's services; RuntimeError before post_init has created them."""
        services = self.bot_data.services
        if services is None:
            raise RuntimeError("services are not started (post_init has not run)")
        return services

    async def preferences(self, update: Update) -> Preferences:
        """The preferences of the update's chat, created from the user's language on first
        contact."""
        chat = update.effective_chat
        if chat is None:
            raise ValueError("update without a chat")
        user = update.effective_user
        return await self.services.chats.preferences(chat.id, user.language_code if user else None)


CONTEXT_TYPES: ContextTypes[NewsContext, dict[Any, Any], dict[Any, Any], BotData] = ContextTypes(
    context=NewsContext, bot_data=BotData
)

NewsApplication = Application[
    ExtBot[Any], NewsContext, dict[Any, Any], dict[Any, Any], BotData, JobQueue[Any]
]
"""The PTB Application as this bot builds it (see `bot.chat.application.build_application`)."""
