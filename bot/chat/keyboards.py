"""Turning a view's buttons into Telegram's inline keyboard, and back (for the shell).

Layouts are decided by the views in `render`; this module only converts, so the same rows
reach Telegram, the shell and the tests.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.chat.callbacks import encode
from bot.chat.render import Row


@lru_cache(maxsize=1024)
def markup(rows: tuple[Row, ...]) -> InlineKeyboardMarkup | None:
    """The inline keyboard for `rows`, or None when the view has no buttons.

    Cached: the same pages and summaries are shown to many readers, rows are immutable values
    and PTB's markup objects are frozen, so one object can serve every identical keyboard.
    """
    keyboard = [
        [
            InlineKeyboardButton(button.label, url=button.url)
            if button.url
            else InlineKeyboardButton(
                button.label, callback_data=encode(button.action) if button.action else None
            )
            for button in row
        ]
        for row in rows
        if row
    ]
    return InlineKeyboardMarkup(keyboard) if keyboard else None


@lru_cache(maxsize=1024)
def markup_json(rows: tuple[Row, ...]) -> dict[str, Any] | None:
    """`markup(rows)` as the JSON the Bot API takes, for a send to pass as it is (`api_kwargs`):
    PTB converts a markup object again for every message it sends (`to_dict` of the keyboard
    and of each button), a fifth of the sender's time per message at 1,000 messages/s. Cached
    like `markup`: read it, never change it."""
    keyboard = markup(rows)
    return keyboard.to_dict() if keyboard is not None else None
