"""Handlers of subscriptions and delivery settings: /subscribe, /unsubscribe, /subscriptions,
/digest, /quiet, /timezone, /pause, /resume, and their buttons (Subscribe in /categories,
Unsubscribe, the delivery rows of /settings, a digest's pages); the bot's own membership of a
chat (blocked, removed, taken back); /stats for the bot's admins.

They work in private chats, in groups and in channels the bot is an admin of (commands posted
in a channel arrive as channel posts). In a group only its admins may change what the group
receives: anyone may read the list, but a change from a member is refused with a short line.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import CallbackQuery, Chat, Message, Update
from telegram.constants import ChatMemberStatus, ChatType
from telegram.error import TelegramError

from bot.chat import render_delivery as views
from bot.chat.callbacks import Action, SetDelivery, ShowDigest, Subscribe, Unsubscribe
from bot.chat.context import NewsContext
from bot.chat.i18n import plain, t
from bot.chat.render import View, echo, unknown_category
from bot.chat.replies import edit, send, topic_of
from bot.errors import BadArgument, BadFilter, TooManyFilters, UnknownCategory
from bot.services.chats import Preferences
from bot.services.subscriptions import DeliverySettings, SubscriptionService

log = logging.getLogger(__name__)

_ADMINS = (ChatMemberStatus.OWNER, ChatMemberStatus.ADMINISTRATOR)
_OFF = ("off", "non", "no", "aucun", "none", "stop")


async def may_manage(
    context: NewsContext, chat: Chat, user_id: int | None, sender_chat_id: int | None
) -> bool:
    """Whether this user may change the chat's subscriptions: anyone in a private chat; in a
    group or a channel its admins. A message posted as the chat itself (a channel post, an
    anonymous group admin) comes from an admin; a button pressed in a channel is checked like
    in a group, since any reader of the channel can press it."""
    if chat.type == ChatType.PRIVATE:
        return True
    if sender_chat_id == chat.id:
        return True
    if user_id is None:
        return False
    try:
        member = await context.bot.get_chat_member(chat.id, user_id)
    except TelegramError as exc:
        log.info("cannot check admin rights in chat %s: %s", chat.id, exc)
        return False
    return member.status in _ADMINS


async def _allowed(update: Update, context: NewsContext, prefs: Preferences) -> bool:
    """`may_manage` for a command; answers the refusal itself."""
    chat = update.effective_chat
    assert chat is not None
    message = update.effective_message
    user = update.effective_user
    sender = message.sender_chat.id if message is not None and message.sender_chat else None
    if await may_manage(context, chat, user.id if user else None, sender):
        return True
    await send(
        context.bot, chat.id, View(t(prefs.language, "admins_only")), thread_id=_topic(update)
    )
    return False


def _service(context: NewsContext) -> SubscriptionService:
    service = context.services.subscriptions
    if service is None:
        raise RuntimeError("subscriptions are not set up in this application")
    return service


def _chat_id(update: Update) -> int:
    chat = update.effective_chat
    assert chat is not None
    return chat.id


def _topic(update: Update) -> int | None:
    """The forum topic the command came from (None outside topics): what it subscribes,
    lists or stops, and where the answer goes."""
    return topic_of(update.effective_message)


async def _reply(update: Update, context: NewsContext, view: View) -> None:
    await send(context.bot, _chat_id(update), view, thread_id=_topic(update))


def _args(context: NewsContext) -> list[str]:
    return list(context.args or [])


# -- commands ---------------------------------------------------------------------------------


async def subscribe(update: Update, context: NewsContext) -> None:
    """/subscribe <category> [+word] [-word]: new articles of the category, pushed here."""
    prefs = await context.preferences(update)
    lang = prefs.language
    args = _args(context)
    if not args:
        await _reply(update, context, View(t(lang, "usage_subscribe")))
        return
    if not await _allowed(update, context, prefs):
        return
    # The category is the words before the first filter: "/subscribe faits divers +lyon".
    split = next((i for i, w in enumerate(args) if w[:1] in "+-"), len(args))
    name, words = " ".join(args[:split]), args[split:]
    if not name:
        await _reply(update, context, View(t(lang, "usage_subscribe")))
        return
    service = _service(context)
    try:
        sub = await service.subscribe(prefs.chat_id, name, words, thread_id=_topic(update))
    except UnknownCategory as exc:
        await _reply(update, context, unknown_category(lang, exc.name, exc.suggestions))
        return
    except BadFilter as exc:
        await _reply(update, context, View(t(lang, "bad_filter", word=echo(exc.word))))
        return
    except TooManyFilters as exc:
        await _reply(update, context, View(t(lang, "too_many_filters", count=exc.limit)))
        return
    await _reply(update, context, views.subscribed(lang, sub))


async def unsubscribe(update: Update, context: NewsContext) -> None:
    """/unsubscribe <category>|all."""
    prefs = await context.preferences(update)
    lang = prefs.language
    args = _args(context)
    if not args:
        await _reply(update, context, View(t(lang, "usage_unsubscribe")))
        return
    if not await _allowed(update, context, prefs):
        return
    name = " ".join(args)
    service = _service(context)
    if name.lower() in ("all", "tout", "tous", "toutes"):
        count = await service.unsubscribe(prefs.chat_id, None, thread_id=_topic(update))
        await _reply(update, context, View(t(lang, "unsubscribed_all", count=count)))
        return
    try:
        found = await service.category(name)
    except UnknownCategory as exc:
        await _reply(update, context, unknown_category(lang, exc.name, exc.suggestions))
        return
    removed = await service.unsubscribe(prefs.chat_id, found.name)
    key = "unsubscribed" if removed else "not_subscribed"
    await _reply(update, context, View(t(lang, key, category=echo(found.name))))


async def subscriptions(update: Update, context: NewsContext) -> None:
    """/subscriptions: the chat's subscriptions with Unsubscribe buttons, and how they come."""
    prefs = await context.preferences(update)
    await _reply(update, context, await subscriptions_view(context, prefs, _topic(update)))


async def subscriptions_view(
    context: NewsContext, prefs: Preferences, thread_id: int | None = None
) -> View:
    """The list of the chat's subscriptions; in a forum topic, of that topic's."""
    service = _service(context)
    subs = await service.subscriptions(prefs.chat_id, thread_id=thread_id)
    settings = await service.settings(prefs.chat_id)
    return views.subscriptions(prefs.language, subs, settings, mark_topics=thread_id is None)


async def digest(update: Update, context: NewsContext) -> None:
    """/digest HH:MM: one digest a day at that time; /digest off: each article as it comes."""

    async def change(service: SubscriptionService, chat_id: int, text: str) -> DeliverySettings:
        if text.lower() in _OFF:
            return await service.set_mode(chat_id, "instant")
        return await service.set_digest_time(chat_id, text)

    await _change_delivery(update, context, "usage_digest", change, words=1)


async def quiet(update: Update, context: NewsContext) -> None:
    """/quiet HH:MM-HH:MM: hold articles during those hours; /quiet off."""

    async def change(service: SubscriptionService, chat_id: int, text: str) -> DeliverySettings:
        return await service.set_quiet(chat_id, None if text.lower() in _OFF else text)

    await _change_delivery(update, context, "usage_quiet", change)


async def _change_delivery(
    update: Update,
    context: NewsContext,
    usage: str,
    change: Callable[[SubscriptionService, int, str], Awaitable[DeliverySettings]],
    words: int | None = None,
) -> None:
    """A delivery setting from a command's argument (*words* of them, or any number): the
    usage line when it is missing or does not parse, else how the chat now receives."""
    prefs = await context.preferences(update)
    args = _args(context)
    if not args or (words is not None and len(args) != words):
        await _reply(update, context, View(t(prefs.language, usage)))
        return
    if not await _allowed(update, context, prefs):
        return
    try:
        settings = await change(_service(context), prefs.chat_id, " ".join(args))
    except BadArgument:
        await _reply(update, context, View(t(prefs.language, usage)))
        return
    await _reply(update, context, View(views.delivery_summary(prefs.language, settings)))


async def timezone(update: Update, context: NewsContext) -> None:
    """/timezone Area/City: the time zone of digest times and quiet hours."""
    prefs = await context.preferences(update)
    lang = prefs.language
    args = _args(context)
    if len(args) != 1:
        await _reply(update, context, View(t(lang, "usage_timezone")))
        return
    if not await _allowed(update, context, prefs):
        return
    try:
        settings = await _service(context).set_timezone(prefs.chat_id, args[0])
    except BadArgument:
        await _reply(update, context, View(t(lang, "unknown_timezone", zone=echo(args[0]))))
        return
    await _reply(update, context, View(t(lang, "timezone_set", zone=echo(settings.timezone))))


async def pause(update: Update, context: NewsContext) -> None:
    """/pause: hold every delivery until /resume."""
    await _set_paused(update, context, True)


async def resume(update: Update, context: NewsContext) -> None:
    """/resume: deliveries again, including what was held."""
    await _set_paused(update, context, False)


async def _set_paused(update: Update, context: NewsContext, paused: bool) -> None:
    prefs = await context.preferences(update)
    if not await _allowed(update, context, prefs):
        return
    await _service(context).set_paused(prefs.chat_id, paused)
    await _reply(update, context, View(t(prefs.language, "paused" if paused else "resumed")))


async def stats(update: Update, context: NewsContext) -> None:
    """/stats (the bot's admins only): articles, feeds, chats, the deliveries queue."""
    prefs = await context.preferences(update)
    admin = context.services.admin
    user = update.effective_user
    if admin is None or not admin.is_admin(user.id if user else None):
        await _reply(update, context, View(t(prefs.language, "admins_command")))
        return
    await _reply(update, context, views.status(prefs.language, await admin.status()))


_GONE_STATUSES = (ChatMemberStatus.LEFT, ChatMemberStatus.BANNED)


async def membership(update: Update, context: NewsContext) -> None:
    """The bot was blocked, unblocked, removed from or added back to a chat (`my_chat_member`):
    stop or resume its deliveries at once, rather than at the next failed send."""
    change = update.my_chat_member
    if change is None:
        return
    chat_id = change.chat.id
    old, new = change.old_chat_member.status, change.new_chat_member.status
    service = _service(context)
    if new in _GONE_STATUSES and old not in _GONE_STATUSES:
        private = change.chat.type == ChatType.PRIVATE
        reason = "blocked the bot" if private else "removed the bot"
        log.info("chat %s %s: its subscriptions are deactivated", chat_id, reason)
        await service.bot_removed(chat_id, reason)
    elif old in _GONE_STATUSES and new not in _GONE_STATUSES and await service.bot_back(chat_id):
        log.info("chat %s took the bot back: its subscriptions resume", chat_id)


COMMAND_HANDLERS = {
    "subscribe": subscribe,
    "unsubscribe": unsubscribe,
    "subscriptions": subscriptions,
    "digest": digest,
    "quiet": quiet,
    "timezone": timezone,
    "pause": pause,
    "resume": resume,
    "stats": stats,
}


# -- buttons ----------------------------------------------------------------------------------


async def act(
    context: NewsContext, query: CallbackQuery, prefs: Preferences, action: Action
) -> str | None:
    """Do what a subscription button says; the notice to show. NotFound / BadArgument as the
    other buttons (`bot.chat.handlers.button` answers them)."""
    lang = prefs.language
    service = _service(context)
    if isinstance(action, ShowDigest):
        page = await service.digest_page(action.digest_id, action.page, prefs)
        await edit(context.bot, query, views.digest(lang, page))
        return None
    message = query.message
    if message is not None and not await may_manage(
        context, message.chat, query.from_user.id, None
    ):
        return plain(lang, "notice_admins_only")
    match action:
        case Subscribe(category_id):
            sub = await service.subscribe_id(
                prefs.chat_id, category_id, thread_id=topic_of(message)
            )
            return plain(lang, "notice_subscribed", category=echo(sub.category))
        case Unsubscribe(category_id):
            name = await service.unsubscribe_id(prefs.chat_id, category_id)
            if isinstance(message, Message) and _is_list(message.text):
                view = await subscriptions_view(context, prefs, topic_of(message))
                await edit(context.bot, query, view)
            return plain(lang, "notice_unsubscribed", category=echo(name))
        case SetDelivery("m", mode):
            await service.set_mode(prefs.chat_id, mode)
        case SetDelivery("t", hhmm):
            await service.set_digest_time(prefs.chat_id, hhmm)
        case SetDelivery("q", choice):
            await service.set_quiet(prefs.chat_id, choice or None)
        case SetDelivery("p", flag):
            await service.set_paused(prefs.chat_id, flag == "1")
        case _:
            raise ValueError(f"unhandled action {action!r}")
    return None  # a settings change: the caller redraws /settings


def _is_list(text: str | None) -> bool:
    """Whether a message is a /subscriptions list (redrawn after an Unsubscribe there)."""
    return text is not None and text.startswith("🔔")
