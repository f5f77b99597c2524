"""Logging set-up that never lets a secret (the bot token) reach a log line.

httpx and python-telegram-bot log request URLs, and Telegram puts the token in the URL
(`/bot<token>/getUpdates`), so the redaction sits on the handler: whatever logger emits the
record, the text written is scrubbed.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable


class RedactingFormatter(logging.Formatter):
    """A formatter that replaces each secret with `***` in the final text, tracebacks included."""

    def __init__(self, fmt: str, secrets: Iterable[str]) -> None:
        super().__init__(fmt)
        self.secrets = [s for s in secrets if s]

    def format(self, record: logging.LogRecord) -> str:
        message = super().format(record)
        for secret in self.secrets:
            message = message.replace(secret, "***")
        return message


def setup_logging(verbosity: int = 0, secrets: Iterable[str] = ()) -> None:
    """Log to stderr: warnings by default, info with -v, debug with -vv."""
    level = logging.WARNING - 10 * min(verbosity, 2)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", secrets)
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request at INFO; only worth seeing when debugging.
    logging.getLogger("httpx").setLevel(max(level, logging.WARNING if verbosity < 2 else level))
