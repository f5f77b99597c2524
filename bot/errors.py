"""The one exception tree of newsbot.

    NewsbotError                 base of everything we raise on purpose
    ├── ConfigError              the configuration is wrong; message names the key (exit code 2)
    ├── StoreError               the article store failed or was misused
    │   ├── NotFound             an id that does not exist
    │   └── StoreBusy            another process holds the store's write lock: try again soon
    ├── ImportFormatError        a line or file of an import cannot be read (carries file:line)
    ├── SummaryError             text that cannot be summarized, or an unknown algorithm
    ├── IngestError              a feed or page failed; `str(exc)` is the one-line reason kept in
    │   │                        `feeds.last_error` / `articles.page_error` and shown to admins
    │   ├── FetchError           the network said no, or the SSRF guard did: DNS, refused,
    │   │                        timeout, HTTP 4xx/5xx, too many redirects, a body over the
    │   │                        size cap, a refused address or port (`reason`, `retry_after`)
    │   └── FeedParseError       the bytes are not a usable feed: HTML, truncated XML, no entries
    └── UserInputError           what a person typed, pressed or sent cannot be done as asked:
        │                        answered where it is caught, never logged as a bug
        ├── BadArgument          a value a command or button does not take (a count, a length,
        │   │                    a language, an algorithm, a mode, a time, a time zone)
        │   ├── BadFilter        a subscription filter that is not a plain word (`word`)
        │   └── TooManyFilters   more filters than a subscription takes (`limit`)
        ├── UnknownCategory      a category name that matches none (`name`, `suggestions`)
        ├── StaleButton          callback data this version of the bot does not produce
        ├── FeedError            a feed an admin asked for: a bad URL or language, a config feed
        │   └── DuplicateFeed    a feed added again from the chat (`feed_id`)
        ├── LinksDisabled        a link sent while the operator turned link summaries off
        ├── RateLimited          too many links from one user this minute (`retry_after`)
        └── LinkError            a link refused or not fetched; `reason` (one of LINK_REASONS)
                                 is all the user learns, the message is for the logs

The chat handlers answer the user-input family on the spot (a usage line, the closest
categories, a button's "expired" notice); the CLI prints any NewsbotError as one line. A
built-in exception (ValueError, RuntimeError, AssertionError...) is raised only for a broken
contract between our own functions, and no handler catches one to mean "the user typed
something wrong": like anything else escaping, it is a bug, which the CLI prints as one line
and the bot's error handler logs with its traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # errors sit at the bottom: no run-time import of anything of ours
    from bot.models import Category


class NewsbotError(Exception):
    """Base class for errors newsbot raises on purpose."""


class ConfigError(NewsbotError):
    """Invalid configuration. The message names the key and what was expected."""


class StoreError(NewsbotError):
    """The article store failed or was asked something impossible."""


class NotFound(StoreError):
    """A requested row (article, feed, chat...) does not exist."""


class StoreBusy(StoreError):
    """Another process holds the store's write lock (SQLite's "database is locked") longer
    than this write would wait. Nothing was written; the same request may succeed in a moment.
    The chat answers "busy, try again"; the CLI prints it as one line."""


class ImportFormatError(NewsbotError):
    """One record of an import could not be read.

    `source` and `line` locate it as `FILE:LINE` so the user can fix the file.
    """

    def __init__(self, source: str, line: int, reason: str) -> None:
        super().__init__(f"{source}:{line}: {reason}")
        self.source = source
        self.line = line
        self.reason = reason


class SummaryError(NewsbotError):
    """Text that cannot be summarized, or an unknown algorithm/language."""


# -- ingest -----------------------------------------------------------------------------------


class IngestError(NewsbotError):
    """A feed or page could not be ingested; the message is the reason shown to admins.

    The pipeline catches these per feed and per page, so one failure never stops the batch.
    """


class FetchError(IngestError):
    """The request failed or was refused; the message is the one-line detail (for logs and
    admins), `reason` the kind, one of `LINK_REASONS` ("address", "timeout", "status"...),
    `status` the HTTP status of a "status" failure. `retry_after` (seconds) is the server's
    Retry-After, if any, which the back-off respects: a 429 or 503 saying "come back in an
    hour" is taken at its word."""

    def __init__(
        self,
        message: str,
        *,
        reason: str = "bad_response",
        retry_after: float | None = None,
        status: int | None = None,
    ) -> None:
        assert reason in LINK_REASONS, reason
        super().__init__(message)
        self.reason = reason
        self.retry_after = retry_after
        self.status = status

    @property
    def refused(self) -> bool:
        """True when the guard refused the URL (no request was sent to it): retrying is
        pointless, and it is no failure of the server's."""
        return self.reason in REFUSALS


class FeedParseError(IngestError):
    """The response is not an RSS/Atom feed with entries."""


# -- what a person typed, pressed or sent -----------------------------------------------------


class UserInputError(NewsbotError):
    """A request a person can fix, answered to them where it is caught (in their language, by
    the chat handlers; as one line, by the CLI); a log of it is information, not an error."""


class BadArgument(UserInputError):
    """A value outside what a command or a button takes; the message says what is expected."""


class BadFilter(BadArgument):
    """A filter word that is not a plain word; `word` is what the user typed."""

    def __init__(self, word: str) -> None:
        super().__init__(f"not a plain word: {word!r}")
        self.word = word


class TooManyFilters(BadArgument):
    """More filter words than one subscription takes (`limit`)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} filters")
        self.limit = limit


class UnknownCategory(UserInputError):
    """A category name that matches none; `suggestions` are the closest existing ones.

    A category *id* that does not exist (a button from before a database reset) is NotFound.
    """

    def __init__(self, name: str, suggestions: Sequence[Category]) -> None:
        super().__init__(f"no category {name!r}")
        self.name = name
        self.suggestions = list(suggestions)


class StaleButton(UserInputError):
    """Callback data this version of the bot does not produce: a button of an older version,
    or data a client forged. The user is told the button has expired."""

    def __init__(self, data: str | None) -> None:
        super().__init__(f"not a button of this bot: {data!r}")
        self.data = data


class FeedError(UserInputError):
    """A feed request an admin can fix: a bad URL or language, a feed the config manages."""


class DuplicateFeed(FeedError):
    """/addfeed of a URL that is a feed already; `feed_id` says which (the CLI's `feeds add`
    updates it instead)."""

    def __init__(self, feed_id: int, url: str) -> None:
        super().__init__(f"feed {feed_id} has this URL already: {url}")
        self.feed_id = feed_id


class LinksDisabled(UserInputError):
    """A link sent while the operator turned link summaries off (`links.enabled = false`)."""


class RateLimited(UserInputError):
    """Too many URLs from one user this minute; `retry_after` seconds until the next is
    accepted."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"rate limited for {retry_after}s")
        self.retry_after = retry_after


# Why a link is not summarized: `LinkError.reason`, and all the user is told (bot.chat.i18n has
# a `link_<reason>` line for each).
LINK_REASONS = (
    "not_http",  # not an http(s) URL at all
    "too_long",  # longer than a URL may be (2,048 characters)
    "credentials",  # user:password@ in the URL
    "port",  # a port that is not allowed
    "address",  # resolves to a loopback, private, link-local, reserved... address
    "resolve",  # the name does not resolve
    "connect",  # nobody answers
    "timeout",  # the fetch took longer than allowed
    "too_large",  # more bytes than allowed
    "content_type",  # not HTML or text
    "status",  # an HTTP error status (`status` says which)
    "redirects",  # too many redirects
    "bad_response",  # a broken answer: redirect without Location, corrupt compression...
    "no_article",  # fetched, but no article text in it (raised by the caller that extracts)
)


# The reasons that are the SSRF guard's refusals rather than failures of the network.
REFUSALS = frozenset({"not_http", "credentials", "port", "address"})


class LinkError(UserInputError):
    """A page that is refused or could not be fetched. `reason` is one of `LINK_REASONS` and is
    all a user may learn; the message (which may name addresses) is for the logs."""

    def __init__(self, reason: str, detail: str = "", *, status: int | None = None) -> None:
        assert reason in LINK_REASONS, reason
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.status = status
