"""`newsbot import`: files of articles into the store, reporting every bad record by line."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import ImportFormatError
from bot.ingest.files import iter_import_file
from bot.models import NewArticle
from bot.store import SqlStore

# Records handed to the store at a time: large enough for batched inserts, small enough that
# memory stays flat on a file of any size.
IMPORT_BATCH = 2000


@dataclass(slots=True)
class ImportReport:
    """Counts of an import, and the ids stored (to precompute their summaries)."""

    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    unreadable_files: int = 0
    ids: list[int] = field(default_factory=list)

    @property
    def read_anything(self) -> bool:
        """False when not a single record could be read: the only case the CLI fails."""
        return self.imported + self.duplicates > 0


async def import_files(
    store: SqlStore, paths: Sequence[Path], report_problem: Callable[[str], None]
) -> ImportReport:
    """Import every file; each bad record or unreadable file is passed to *report_problem* as
    `FILE:LINE: reason` and the rest goes on."""
    report = ImportReport()
    for path in paths:
        try:
            items = iter_import_file(path)
        except ImportFormatError as exc:
            report_problem(str(exc))
            report.unreadable_files += 1
            continue
        # Parse the next batch in a worker thread while the store writes this one: parsing is
        # Python (holds the GIL), the database driver's work mostly is not, so they overlap.
        batches = _batches(items, report, report_problem)
        pending = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
        while (batch := await pending) is not None:
            pending = asyncio.ensure_future(asyncio.to_thread(next, batches, None))
            added = await store.add_articles(batch)
            report.imported += len(added.ids)
            report.duplicates += added.duplicates
            report.ids.extend(added.ids)
    return report


def _batches(
    items: Iterator[tuple[int, NewArticle] | ImportFormatError],
    report: ImportReport,
    report_problem: Callable[[str], None],
) -> Iterator[list[NewArticle]]:
    batch: list[NewArticle] = []
    for item in items:
        if isinstance(item, ImportFormatError):
            report_problem(str(item))
            report.rejected += 1
            continue
        batch.append(item[1])
        if len(batch) >= IMPORT_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch
