"""Logging set-up that never lets a secret (the bot token, the webhook's secret token) reach a
log line.

httpx and python-telegram-bot log request URLs, and Telegram puts the token in the URL
(`/bot<token>/getUpdates`), so the redaction sits on the handler: whatever logger emits the
record, the text written is scrubbed. `redact_secrets` is the same scrubbing for the other way
text reaches the terminal: the command line's one-line error messages.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from urllib.parse import quote


def redact_secrets(text: str, secrets: Iterable[str]) -> str:
    """*text* with each secret, as written and as percent-encoded in a URL, replaced by `***`."""
    for secret in secrets:
        if not secret:
            continue
        for form in {secret, quote(secret, safe=""), quote(secret)}:
            text = text.replace(form, "***")
    return text


class RedactingFormatter(logging.Formatter):
    """A formatter that replaces each secret with `***` in the final text, tracebacks included."""

    def __init__(self, fmt: str, secrets: Iterable[str], *, tracebacks: bool = True) -> None:
        super().__init__(fmt)
        self.secrets = [s for s in secrets if s]
        self.tracebacks = tracebacks

    def format(self, record: logging.LogRecord) -> str:
        if not self.tracebacks and (record.exc_info or record.exc_text):
            # Without -v a library's error is its one line; the traceback is for -v.
            record = logging.makeLogRecord(record.__dict__)
            record.exc_info, record.exc_text, record.stack_info = None, None, None
        return redact_secrets(super().format(record), self.secrets)


def setup_logging(verbosity: int = 0, secrets: Iterable[str] = ()) -> None:
    """Log to stderr: warnings by default (one line each, no tracebacks), info with -v,
    debug with -vv."""
    level = logging.WARNING - 10 * min(verbosity, 2)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        RedactingFormatter(
            "%(asctime)s %(levelname)s %(name)s: %(message)s", secrets, tracebacks=verbosity > 0
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request at INFO; only worth seeing when debugging.
    logging.getLogger("httpx").setLevel(max(level, logging.WARNING if verbosity < 2 else level))
