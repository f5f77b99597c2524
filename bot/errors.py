"""The one exception tree of newsbot.

    NewsbotError                 base of everything we raise on purpose
    ├── ConfigError              the configuration is wrong; message names the key (exit code 2)
    ├── StoreError               the article store failed or was misused
    │   └── NotFound             an id that does not exist
    ├── ImportFormatError        a line or file of an import cannot be read (carries file:line)
    └── SummaryError             text that cannot be summarized, or an unknown algorithm

Anything else escaping is a bug: the CLI prints one line and the bot's error handler logs it.
"""

from __future__ import annotations


class NewsbotError(Exception):
    """Base class for errors newsbot raises on purpose."""


class ConfigError(NewsbotError):
    """Invalid configuration. The message names the key and what was expected."""


class StoreError(NewsbotError):
    """The article store failed or was asked something impossible."""


class NotFound(StoreError):
    """A requested row (article, feed, chat...) does not exist."""


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
