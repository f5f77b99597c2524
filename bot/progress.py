"""How long work says how far it got: a callback, so the work knows nothing of terminals.

Work that takes minutes (an import, ingesting every feed, precomputing summaries, pruning the
store) takes an optional `progress: Progress` and calls it as it goes:

    progress(done, total, read=12_000, stored=11_800, rejected=3)

`done` and `total` are in the work's own unit (bytes of input, feeds, articles, rows), `total`
None while unknown (standard input); the named counts are what a reader wants to see beside
it. A call is cheap for the caller to make (once per batch, not per row) and the callback
decides what to show: the command line draws a line on the terminal (`bot.cli._progress`),
tests record the calls, and `None` (the default everywhere) shows nothing.
"""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    """Told how far some work got: `done` of `total` (None: unknown) and named counts."""

    def __call__(self, done: int, total: int | None = None, **counts: int) -> None: ...
