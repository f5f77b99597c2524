"""Telegram handlers: read the arguments, ask a service, answer with a view.

Handlers stay thin: a usage mistake is answered on the spot in the chat's language, the work is
a service call, and the answer is a view from `render` sent through `replies` (which falls back
to plain text if Telegram refuses the HTML). Anything unexpected goes to `on_error`, which logs
it with the update and tells the user without internals; the bot keeps running.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    CallbackQuery,
    InlineQueryResultArticle,
    InputTextMessageContent,
    MessageEntity,
    Update,
)
from telegram.constants import ChatAction, ParseMode
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.ext import (
    CallbackQueryHandler,
    ChatMemberHandler,
    ChosenInlineResultHandler,
    CommandHandler,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot import metrics
from bot.chat import delivery_handlers, feed_handlers, format_handlers, render
from bot.chat import render_delivery as delivery_views
from bot.chat.callbacks import (
    Action,
    FeedAction,
    FormatPage,
    OpenCategory,
    OpenFullText,
    OpenSummary,
    OpenView,
    SetDelivery,
    SetFormat,
    SetLanguage,
    SetOption,
    ShowDigest,
    ShowFullText,
    ShowLatest,
    ShowSearch,
    ShowSummary,
    Subscribe,
    Unsubscribe,
    decode,
)
from bot.chat.context import NewsApplication, NewsContext
from bot.chat.i18n import COMMANDS, plain
from bot.chat.keyboards import markup
from bot.chat.render import View
from bot.chat.replies import NO_PREVIEW, edit, picture_refused, send, send_post, topic_of
from bot.errors import (
    LinkError,
    LinksDisabled,
    NotFound,
    RateLimited,
    StaleButton,
    StoreBusy,
    SummaryError,
    UnknownCategory,
    UserInputError,
)
from bot.models import INTERFACE_LANGUAGES
from bot.services.articles import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, MAX_SUMMARY_SENTENCES
from bot.services.chats import Preferences, language_for
from bot.services.links import find_url
from bot.summarize import ALGORITHMS

log = logging.getLogger(__name__)

Handler = Callable[[Update, NewsContext], Coroutine[Any, Any, None]]

_INT = re.compile(r"[+-]?\d{1,19}")
_DEEP_LINK = re.compile(r"art_(\d{1,12})")
# A search typed as a message is cut here: longer text is a pasted article, not a query.
MAX_QUERY = 200
# The update types the handlers below handle: what the bot asks Telegram for.
UPDATE_TYPES = [
    Update.MESSAGE,
    Update.CHANNEL_POST,
    Update.CALLBACK_QUERY,
    Update.MY_CHAT_MEMBER,
    Update.INLINE_QUERY,
    Update.CHOSEN_INLINE_RESULT,
]


# -- commands ---------------------------------------------------------------------------------


async def start(update: Update, context: NewsContext) -> None:
    """Welcome the user, or open the article of a deep link (t.me/<bot>?start=art_42)."""
    prefs = await context.preferences(update)
    match = _DEEP_LINK.fullmatch(context.args[0]) if context.args else None
    if match:
        try:
            view = await _summary(context, prefs, int(match[1]), 0)
        except NotFound:
            view = render.message(prefs.language, "article_not_found", id=match[1])
        await _reply(update, context, view)
        return
    await _reply(update, context, render.welcome(prefs.language, context.bot.first_name))
    chat = update.effective_chat
    if chat is not None and chat.type == "private" and _is_admin(update, context):
        # An admin who had never started the bot got no menu of their own at start-up
        # (Telegram knew no such chat): now it does.
        await _publish_admin_menu(context.bot, chat.id)


def _is_admin(update: Update, context: NewsContext) -> bool:
    """Whether the update comes from one of the bot's admins (`telegram.admins`)."""
    user = update.effective_user
    admin = context.services.admin
    return admin is not None and admin.is_admin(user.id if user else None)


async def help_command(update: Update, context: NewsContext) -> None:
    """List every command with an example."""
    prefs = await context.preferences(update)
    view = render.help_view(prefs.language, context.bot.username, admin=_is_admin(update, context))
    await _reply(update, context, view)


async def latest(update: Update, context: NewsContext) -> None:
    """Show the latest articles, overall or in a category: /latest [category] [n]."""
    prefs = await context.preferences(update)
    category, size = parse_latest(context.args or [])
    if not 1 <= size <= MAX_PAGE_SIZE:
        await _reply(
            update, context, render.message(prefs.language, "bad_count", max=MAX_PAGE_SIZE)
        )
        return
    await _reply(update, context, await _latest(context, prefs, category=category, size=size))


async def categories(update: Update, context: NewsContext) -> None:
    """List the categories with their article counts, each with a button."""
    prefs = await context.preferences(update)
    await _reply(update, context, await _categories(context, prefs))


async def summary(update: Update, context: NewsContext) -> None:
    """Show an article's summary: /summary <id> [sentences]."""
    prefs = await context.preferences(update)
    args = context.args or []
    article_id = parse_id(args[0]) if args else None
    sentences = parse_int(args[1]) if len(args) > 1 else 0
    if article_id is None or sentences is None or len(args) > 2:
        await _reply(update, context, render.message(prefs.language, "usage_summary"))
        return
    if len(args) > 1 and not 1 <= sentences <= MAX_SUMMARY_SENTENCES:
        view = render.message(
            prefs.language, "bad_sentences", max=MAX_SUMMARY_SENTENCES, id=article_id
        )
        await _reply(update, context, view)
        return
    try:
        view = await _summary(context, prefs, article_id, sentences)
    except NotFound:
        view = render.message(prefs.language, "article_not_found", id=args[0].lstrip("#"))
        await _reply(update, context, view)
        return
    chat = update.effective_chat
    assert chat is not None
    topic = topic_of(update.effective_message)
    await _send_with_picture(context, chat.id, article_id, view, topic)


async def _send_with_picture(
    context: NewsContext, chat_id: int, article_id: int, view: View, thread_id: int | None
) -> None:
    """Send `view` (to forum topic `thread_id`) with the article's picture, the view as its
    caption, when the article has one, the chat takes pictures and the view fits a caption;
    else as text. A picture Telegram refuses is dropped from the article and the answer goes
    as text."""
    article = await context.services.articles.article(article_id)
    photo = render.safe_url(article.image)
    publishing = context.services.publishing
    if (
        photo is not None
        and publishing is not None
        and delivery_views.caption_len(view.text) <= delivery_views.MAX_CAPTION
        and (await publishing.format(chat_id)).picture == "photo"
    ):
        try:
            await send_post(context.bot, chat_id, view, photo=photo, thread_id=thread_id)
            return
        except BadRequest as exc:
            if not picture_refused(exc.message):
                raise
            log.info("Telegram refused the picture of article %s: %s", article_id, exc.message)
            if context.services.subscriptions is not None:
                await context.services.subscriptions.picture_refused(article_id, photo)
    await send(context.bot, chat_id, view, thread_id=thread_id)


async def full(update: Update, context: NewsContext) -> None:
    """Show an article's full text, page by page: /full <id> [page]."""
    prefs = await context.preferences(update)
    args = context.args or []
    article_id = parse_id(args[0]) if args else None
    page = parse_int(args[1]) if len(args) > 1 else 1
    if article_id is None or page is None or len(args) > 2:
        await _reply(update, context, render.message(prefs.language, "usage_full"))
        return
    try:
        view = await _full_text(context, prefs, article_id, page)
    except NotFound:
        view = render.message(prefs.language, "article_not_found", id=args[0].lstrip("#"))
    await _reply(update, context, view)


async def search(update: Update, context: NewsContext) -> None:
    """Search the articles: /search <words>."""
    prefs = await context.preferences(update)
    await _reply(update, context, await _search(context, prefs, " ".join(context.args or [])))


async def text_search(update: Update, context: NewsContext) -> None:
    """Treat a plain message (in a private chat) as a search."""
    prefs = await context.preferences(update)
    text = update.effective_message.text if update.effective_message else None
    await _reply(update, context, await _search(context, prefs, text or ""))


async def summarize_link(update: Update, context: NewsContext) -> None:
    """Fetch a web page and summarize it: /summarize <url> [sentences]."""
    prefs = await context.preferences(update)
    args = context.args or []
    sentences = parse_int(args[1]) if len(args) > 1 else 0
    if (
        not args
        or len(args) > 2
        or sentences is None
        or (len(args) > 1 and not 1 <= sentences <= MAX_SUMMARY_SENTENCES)
    ):
        await _reply(update, context, render.message(prefs.language, "usage_summarize"))
        return
    await _reply(update, context, await _link_summary(update, context, prefs, args[0], sentences))


async def link_message(update: Update, context: NewsContext) -> None:
    """Summarize the page of a link sent as a message (in a private chat)."""
    prefs = await context.preferences(update)
    message = update.effective_message
    assert message is not None
    text = message.text or ""
    marked = message.parse_entities([MessageEntity.URL, MessageEntity.TEXT_LINK])
    candidates = [entity.url or value for entity, value in marked.items()]
    url = find_url(text, candidates)
    if url is None:  # the filter saw "http://" but no usable URL: a search after all
        await _reply(update, context, await _search(context, prefs, text))
        return
    await _reply(update, context, await _link_summary(update, context, prefs, url, 0))


async def _link_summary(
    update: Update, context: NewsContext, prefs: Preferences, url: str, sentences: int
) -> View:
    """The summary of the page at `url`, or a line saying why there is none."""
    lang = prefs.language
    links = context.services.links
    if links is None:
        return render.message(lang, "links_disabled")
    user = update.effective_user
    chat = update.effective_chat
    requester = user.id if user else chat.id if chat else 0
    if chat is not None and links.enabled:  # no page to wait for when links are off
        with contextlib.suppress(TelegramError):  # only a courtesy while the page loads
            await context.bot.send_chat_action(
                chat.id, ChatAction.TYPING, message_thread_id=topic_of(update.effective_message)
            )
    try:
        article = await links.article(url, requester)
        context.services.articles.updated(article)
    except LinksDisabled:
        return render.message(lang, "links_disabled")
    except RateLimited as exc:
        return render.message(lang, "link_rate_limited", seconds=exc.retry_after)
    except LinkError as exc:
        log.info("link from %s not summarized: %s", requester, exc)
        return render.link_error(lang, exc.reason, links.config, exc.status)
    try:
        return await _summary(context, prefs, article.id, sentences)
    except NotFound:
        return render.message(lang, "link_bad_response")


# -- inline mode ------------------------------------------------------------------------------


async def inline_query(update: Update, context: NewsContext) -> None:
    """Offer articles to share in any chat: `@bot words` searches, `@bot` alone the latest."""
    query = update.inline_query
    assert query is not None
    sharing = context.services.sharing
    if sharing is None:
        await query.answer([], cache_time=0)
        return
    known = context.services.chats.cached(query.from_user.id)
    lang = known.language if known else language_for(query.from_user.language_code)
    page = await sharing.page(query.query, query.offset)
    username = context.bot.username
    results = []
    for item in page.items:
        shared = render.inline_article(lang, item, username)
        results.append(
            InlineQueryResultArticle(
                id=shared.id,
                title=shared.title,
                description=shared.description,
                input_message_content=InputTextMessageContent(
                    shared.text, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW
                ),
                reply_markup=markup(shared.rows),
            )
        )
    await query.answer(
        results,
        cache_time=int(sharing.ttl),
        is_personal=True,  # labels and dates are in the user's language
        next_offset=page.next_offset,
    )


async def chosen_inline_result(update: Update, context: NewsContext) -> None:
    """Note which article was shared (Telegram sends this only with /setinlinefeedback on)."""
    chosen = update.chosen_inline_result
    if chosen is not None:
        log.info("article %s shared inline by %s", chosen.result_id, chosen.from_user.id)


async def settings(update: Update, context: NewsContext) -> None:
    """Show the settings with buttons: summary length, algorithm, language."""
    prefs = await context.preferences(update)
    await _reply(update, context, await _settings(context, prefs))


async def language(update: Update, context: NewsContext) -> None:
    """Set the interface language: /language fr|en (buttons without an argument)."""
    prefs = await context.preferences(update)
    args = context.args or []
    if not args:
        await _reply(update, context, render.language_choice(prefs.language))
        return
    choice = args[0].lower()
    if len(args) > 1 or choice not in INTERFACE_LANGUAGES:
        await _reply(update, context, render.message(prefs.language, "usage_language"))
        return
    prefs = await context.services.chats.set_language(prefs.chat_id, choice)
    await _reply(update, context, render.message(prefs.language, "language_set"))


async def unknown_command(update: Update, context: NewsContext) -> None:
    """Answer a command we do not have (private chats only) with a pointer to /help."""
    prefs = await context.preferences(update)
    text = update.effective_message.text if update.effective_message else ""
    command = (text or "").split()[0].split("@")[0] if text else "/"
    view = render.message(prefs.language, "unknown_command", command=render.echo(command))
    await _reply(update, context, view)


# -- buttons ----------------------------------------------------------------------------------


async def button(update: Update, context: NewsContext) -> None:
    """Run the action of a pressed button and answer the callback query."""
    query = update.callback_query
    assert query is not None
    prefs = await context.preferences(update)
    try:
        action = decode(query.data)
    except StaleButton:
        await query.answer(plain(prefs.language, "notice_expired"), show_alert=True)
        return
    try:
        notice = await _act(context, query, prefs, action)
    except NotFound:
        await query.answer(plain(prefs.language, _gone(action)), show_alert=True)
        return
    except UserInputError:  # a value this version no longer offers: a page size, a length...
        await query.answer(plain(prefs.language, "notice_expired"), show_alert=True)
        return
    await query.answer(notice)


def _gone(action: Action) -> str:
    """The notice for a button whose target no longer exists: a category, a digest message or
    an article."""
    if isinstance(action, OpenCategory | ShowLatest | Subscribe | Unsubscribe):
        return "notice_category_gone"
    if isinstance(action, ShowDigest):
        return "notice_digest_gone"
    return "notice_gone"


async def _act(
    context: NewsContext, query: CallbackQuery, prefs: Preferences, action: Action
) -> str | None:
    """Do what the button says; the notice to show (None for none)."""
    articles = context.services.articles
    chats = context.services.chats
    lang = prefs.language
    match action:
        case ShowLatest(offset, size, category_id):
            page = await articles.latest(category_id=category_id, size=size, offset=offset)
            if not page.articles:
                return plain(lang, "notice_no_more")
            await edit(context.bot, query, render.article_list(lang, page))
        case ShowSearch(words, offset, size):
            page = await articles.search(words, size=size, offset=offset)
            if not page.articles:
                return plain(lang, "notice_no_more")
            await edit(context.bot, query, render.article_list(lang, page))
        case OpenCategory(category_id):
            await _send_to(context, query, await _latest(context, prefs, category_id=category_id))
        case OpenSummary(article_id):
            message = query.message
            chat_id = message.chat.id if message is not None else query.from_user.id
            view = await _summary(context, prefs, article_id, 0)
            await _send_with_picture(context, chat_id, article_id, view, topic_of(message))
        case ShowSummary(article_id, sentences):
            await edit(context.bot, query, await _summary(context, prefs, article_id, sentences))
        case OpenFullText(article_id):
            await _send_to(context, query, await _full_text(context, prefs, article_id, 1))
        case ShowFullText(article_id, page_number):
            await edit(
                context.bot, query, await _full_text(context, prefs, article_id, page_number)
            )
        case SetOption("n", value):
            prefs = await chats.set_sentences(prefs.chat_id, int(value))
            return await _show_settings(context, query, prefs)
        case SetOption("a", value):
            prefs = await chats.set_algorithm(prefs.chat_id, value)
            return await _show_settings(context, query, prefs)
        case SetOption("l", value):
            prefs = await chats.set_language(prefs.chat_id, value)
            return await _show_settings(context, query, prefs)
        case SetLanguage(code):
            prefs = await chats.set_language(prefs.chat_id, code)
            await edit(context.bot, query, render.message(prefs.language, "language_set"))
            return plain(prefs.language, "notice_saved")
        case OpenView("latest"):
            await _send_to(context, query, await _latest(context, prefs))
        case OpenView("categories"):
            await _send_to(context, query, await _categories(context, prefs))
        case OpenView("settings"):
            await _send_to(context, query, await _settings(context, prefs))
        case Subscribe() | Unsubscribe() | ShowDigest():
            return await delivery_handlers.act(context, query, prefs, action)
        case SetDelivery():
            refused = await delivery_handlers.act(context, query, prefs, action)
            return refused or await _show_settings(context, query, prefs)
        case FormatPage("s"):
            await edit(context.bot, query, await _settings(context, prefs))
        case FormatPage() | SetFormat():
            notice = await format_handlers.act(context, query, prefs, action)
            return notice or await _show_settings(context, query, prefs)
        case FeedAction():
            return await feed_handlers.act(context, query, prefs, action)
        case _:
            raise ValueError(f"unhandled action {action!r}")
    return None


async def _show_settings(context: NewsContext, query: CallbackQuery, prefs: Preferences) -> str:
    await edit(context.bot, query, await _settings(context, prefs))
    return plain(prefs.language, "notice_saved")


async def _settings(context: NewsContext, prefs: Preferences) -> View:
    """/settings: summaries and language, then how subscriptions are delivered."""
    view = render.settings(prefs.language, prefs, ALGORITHMS)
    service = context.services.subscriptions
    if service is None:
        return view
    view = delivery_views.with_delivery(prefs.language, view, await service.settings(prefs.chat_id))
    publishing = context.services.publishing
    if publishing is None:
        return view
    # Silent posts sit next to quiet hours; the Format page holds the rest of the format.
    fmt = await publishing.format(prefs.chat_id)
    rows = (
        delivery_views.silent_row(prefs.language, fmt),
        delivery_views.format_button(prefs.language),
    )
    return View(view.text, (*view.rows, *rows))


async def _categories(context: NewsContext, prefs: Preferences) -> View:
    """/categories with a Subscribe (or Unsubscribe) button per category."""
    found = await context.services.articles.categories()
    service = context.services.subscriptions
    if service is None:
        return render.categories(prefs.language, found)
    subs = await service.subscriptions(prefs.chat_id)
    subscribed = {sub.category_id for sub in subs if sub.category_id is not None}
    return delivery_views.categories(prefs.language, found, subscribed)


# -- views shared by commands and buttons -----------------------------------------------------


async def _latest(
    context: NewsContext,
    prefs: Preferences,
    *,
    category: str | None = None,
    category_id: int | None = None,
    size: int = DEFAULT_PAGE_SIZE,
) -> View:
    try:
        page = await context.services.articles.latest(
            category=category, category_id=category_id, size=size
        )
    except UnknownCategory as exc:
        return render.unknown_category(prefs.language, exc.name, exc.suggestions)
    if not page.articles:
        return render.empty_list(prefs.language, page)
    return render.article_list(prefs.language, page)


async def _search(context: NewsContext, prefs: Preferences, text: str) -> View:
    query = " ".join(text.split())[:MAX_QUERY]
    if not query:
        return render.message(prefs.language, "usage_search")
    page = await context.services.articles.search(query)
    if not page.articles:
        return render.empty_list(prefs.language, page)
    return render.article_list(prefs.language, page)


async def _summary(
    context: NewsContext, prefs: Preferences, article_id: int, sentences: int
) -> View:
    """The summary view (`sentences` 0: the chat's length); NotFound for a missing article."""
    articles = context.services.articles
    try:
        result = await articles.summary(
            article_id, sentences=sentences or prefs.sentences, algorithm=prefs.algorithm
        )
    except SummaryError:
        return render.no_summary(prefs.language, await articles.article(article_id))
    return render.summary(prefs.language, result)


async def _full_text(context: NewsContext, prefs: Preferences, article_id: int, page: int) -> View:
    lang = prefs.language
    text_page = await context.services.articles.full_text(
        article_id,
        page,
        budget=lambda article: render.full_text_budget(lang, article),
        measure=render.html_len,
    )
    return render.full_text(lang, text_page)


async def _reply(update: Update, context: NewsContext, view: View) -> None:
    """The answer to a message, in its chat and forum topic."""
    chat = update.effective_chat
    assert chat is not None
    await send(context.bot, chat.id, view, thread_id=topic_of(update.effective_message))


async def _send_to(context: NewsContext, query: CallbackQuery, view: View) -> None:
    """A new message in the chat (and forum topic) of the pressed button."""
    message = query.message
    chat_id = message.chat.id if message is not None else query.from_user.id
    await send(context.bot, chat_id, view, thread_id=topic_of(message))


# -- argument parsing -------------------------------------------------------------------------


def parse_int(text: str) -> int | None:
    """A signed decimal integer as users type it, or None."""
    return int(text) if _INT.fullmatch(text) else None


def parse_id(text: str) -> int | None:
    """An article number as shown ("42" or "#42"), or None."""
    return parse_int(text.removeprefix("#"))


def parse_latest(args: Sequence[str]) -> tuple[str | None, int]:
    """/latest's arguments: an optional category (may be several words) and an optional count,
    before or after it."""
    words = list(args)
    size = DEFAULT_PAGE_SIZE
    if words and (n := parse_int(words[-1])) is not None:
        size = n
        words.pop()
    elif len(words) > 1 and (n := parse_int(words[0])) is not None:
        size = n
        words.pop(0)
    return (" ".join(words) or None), size


# -- errors -----------------------------------------------------------------------------------


async def on_error(update: object, context: NewsContext) -> None:
    """Log the failure with its update; tell the user, without internals, that it failed."""
    error = context.error
    metrics.update_failed(_failure_kind(error))
    if isinstance(error, Forbidden):
        log.info("the user blocked the bot or left the chat: %s", error)
        return
    busy = isinstance(error, StoreBusy)
    if busy:  # another process holds the store: not a bug, one line and "try again"
        where = (
            update.effective_chat.id
            if isinstance(update, Update) and update.effective_chat
            else "?"
        )
        log.warning("chat %s told to try again: %s", where, error)
    else:
        described = update.to_dict() if isinstance(update, Update) else repr(update)
        log.error("error while handling update %s", described, exc_info=error)
    if not isinstance(update, Update):
        return
    try:
        await _apologize(update, context, busy)
    except Exception as exc:  # the error reply is best effort: never raise from here
        log.warning("could not tell the user about the error: %r", exc)


def _failure_kind(error: object) -> str:
    """How `bot.metrics` counts a failed update: blocked, busy or error."""
    if isinstance(error, Forbidden):
        return "blocked"
    return "busy" if isinstance(error, StoreBusy) else "error"


async def _apologize(update: Update, context: NewsContext, busy: bool = False) -> None:
    chat = update.effective_chat
    user = update.effective_user
    services = context.bot_data.services
    known = services.chats.cached(chat.id) if services and chat else None
    lang = known.language if known else language_for(user.language_code if user else None)
    if update.callback_query is not None:
        try:
            notice = plain(lang, "notice_busy" if busy else "notice_error")
            await update.callback_query.answer(notice, show_alert=True)
        except TelegramError:
            pass  # already answered: the message below still tells the user
        else:
            return
    if chat is not None:
        view = render.message(lang, "busy" if busy else "error")
        await send(context.bot, chat.id, view, thread_id=topic_of(update.effective_message))


# -- registration -----------------------------------------------------------------------------

COMMAND_HANDLERS: dict[str, Handler] = {
    "start": start,
    "help": help_command,
    "latest": latest,
    "categories": categories,
    "summary": summary,
    "full": full,
    "search": search,
    "summarize": summarize_link,
    "settings": settings,
    "language": language,
}


# Every command name the bot handles, as `register` found them on the application: what
# `update_command` may count by name.
_COMMAND_NAMES: set[str] = set()


def update_command(update: object) -> str:
    """What an update asks for, as `bot.metrics` counts it: a handled command's name
    ("latest"), "unknown_command", or the kind of update ("message", "button",
    "inline_query", "chosen_inline_result", "my_chat_member", "other"): a bounded set, whatever
    users type."""
    if not isinstance(update, Update):
        return "other"
    message = update.message or update.channel_post
    if message is not None:
        text = message.text or ""
        if not text.startswith("/"):
            return "message"
        words = text[1:].split(maxsplit=1)
        name = words[0].partition("@")[0].lower() if words else ""
        return name if name in _COMMAND_NAMES else "unknown_command"
    if update.callback_query is not None:
        return "button"
    if update.inline_query is not None:
        return "inline_query"
    if update.chosen_inline_result is not None:
        return "chosen_inline_result"
    if update.my_chat_member is not None:
        return "my_chat_member"
    return "other"


def register(application: NewsApplication) -> None:
    """Add every handler and the error handler to `application`."""
    new_messages = filters.UpdateType.MESSAGE
    # Commands posted in a channel the bot is an admin of arrive as channel posts: the
    # channel's admins run it (subscriptions, settings) like any chat.
    commands = new_messages | filters.UpdateType.CHANNEL_POST
    every = {
        **COMMAND_HANDLERS,
        **delivery_handlers.COMMAND_HANDLERS,
        **feed_handlers.COMMAND_HANDLERS,
        **format_handlers.COMMAND_HANDLERS,
    }
    for name, callback in every.items():
        application.add_handler(CommandHandler(name, callback, filters=commands))
    private = new_messages & filters.ChatType.PRIVATE
    has_link = (
        filters.Entity(MessageEntity.URL)
        | filters.Entity(MessageEntity.TEXT_LINK)
        | filters.Regex(re.compile(r"https?://", re.IGNORECASE))
    )
    text = private & filters.TEXT & ~filters.COMMAND
    application.add_handler(MessageHandler(text & has_link, link_message))
    application.add_handler(MessageHandler(text, text_search))
    application.add_handler(MessageHandler(private & filters.COMMAND, unknown_command))
    application.add_handler(CallbackQueryHandler(button))
    application.add_handler(
        ChatMemberHandler(delivery_handlers.membership, ChatMemberHandler.MY_CHAT_MEMBER)
    )
    application.add_handler(InlineQueryHandler(inline_query))
    application.add_handler(ChosenInlineResultHandler(chosen_inline_result))
    application.add_error_handler(on_error)
    _COMMAND_NAMES.update(
        command
        for handlers in application.handlers.values()
        for handler in handlers
        if isinstance(handler, CommandHandler)
        for command in handler.commands
    )


def bot_commands(language: str, *, admin: bool = False) -> list[BotCommand]:
    """The command menu in `language`; the admins' commands only in an admin's menu."""
    return [BotCommand(doc.name, doc.menu) for doc in COMMANDS[language] if admin or not doc.admin]


async def publish_commands(application: NewsApplication, admins: Iterable[int] = ()) -> None:
    """Set the command menu: English by default, French for users whose Telegram is French;
    each of the bot's admins gets a menu of their own (scope: their private chat) that adds
    the admins' commands. Telegram refuses that scope for an admin who never started the bot
    ("chat not found"): that admin is named in the log and the others still get theirs."""
    bot = application.bot
    await bot.set_my_commands(bot_commands("en"))
    await bot.set_my_commands(bot_commands("fr"), language_code="fr")
    for user_id in sorted(set(admins)):
        await _publish_admin_menu(bot, user_id)


async def _publish_admin_menu(bot: Bot, user_id: int) -> None:
    """The admins' menu in `user_id`'s private chat, in both languages."""
    scope = BotCommandScopeChat(user_id)
    try:
        await bot.set_my_commands(bot_commands("en", admin=True), scope=scope)
        await bot.set_my_commands(bot_commands("fr", admin=True), scope=scope, language_code="fr")
    except BadRequest as exc:
        log.warning(
            "admin %s gets the common command menu until they /start the bot: %s",
            user_id,
            exc.message,
        )
