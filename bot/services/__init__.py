"""What a user can do, independent of Telegram: each service takes the store and plain values."""

from bot.store import impatient

__all__ = ["impatient"]  # a chat's writes wait less for a store another process holds
