"""Sending and editing views, so that an answer is never lost to a formatting problem.

Every message goes out as HTML with link previews off (a list of five articles would otherwise
show the first one's preview). If Telegram still refuses the entities ("can't parse
entities"), the same text goes again as plain text with the same buttons. An edit that changes
nothing is not an error for the reader, and an edit of a message that can no longer be edited
becomes a new message.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import (
    Bot,
    CallbackQuery,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    MaybeInaccessibleMessage,
    Message,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.chat.keyboards import markup, markup_json
from bot.chat.render import Row, View
from bot.chat.render_delivery import MAX_CAPTION, caption_len
from bot.text import html_to_text

log = logging.getLogger(__name__)

NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
# In the plain-text fallback a link keeps its address, after its text.
PLAIN_LINK = " ({href})"


# What Telegram answers (400) when it cannot use a photo's URL: it could not download it, it
# is not an image, or the image is one Telegram does not take.
PICTURE_REFUSED = (
    "failed to get http url content",
    "wrong type of the web page content",
    "wrong file identifier/http url specified",
    "wrong remote file identifier",
    "image_process_failed",
    "photo_invalid_dimensions",
    "photo_save_file_invalid",
    "photo_ext_invalid",
    "file must be non-empty",
)


def picture_refused(message: str) -> bool:
    """Whether a refusal from Telegram is about the picture of a sendPhoto."""
    lowered = message.lower()
    return any(marker in lowered for marker in PICTURE_REFUSED)


def _bad_entities(exc: BadRequest) -> bool:
    return "can't parse entities" in exc.message.lower()


def _not_modified(exc: BadRequest) -> bool:
    return "message is not modified" in exc.message.lower()


def topic_of(message: MaybeInaccessibleMessage | None) -> int | None:
    """The forum topic a message is in (`message_thread_id`), None outside topics: an answer
    goes to the topic the command or button came from. A reply thread in a group without
    topics also has a thread id, which is no place to send to: only a topic message counts."""
    if isinstance(message, Message) and message.is_topic_message:
        return message.message_thread_id
    return None


async def send(bot: Bot, chat_id: int, view: View, *, thread_id: int | None = None) -> None:
    """Send `view` to the chat (in forum topic `thread_id`), as plain text if Telegram
    refuses its HTML."""
    keyboard = _keyboard(view)

    async def attempt(text: str, parse_mode: str | None) -> None:
        await bot.send_message(
            chat_id,
            text,
            parse_mode=parse_mode,
            link_preview_options=NO_PREVIEW,
            message_thread_id=thread_id,
            api_kwargs=keyboard,
        )

    await plain_if_refused(attempt, view.text)


async def plain_if_refused(
    attempt: Callable[[str, str | None], Awaitable[object]],
    html: str,
    *,
    links: str | None = PLAIN_LINK,
) -> None:
    """`attempt(html, "HTML")`; if Telegram refuses the HTML ("can't parse entities"),
    `attempt` again with its plain text (a link's address after its text, as `links` says;
    None for a caption, which keeps its length)."""
    try:
        await attempt(html, ParseMode.HTML)
    except BadRequest as exc:
        if not _bad_entities(exc):
            raise
        log.warning("Telegram refused the HTML (%s); sending plain text", exc.message)
        await attempt(html_to_text(html, links=links), None)


async def send_post(
    bot: Bot,
    chat_id: int,
    view: View,
    *,
    photo: str | None = None,
    preview: str | None = None,
    silent: bool = False,
    thread_id: int | None = None,
) -> None:
    """Send a pushed article (or an answer with a picture): with `photo`, that picture with
    `view` as its caption (sendPhoto); else `view` as text under a large preview of the page
    at `preview` (None: previews off). `silent` sends it without a notification; `thread_id`
    to that forum topic. Refused HTML goes again as plain text, as `send` does; a refused
    picture is the caller's to handle (`BadRequest`, see `bot.chat.outbox`)."""
    keyboard = _keyboard(view)
    if photo is None and preview is None and not silent:
        await send(bot, chat_id, view, thread_id=thread_id)
        return
    options = (
        LinkPreviewOptions(url=preview, prefer_large_media=True, show_above_text=True)
        if preview
        else NO_PREVIEW
    )

    async def attempt(text: str, parse_mode: str | None) -> None:
        if photo is not None:
            await bot.send_photo(
                chat_id,
                photo,
                caption=text,
                parse_mode=parse_mode,
                disable_notification=silent,
                message_thread_id=thread_id,
                api_kwargs=keyboard,
            )
            return
        await bot.send_message(
            chat_id,
            text,
            parse_mode=parse_mode,
            link_preview_options=options,
            disable_notification=silent,
            message_thread_id=thread_id,
            api_kwargs=keyboard,
        )

    # A caption keeps its length: a link's address would push it past 1,024.
    await plain_if_refused(attempt, view.text, links=None if photo else PLAIN_LINK)


def post_parameters(
    text: str,
    parse_mode: str | None,
    rows: tuple[Row, ...],
    *,
    photo: str | None = None,
    preview: str | None = None,
    silent: bool = False,
    thread_id: int | None = None,
) -> tuple[str, dict[str, Any]]:
    """The Bot API method and parameters, all but `chat_id`, that `send_post` has PTB send
    for the same post: for a sender that encodes its requests itself
    (`bot.chat.outbox.SenderBot.push`). A test checks that the two send the same."""
    params: dict[str, Any] = {}
    if photo is not None:
        method = "sendPhoto"
        params["photo"] = photo
        params["caption"] = text
    else:
        method = "sendMessage"
        params["text"] = text
        params["link_preview_options"] = (
            {"url": preview, "prefer_large_media": True, "show_above_text": True}
            if preview
            else {"is_disabled": True}
        )
    if parse_mode is not None:
        params["parse_mode"] = parse_mode
    if photo is not None or preview is not None or silent:  # else `send`, which omits it
        params["disable_notification"] = silent
    if thread_id is not None:
        params["message_thread_id"] = thread_id
    keyboard = markup_json(rows)
    if keyboard is not None:
        params["reply_markup"] = keyboard
    return method, params


def _keyboard(view: View) -> dict[str, Any] | None:
    """The view's buttons as a send's `api_kwargs`: the keyboard's JSON, converted once for
    every message that shows it (`markup_json`) rather than by PTB for each."""
    keyboard = markup_json(view.rows)
    return {"reply_markup": keyboard} if keyboard is not None else None


async def edit(bot: Bot, query: CallbackQuery, view: View) -> None:
    """Replace the message of the pressed button with `view` (a new message if it is gone)."""
    message = query.message
    if isinstance(message, Message) and message.photo and await _edit_caption(bot, message, view):
        return
    if not _editable(message):
        if message is not None:
            await send(bot, message.chat.id, view, thread_id=topic_of(message))
        return
    assert message is not None
    keyboard = markup(view.rows)
    try:
        await _edit(bot, message, view.text, ParseMode.HTML, keyboard)
    except BadRequest as exc:
        if _not_modified(exc):
            return
        if _bad_entities(exc):
            log.warning("Telegram refused the HTML (%s); editing as plain text", exc.message)
            try:
                await _edit(bot, message, html_to_text(view.text, links=PLAIN_LINK), None, keyboard)
            except BadRequest as again:
                if not _not_modified(again):
                    raise
            return
        log.info("cannot edit message %s (%s); sending a new one", message.message_id, exc)
        await send(bot, message.chat.id, view, thread_id=topic_of(message))


async def _edit_caption(bot: Bot, message: Message, view: View) -> bool:
    """Replace a photo message's caption and buttons with `view`; False when the view is
    too long for a caption (the caller sends a new message instead)."""
    if caption_len(view.text) > MAX_CAPTION:
        return False
    try:
        await bot.edit_message_caption(
            chat_id=message.chat.id,
            message_id=message.message_id,
            caption=view.text,
            parse_mode=ParseMode.HTML,
            reply_markup=markup(view.rows),
        )
    except BadRequest as exc:
        if not _not_modified(exc):
            raise
    return True


def _editable(message: MaybeInaccessibleMessage | None) -> bool:
    """A message we can edit: accessible (not older than 48 hours) and a text message."""
    return isinstance(message, Message) and message.text is not None


async def _edit(
    bot: Bot,
    message: MaybeInaccessibleMessage,
    text: str,
    parse_mode: str | None,
    keyboard: InlineKeyboardMarkup | None,
) -> None:
    await bot.edit_message_text(
        text,
        chat_id=message.chat.id,
        message_id=message.message_id,
        parse_mode=parse_mode,
        reply_markup=keyboard,
        link_preview_options=NO_PREVIEW,
    )
