"""`newsbot import`: files of articles into the store, reporting every bad record by line.

Parsing (JSON decoding, text clean-up, repeated-paragraph removal) is pure Python and as costly
as storing, so on a large file it runs in a separate process that streams batches through a
bounded queue while this one writes to the store: both cores work, memory stays flat. A small
file is parsed in-line, where starting a process would cost more than it saves, and so is
standard input or any input that is not a regular file (a pipe cannot be opened twice).

A worker must not outlive the import: killed with `kill -9`, the parent cannot stop it, and a
worker blocked on a full queue would hold the input file, the terminal's pipes and the
multiprocessing resource tracker forever. `die_with_parent` makes every worker of the import
(the parser here, the summary pool of the `import` command) exit when its parent is gone.
"""

from __future__ import annotations

import asyncio
import ctypes
import multiprocessing
import os
import select
import signal
import stat
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from pathlib import Path
from queue import Empty
from typing import Any

from bot.errors import ImportFormatError
from bot.ingest.files import STDIN, ImportItems, ImportNote, iter_import_file
from bot.models import NewArticle
from bot.progress import Progress
from bot.store.contract import ArticleWriter
from bot.text import content_hash

# Records handed to the store at a time: large enough for batched inserts, small enough that
# memory stays flat on a file of any size.
IMPORT_BATCH = 1000
# Files at least this large are parsed in a worker process.
PROCESS_THRESHOLD_BYTES = 4_000_000
# Batches parsed ahead of the store at most (bounds the memory of a fast parser).
QUEUE_DEPTH = 4


@dataclass(slots=True)
class ImportReport:
    """Counts of an import, and the ids stored (to precompute their summaries)."""

    imported: int = 0
    duplicates: int = 0
    rejected: int = 0
    shortened: int = 0
    unreadable_files: int = 0
    ids: list[int] = field(default_factory=list)

    @property
    def read_anything(self) -> bool:
        """False when not a single record could be read: the only case the CLI fails."""
        return self.imported + self.duplicates > 0


# What the parser hands over: a batch of articles, the text of a bad record, how far into the
# file it read, or the end.
_Message = tuple[str, Any]


def _parse(items: ImportItems) -> Iterator[_Message]:
    """Batches of the articles of *items* (`iter_import_file`), and their problems; before
    each batch, ("read", bytes of the file read so far) when that is known (for progress)."""
    batch: list[NewArticle] = []
    for item in items:
        if isinstance(item, ImportFormatError):
            yield ("problem", str(item))
            continue
        if isinstance(item, ImportNote):
            yield ("note", str(item))
            continue
        article = item[1]
        # Hashing the body is pure CPU: done here, it runs in the parser process on a large
        # import instead of in the process that writes to the store.
        if not article.content_hash:
            article = replace(article, content_hash=content_hash(article.title, article.text))
        batch.append(article)
        if len(batch) >= IMPORT_BATCH:
            yield ("read", items.position())
            yield ("batch", batch)
            batch = []
    if batch:
        yield ("read", items.position())
        yield ("batch", batch)


# How often a worker checks that its parent is still there (where PR_SET_PDEATHSIG is missing).
PARENT_POLL_SECONDS = 0.2


def die_with_parent(parent_pid: int) -> None:
    """Make this (worker) process exit as soon as *parent_pid* is no longer its parent.

    On Linux the kernel sends SIGKILL when the parent dies (`PR_SET_PDEATHSIG`); everywhere, a
    daemon thread also polls the parent id, which changes when the parent is gone (the worker
    is re-parented), so a worker blocked on a full queue exits too. Use as a process pool's
    `initializer` or at the start of a worker's body.
    """
    if sys.platform == "linux":
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # gone before the call above took effect
        os._exit(1)

    def watch() -> None:
        # Where the kernel has pidfd_open (Linux 5.3+), wait on the parent's pidfd: it becomes
        # readable when the parent exits, with no polling and no timed sleep.
        try:
            parent_fd = os.pidfd_open(parent_pid)
        except (AttributeError, OSError):
            while os.getppid() == parent_pid:
                time.sleep(PARENT_POLL_SECONDS)
        else:
            select.select([parent_fd], [], [])
        os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


def _parse_into(path: Path, source: str, queue: Queue[_Message], parent_pid: int) -> None:
    """Worker process body: stream `_parse` messages, then ("end", None) or ("crash", why)."""
    die_with_parent(parent_pid)
    try:
        # An iterator cannot cross processes: the worker opens the (regular) file again.
        for message in _parse(iter_import_file(path, source)):
            queue.put(message)
        queue.put(("end", None))
    except Exception as exc:  # reported by the parent as a problem with this file
        queue.put(("crash", f"{type(exc).__name__}: {exc}"))


async def _in_line(items: ImportItems) -> AsyncIterator[_Message]:
    messages = _parse(items)
    while (message := await asyncio.to_thread(next, messages, None)) is not None:
        yield message


def _next_from(queue: Queue[_Message], worker: BaseProcess) -> _Message:
    """Block for the worker's next message, noticing if it died without saying so."""
    while True:
        try:
            return queue.get(timeout=0.5)
        except Empty:
            if not worker.is_alive():
                return ("crash", f"parser process died (exit code {worker.exitcode})")


async def _from_process(path: Path, source: str) -> AsyncIterator[_Message]:
    # "spawn", not "fork": this process has threads (the database driver's), and forking a
    # threaded process can copy a lock in the held state.
    context = multiprocessing.get_context("spawn")
    queue: Queue[_Message] = context.Queue(QUEUE_DEPTH)
    worker = context.Process(
        target=_parse_into, args=(path, source, queue, os.getpid()), daemon=True
    )
    worker.start()
    loop = asyncio.get_running_loop()
    try:
        while True:
            kind, value = await loop.run_in_executor(None, _next_from, queue, worker)
            if kind == "end":
                return
            yield kind, value
            if kind == "crash":
                return
    finally:
        if worker.is_alive():
            worker.terminate()
        worker.join()
        queue.close()


def _regular_file(path: Path) -> tuple[Path, int] | None:
    """(where a worker can open it again, size) when *path* is a regular file, else None
    (standard input, a pipe, a FIFO, a device: read once, by this process)."""
    if str(path) == STDIN:
        return None
    try:
        real = path.resolve()  # /dev/stdin redirected from a file resolves to that file
        info = real.stat()
    except (OSError, RuntimeError):
        return None
    if not stat.S_ISREG(info.st_mode) or real.is_relative_to("/proc"):
        return None
    return real, info.st_size


async def import_files(
    store: ArticleWriter,
    paths: Sequence[Path],
    report_problem: Callable[[str], None],
    *,
    process_threshold: int = PROCESS_THRESHOLD_BYTES,
    progress: Progress | None = None,
) -> ImportReport:
    """Import every file; each bad record or unreadable file is passed to *report_problem* as
    `FILE:LINE: reason` and the rest goes on. Files of *process_threshold* bytes or more are
    parsed in a worker process. *progress* is told after each batch the bytes read of the
    whole input (of a total known when every input is a regular file) and the records read,
    stored and rejected."""
    report = ImportReport()
    sizes = [_regular_file(path) for path in paths]
    total = sum(found[1] for found in sizes if found) if all(sizes) else None
    finished = 0  # bytes of the files done
    for path, regular in zip(paths, sizes, strict=True):
        read = 0
        try:
            # Opens and sniffs the file: an unreadable one fails here, before any worker starts.
            items = iter_import_file(path)
        except ImportFormatError as exc:
            report_problem(str(exc))
            report.unreadable_files += 1
            finished += regular[1] if regular else 0
            continue
        if regular is not None and regular[1] >= process_threshold:
            items.close()
            source = _from_process(regular[0], str(path))
        else:
            source = _in_line(items)
        async for kind, value in source:
            if kind == "problem":
                report_problem(value)
                report.rejected += 1
            elif kind == "note":
                report_problem(value)
                report.shortened += 1
            elif kind == "crash":
                report_problem(f"{path}: import stopped: {value}")
                report.unreadable_files += 1
            elif kind == "read":
                read = value or read
            else:
                added = await store.add_articles(value)
                report.imported += len(added.ids)
                report.duplicates += added.duplicates
                report.ids.extend(added.ids)
                if progress is not None:
                    _tell(progress, finished + read, total, report)
        if regular is not None:
            finished += regular[1]
    if progress is not None:
        _tell(progress, finished, total, report)
    return report


def _tell(progress: Progress, done: int, total: int | None, report: ImportReport) -> None:
    stored = report.imported
    read = stored + report.duplicates + report.rejected
    progress(done, total, read=read, stored=stored, rejected=report.rejected)
