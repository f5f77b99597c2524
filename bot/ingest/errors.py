"""Why a feed or a page could not be ingested.

    NewsbotError (bot.errors)
    └── IngestError          a feed or page failed; `str(exc)` is the one-line reason kept in
        │                    `feeds.last_error` / `articles.page_error` and shown to admins
        ├── FetchError       the network said no: DNS, refused, timeout, HTTP 4xx/5xx,
        │                    too many redirects, a body over the size cap
        └── FeedParseError   the bytes are not a usable feed: HTML, truncated XML, no entries

The pipeline catches these per feed and per page, so one failure never stops the batch.
"""

from __future__ import annotations

from bot.errors import NewsbotError


class IngestError(NewsbotError):
    """A feed or page could not be ingested; the message is the reason shown to admins."""


class FetchError(IngestError):
    """The request failed. `retry_after` (seconds) is the server's Retry-After, if any, which
    the back-off respects: a 429 or 503 saying "come back in an hour" is taken at its word."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class FeedParseError(IngestError):
    """The response is not an RSS/Atom feed with entries."""
