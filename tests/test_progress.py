"""Progress of the long commands: what the work reports through its callback (`bot.progress`),
and what a person sees on a terminal: `newsbot import` run on a pseudo-terminal draws a line
with the articles read, stored and rejected, the rate and the time left; piped, or with
`--quiet`, it draws nothing."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path
from typing import Any

import pytest

from bot.cli._progress import TerminalProgress
from bot.config import Config, FeedConfig, SummaryConfig
from bot.ingest.importer import import_files
from bot.ingest.pipeline import IngestPipeline
from bot.services.summaries import SummaryService
from bot.store import SqlStore
from tests.feedserver import FeedServer
from tests.helpers import FakeClock, run_cli

BODY = (
    "Le gouvernement a présenté mercredi un nouveau plan pour l’emploi des jeunes. "
    "Les syndicats saluent une avancée mais demandent davantage de moyens. "
    "Le patronat juge le dispositif trop complexe pour les petites entreprises. "
    "Une évaluation est prévue dans un an pour mesurer les effets réels."
)


class Calls:
    """A `Progress` that keeps every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int | None, dict[str, int]]] = []

    def __call__(self, done: int, total: int | None = None, **counts: int) -> None:
        self.calls.append((done, total, counts))


def articles_file(path: Path, count: int, bad: int = 0) -> Path:
    lines = [
        json.dumps({"title": f"Titre {i}", "text": f"{BODY} Numéro {i}."}, ensure_ascii=False)
        for i in range(count)
    ]
    lines += ["{not json"] * bad
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


# -- what the work reports ----------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [0, 10**9], ids=["worker process", "in line"])
async def test_import_reports_bytes_and_records(
    store: SqlStore, tmp_path: Path, threshold: int
) -> None:
    first = articles_file(tmp_path / "a.jsonl", 2500, bad=3)
    second = articles_file(tmp_path / "b.jsonl", 10)
    size = first.stat().st_size + second.stat().st_size
    progress = Calls()
    report = await import_files(
        store, [first, second], lambda _: None, process_threshold=threshold, progress=progress
    )
    assert (report.imported, report.duplicates, report.rejected) == (2500, 10, 3)
    done = [call[0] for call in progress.calls]
    assert done == sorted(done) and 0 < done[0] < first.stat().st_size
    assert {call[1] for call in progress.calls} == {size}
    assert progress.calls[-1] == (size, size, {"read": 2513, "stored": 2500, "rejected": 3})
    assert len(progress.calls) >= 4  # a call per batch of 1,000, not one at the end


async def test_standard_input_has_no_total(
    store: SqlStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = articles_file(tmp_path / "in.jsonl", 20).read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    progress = Calls()
    await import_files(store, [Path("-")], lambda _: None, progress=progress)
    assert progress.calls[-1][1:] == (None, {"read": 20, "stored": 20, "rejected": 0})


async def test_summary_precomputation_reports_articles(store: SqlStore, tmp_path: Path) -> None:
    report = await import_files(store, [articles_file(tmp_path / "a.jsonl", 70)], print)
    progress = Calls()
    done = await SummaryService(store, SummaryConfig()).precompute(report.ids, progress=progress)
    assert done == 70
    assert [(c[0], c[1]) for c in progress.calls] == [(64, 70), (70, 70)]
    assert progress.calls[-1][2] == {"summarized": 70}


async def test_ingest_reports_feeds(store: SqlStore, clock: FakeClock) -> None:
    items = "".join(
        f"<item><title>Dépêche {i}</title><guid>g{i}</guid><description>{BODY}</description></item>"
        for i in range(2)
    )
    feed = f'<rss version="2.0"><channel><title>T</title>{items}</channel></rss>'
    with FeedServer() as server:
        server.add("/a.xml", feed, content_type="application/rss+xml")
        server.add("/b.xml", "not a feed", status=500)
        config = Config(
            feeds=(FeedConfig(server.url("/a.xml"), "A"), FeedConfig(server.url("/b.xml"), "B"))
        )
        progress = Calls()
        async with IngestPipeline(store, config, clock=clock) as pipeline:
            await pipeline.run(include_not_due=True, progress=progress)
    assert [(c[0], c[1]) for c in progress.calls] == [(1, 2), (2, 2)]
    assert progress.calls[-1][2] == {"new": 2, "failed": 1}


# -- what the terminal shows --------------------------------------------------------------------


def test_a_line_on_a_terminal_and_nothing_elsewhere() -> None:
    terminal = Terminal()
    with TerminalProgress(
        "import", unit="B", rate_of="read", rate_unit="articles", stream=terminal
    ) as progress:
        progress(1024, 4096, read=1000, stored=998, rejected=2)
        progress.write("a.jsonl:7: invalid JSON")
        progress(4096, 4096, read=4000, stored=3990, rejected=10)
    shown = terminal.getvalue()
    assert "a.jsonl:7: invalid JSON\n" in shown
    last = shown.rstrip("\n").split("\r")[-1]
    # (tqdm draws the bar with # on a stream that does not say it takes UTF-8)
    assert re.match(r"import: 100%\|[█#]+\| 4\.00k/4\.00kB \[\d\d:\d\d<\d\d:\d\d\], ", last), last
    assert "], read 4,000 · stored 3,990 · rejected 10 · " in last
    assert re.search(r"[\d,]+ articles/s$", last), last

    piped, quiet = io.StringIO(), Terminal()
    for stream, is_quiet in ((piped, False), (quiet, True)):
        with TerminalProgress("import", quiet=is_quiet, stream=stream) as progress:
            progress(1, 2, read=1)
            progress.write("a.jsonl:7: invalid JSON")
    assert piped.getvalue() == quiet.getvalue() == "a.jsonl:7: invalid JSON\n"


def test_without_a_total_the_line_counts() -> None:
    terminal = Terminal()
    with TerminalProgress("ingest", rate_unit="feeds", stream=terminal) as progress:
        progress(3, None, new=12, failed=0)
    last = terminal.getvalue().rstrip("\n").split("\r")[-1]
    assert re.match(r"ingest: 3 \[\d\d:\d\d\], new 12 · failed 0", last), last


def run_on_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, str, str]:
    """`newsbot ARGS` with stderr on a pseudo-terminal (stdout piped, as `> file` does): the
    exit code, stdout, and what the terminal showed."""
    leader, follower = pty.openpty()
    # 40 rows of 120 columns, as a terminal window has (a new pseudo-terminal has 0 x 0)
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=follower,
    )
    os.close(follower)
    screen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            proc.kill()
            raise AssertionError(f"no output in 60 s; so far: {screen!r}")
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the command ended: the terminal is closed
            break
        if not chunk:
            break
        screen += chunk
    os.close(leader)
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    return proc.wait(60), out, screen.decode(errors="replace")


def command_environment(tmp_path: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    env["HOME"] = str(tmp_path)
    env["NEWSBOT_DATABASE_URL"] = f"sqlite:///{tmp_path / 'news.db'}"
    return env


def test_newsbot_import_on_a_terminal(tmp_path: Path) -> None:
    path = articles_file(tmp_path / "archive.jsonl", 1200, bad=1)
    env = command_environment(tmp_path)
    code, out, screen = run_on_terminal(["import", str(path)], tmp_path, env)
    assert code == 0, screen
    assert out == "imported 1200, skipped 0 duplicate(s), rejected 1; 1200 summaries computed\n"
    assert f"{path}:1201: invalid JSON" in screen
    assert re.search(r"import: 100%\|█+\| [\d.]+[kM]/[\d.]+[kM]B \[", screen), screen
    assert "read 1,201 · stored 1,200 · rejected 1 · " in screen
    assert re.search(r"summaries: 100%\|█+\| 1200/1200 \[.*summarized 1,200", screen), screen

    code, out, screen = run_on_terminal(["import", "--quiet", str(path)], tmp_path, env)
    assert code == 0
    assert out == "imported 0, skipped 1200 duplicate(s), rejected 1\n"
    assert screen.strip().splitlines() == [
        f"{path}:1201: invalid JSON: Expecting property name enclosed in double quotes (column 2)"
    ]


def test_newsbot_import_piped_shows_no_progress(
    sqlite_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = articles_file(sqlite_env.parent / "archive.jsonl", 30)
    code, out, err = run_cli(capsys, "import", str(path))
    assert code == 0
    assert out == "imported 30, skipped 0 duplicate(s), rejected 0; 30 summaries computed\n"
    assert err == ""
