"""newsbot: a Telegram bot that serves news articles, with offline extractive summaries."""

__version__ = "0.1.0"
