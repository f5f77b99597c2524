"""The bot's admins run its feeds from the chat: /feeds (paged, a row of buttons per feed:
fetch now, enable or disable, remove with a confirmation), /addfeed <url> [category]
[language] (checked first: fetched and parsed, then added and its first items ingested) and
/delfeed <id>. Anyone else gets the answer of any unknown command, as if these did not exist.
The work is `bot.services.feeds.FeedService`'s; this module parses and answers.
"""

from __future__ import annotations

import re

from telegram import CallbackQuery, Update
from telegram.constants import ChatType

from bot.chat import render
from bot.chat import render_feeds as views
from bot.chat.callbacks import FeedAction
from bot.chat.context import NewsContext
from bot.chat.i18n import plain
from bot.chat.render import View, echo
from bot.chat.replies import edit, send, topic_of
from bot.errors import (
    REFUSALS,
    DuplicateFeed,
    FeedError,
    FeedParseError,
    FetchError,
    NotFound,
)
from bot.services.chats import Preferences
from bot.services.feeds import FeedService

# The last word of /addfeed is its language when it looks like one: "fr", "en", "pt-BR".
_LANGUAGE = re.compile(r"[a-z]{2}(?:-[A-Z]{2})?")
# Why a fetch failed, in the admin's words: nobody answered, or the address is not allowed.
_UNREACHABLE = frozenset({"resolve", "connect", "timeout"})


def _feeds(update: Update, context: NewsContext) -> FeedService | None:
    """The feed service if the update comes from one of the bot's admins, else None."""
    admin = context.services.admin
    feeds = context.services.feeds
    user = update.effective_user
    if admin is None or feeds is None or not admin.is_admin(user.id if user else None):
        return None
    return feeds


async def _reply(update: Update, context: NewsContext, view: View) -> None:
    chat = update.effective_chat
    assert chat is not None
    await send(context.bot, chat.id, view, thread_id=topic_of(update.effective_message))


async def _not_for_you(update: Update, context: NewsContext, prefs: Preferences) -> None:
    """What anyone gets for a command the bot does not have: in a private chat, the
    unknown-command line; in a group, nothing."""
    chat = update.effective_chat
    if chat is None or chat.type != ChatType.PRIVATE:
        return
    text = update.effective_message.text if update.effective_message else ""
    command = (text or "/").split()[0].split("@")[0]
    view = render.message(prefs.language, "unknown_command", command=echo(command))
    await _reply(update, context, view)


async def feeds(update: Update, context: NewsContext) -> None:
    """/feeds [page]: the feeds with their state and buttons (the bot's admins only)."""
    prefs = await context.preferences(update)
    service = _feeds(update, context)
    if service is None:
        await _not_for_you(update, context, prefs)
        return
    args = list(context.args or [])
    if len(args) > 1 or (args and not (args[0].isascii() and args[0].isdigit())):
        await _reply(update, context, render.message(prefs.language, "usage_feeds"))
        return
    page = await service.page(int(args[0]) if args else 1)
    await _reply(update, context, views.feeds_page(prefs.language, page))


async def addfeed(update: Update, context: NewsContext) -> None:
    """/addfeed <url> [category] [language]: check a feed, add it, ingest its first items."""
    prefs = await context.preferences(update)
    lang = prefs.language
    service = _feeds(update, context)
    if service is None:
        await _not_for_you(update, context, prefs)
        return
    args = list(context.args or [])
    if not args:
        await _reply(update, context, render.message(lang, "usage_addfeed"))
        return
    url, words = args[0], args[1:]
    language = words.pop() if words and _LANGUAGE.fullmatch(words[-1]) else None
    category = " ".join(words) or None
    try:
        result = await service.add_checked(url, category, language=language)
    except DuplicateFeed as exc:
        view = render.message(lang, "feed_duplicate", id=exc.feed_id)
    except FetchError as exc:
        view = _fetch_failed(lang, exc)
    except FeedParseError as exc:
        view = render.message(lang, "feed_not_a_feed", reason=echo(str(exc), 200))
    except FeedError:
        # A bad URL (the only thing to say), else a setting: the usage line.
        if not url.lower().startswith(("http://", "https://")):
            view = render.message(lang, "feed_bad_url", url=echo(url))
        else:
            view = render.message(lang, "usage_addfeed")
    else:
        view = views.added(lang, result)
    await _reply(update, context, view)


def _fetch_failed(language: str, exc: FetchError) -> View:
    if exc.reason == "status" and exc.status is not None:
        return render.message(language, "feed_http_error", status=exc.status)
    if exc.reason in REFUSALS:
        return render.message(language, "feed_refused", reason=echo(str(exc), 200))
    key = "feed_unreachable" if exc.reason in _UNREACHABLE else "feed_not_a_feed"
    return render.message(language, key, reason=echo(str(exc), 200))


async def delfeed(update: Update, context: NewsContext) -> None:
    """/delfeed <id>: remove a feed (its articles stay)."""
    prefs = await context.preferences(update)
    lang = prefs.language
    service = _feeds(update, context)
    if service is None:
        await _not_for_you(update, context, prefs)
        return
    args = list(context.args or [])
    raw = args[0].removeprefix("#") if len(args) == 1 else ""
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        await _reply(update, context, render.message(lang, "usage_delfeed"))
        return
    feed_id = int(raw)
    try:
        feed = await service.remove(feed_id)
    except NotFound:
        view = render.message(lang, "no_feed", id=feed_id)
    except FeedError:
        view = render.message(lang, "feed_config", id=feed_id)
    else:
        view = views.removed(lang, feed)
    await _reply(update, context, view)


COMMAND_HANDLERS = {"feeds": feeds, "addfeed": addfeed, "delfeed": delfeed}


async def act(
    context: NewsContext, query: CallbackQuery, prefs: Preferences, action: FeedAction
) -> str | None:
    """Do what a /feeds button says; the notice to show. A button pressed by someone who is
    not one of the bot's admins (a forwarded list, a group) does nothing but say so."""
    lang = prefs.language
    admin = context.services.admin
    service = context.services.feeds
    if admin is None or service is None or not admin.is_admin(query.from_user.id):
        return plain(lang, "admins_command")
    notice: str | None = None
    match action:
        case FeedAction("p", number):
            await edit(context.bot, query, views.feeds_page(lang, await service.page(number)))
            return None
        case FeedAction("r", feed_id):
            try:
                notice = views.fetch_notice(lang, feed_id, await service.fetch_now(feed_id))
            except FeedError:
                notice = plain(lang, "notice_feed_off", id=feed_id)
        case FeedAction("e", feed_id):
            await service.enable(feed_id)
            notice = plain(lang, "notice_feed_enabled", id=feed_id)
        case FeedAction("d", feed_id):
            await service.disable(feed_id)
            notice = plain(lang, "notice_feed_disabled", id=feed_id)
        case FeedAction("x", feed_id):
            feed = await service.get(feed_id)
            page = await service.page_with(feed_id)
            await edit(context.bot, query, views.remove_confirm(lang, feed, page.number))
            return None
        case FeedAction("X", feed_id):
            try:
                feed = await service.remove(feed_id)
            except FeedError:
                return plain(lang, "notice_admins_only")
            await edit(context.bot, query, views.removed(lang, feed))
            return None
    # The list again, at the page that shows the feed.
    await edit(context.bot, query, views.feeds_page(lang, await service.page_with(action.value)))
    return notice
