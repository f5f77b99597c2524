"""The publisher's format: `/format key=value ...` and the Format page of /settings.

Like the delivery settings, a group's or channel's format is changed by its admins only (in a
private chat, by its user); anyone may look. The Format page previews the next post with the
newest article, drawn by the renderer the sender uses (`render_delivery.post`).
"""

from __future__ import annotations

from telegram import CallbackQuery, Message, Update

from bot.chat import render_delivery as views
from bot.chat.callbacks import Action, FormatPage, SetFormat
from bot.chat.context import NewsContext
from bot.chat.delivery_handlers import _allowed, may_manage
from bot.chat.i18n import plain, t
from bot.chat.render import View
from bot.chat.replies import edit, send
from bot.errors import BadArgument, SummaryError
from bot.services.chats import Preferences
from bot.services.publishing import FormatService, PostFormat, parse_format


def _service(context: NewsContext) -> FormatService:
    service = context.services.publishing
    if service is None:
        raise RuntimeError("the post format is not set up in this application")
    return service


async def format_view(context: NewsContext, prefs: Preferences, fmt: PostFormat) -> View:
    """The Format page with a preview of the next post (the newest article, if any)."""
    articles = context.services.articles
    latest = await articles.latest(size=1)
    sample = latest.articles[0] if latest.articles else None
    sentences: tuple[str, ...] = ()
    count = fmt.sentences(prefs.sentences)
    if sample is not None and count:
        try:
            result = await articles.summary(sample.id, sentences=count, algorithm=prefs.algorithm)
            sentences = tuple(result.sentences)
        except SummaryError:
            pass
    return views.format_page(prefs.language, fmt, prefs.sentences, sample, sentences)


async def format_command(update: Update, context: NewsContext) -> None:
    """/format key=value ...: the chat's post format in one line; without arguments, the
    Format page; a bad argument, the usage line."""
    prefs = await context.preferences(update)
    chat = update.effective_chat
    message = update.effective_message
    assert chat is not None
    service = _service(context)
    text = (message.text or "") if message is not None else ""
    parts = text.split(maxsplit=1)
    arguments = parts[1] if len(parts) > 1 else ""
    if not arguments.strip():
        view = await format_view(context, prefs, await service.format(chat.id))
        await send(context.bot, chat.id, view)
        return
    try:
        # Checked before the admin rights: a typo gets its usage line whoever types it.
        parse_format(arguments)
    except BadArgument:
        await send(context.bot, chat.id, View(t(prefs.language, "usage_format")))
        return
    if not await _allowed(update, context, prefs):
        return
    fmt = await service.change(chat.id, arguments)
    await send(context.bot, chat.id, await format_view(context, prefs, fmt))


async def act(
    context: NewsContext, query: CallbackQuery, prefs: Preferences, action: Action
) -> str | None:
    """The Format page's buttons; the notice to show. Back to the settings redraws them."""
    service = _service(context)
    lang = prefs.language
    match action:
        case FormatPage("f"):
            await edit(
                context.bot,
                query,
                await format_view(context, prefs, await service.format(prefs.chat_id)),
            )
            return None
        case SetFormat(key, value):
            message = query.message
            if message is not None and not await may_manage(
                context, message.chat, query.from_user.id, None
            ):
                return plain(lang, "notice_admins_only")
            fmt = await service.change(prefs.chat_id, f"{key}={value}")
            if _on_format_page(message):
                await edit(context.bot, query, await format_view(context, prefs, fmt))
                return plain(lang, "notice_saved")
            return None  # from /settings (silent posts): the caller redraws them
    raise ValueError(f"unhandled action {action!r}")


def _on_format_page(message: object) -> bool:
    """Whether a button was pressed on the Format page (not on /settings)."""
    return isinstance(message, Message) and (message.text or "").startswith("🖼")


COMMAND_HANDLERS = {"format": format_command}
