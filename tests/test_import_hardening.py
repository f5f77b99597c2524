"""Import keeps every good line and reports every bad one (issue 13, part 4).

Each test here failed before its fix: lone surrogates, fields over the store's limits (on both
backends, and an export of SQLite imported into PostgreSQL), standard input and other inputs
that cannot be read twice, a bad byte near the start of a file, workers that outlived a killed
import, summaries an interrupted import never computed, and one-line pages with an odd byline.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bot.config import LinksConfig
from bot.deliver.rules import PushRules
from bot.errors import ImportFormatError
from bot.ingest.files import iter_import_file, parse_text_page
from bot.ingest.importer import PROCESS_THRESHOLD_BYTES, import_files
from bot.models import NewArticle
from bot.store import SqlStore, open_store
from bot.text import MAX_CATEGORY_CHARS, MAX_LANGUAGE_CHARS, cap_category, fold
from tests.feedserver import FeedServer
from tests.helpers import FakeClock, running_bot, seed
from tests.helpers import run_cli as run

BODY = "Un corps de texte assez long pour faire un article. Il a même une deuxième phrase."


def good_record(i: int, **fields: object) -> dict[str, object]:
    return {"title": f"Titre numéro {i}", "text": f"{BODY} Numéro {i}.", **fields}


def write_lines(path: Path, lines: list[str | dict[str, object]]) -> Path:
    text = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


# -- lone surrogates ----------------------------------------------------------------------------

SURROGATE_FIELDS = ("title", "text", "url", "guid", "author", "published", "category", "language")


@pytest.mark.parametrize("threshold", [0, 10**9], ids=["process", "in-line"])
async def test_a_lone_surrogate_in_any_field_rejects_only_its_line(
    store: SqlStore, tmp_path: Path, threshold: int
) -> None:
    """Rejected with FILE:LINE rather than cleaned: a lone surrogate means the producer's
    encoding is broken, and replacing it would silently change a guid or URL."""
    lines: list[str | dict[str, object]] = [good_record(0)]
    for n, name in enumerate(SURROGATE_FIELDS, 1):
        record = good_record(n, url=f"https://news.test/{n}")
        record[name] = f"bad \\ud800 {name}" if name != "url" else "https://news.test/\\udc00"
        lines.append(json.dumps(record).replace("\\\\u", "\\u"))
    lines.append(json.dumps(good_record(20, section="x")).replace('"x"', '"\\udfff"'))
    # A valid pair is one character: stored.
    lines.append(json.dumps(good_record(21, title="Emoji \\ud83d\\ude00")).replace("\\\\u", "\\u"))
    lines.append(good_record(22))
    path = write_lines(tmp_path / "s.jsonl", lines)

    problems: list[str] = []
    report = await import_files(store, [path], problems.append, process_threshold=threshold)
    assert (report.imported, report.rejected) == (3, len(SURROGATE_FIELDS) + 1)
    expected = [*SURROGATE_FIELDS, "section"]
    assert [p.split(": ", 1)[0] for p in problems] == [
        f"{path}:{n}" for n in range(2, 2 + len(expected))
    ]
    for problem, name in zip(problems, expected, strict=True):
        assert f'"{name}": a lone surrogate (\\u' in problem
    titles = {a.title for a in await store.latest(10)}
    assert "Emoji 😀" in titles


# -- field limits -------------------------------------------------------------------------------


def test_cap_category_fits_the_name_and_its_folded_key() -> None:
    assert cap_category("Économie") == "Économie"
    long = cap_category("Sport " * 600)
    assert len(long) <= MAX_CATEGORY_CHARS and long.endswith("…")
    expanding = cap_category("\ufdfa" * 150)  # one character that NFKD makes 18
    assert len(fold(expanding)) <= MAX_CATEGORY_CHARS


async def test_over_long_fields_are_stored_within_the_limits_on_both_backends(
    store: SqlStore, tmp_path: Path
) -> None:
    """PostgreSQL refused the whole import (varchar(200), the btree limit); SQLite took it all.
    Now the same limits apply before either store: shortened, or left out, and said so."""
    records: list[str | dict[str, object]] = [
        good_record(0, category="C" * 3017),
        good_record(1, language="de-DE-1996-x-private"),
        good_record(2, url="https://news.test/" + "a" * 3000),
        good_record(3, guid="g" * 3000),
        # Short as written, but its normalized key (percent-encoded) is over the limit.
        good_record(4, url="https://news.test/q?q=" + "é" * 700),
        good_record(5, category="\ufdfa" * 150),
        good_record(6, guid="ok", url="https://news.test/ok", category="Sport", language="fr"),
    ]
    path = write_lines(tmp_path / "long.jsonl", records)
    problems: list[str] = []
    report = await import_files(store, [path], problems.append)
    assert (report.imported, report.rejected, report.shortened) == (7, 0, 6)
    assert [p.split(": ", 1)[0] for p in problems] == [f"{path}:{n}" for n in range(1, 7)]
    assert '"category" longer than 200 characters: cut' in problems[0]
    assert "cut to 'de-DE-1996'" in problems[1]
    assert '"url" longer than 2000 bytes: stored without it' in problems[2]
    assert '"guid" longer than 2000 bytes: stored without it' in problems[3]

    by_title = {a.title: a for a in await store.latest(10)}
    assert len(by_title["Titre numéro 0"].category or "") <= MAX_CATEGORY_CHARS
    assert by_title["Titre numéro 1"].language == "de-DE-1996"
    assert len("de-DE-1996") <= MAX_LANGUAGE_CHARS
    assert by_title["Titre numéro 2"].url is None
    assert by_title["Titre numéro 3"].guid is None
    assert by_title["Titre numéro 6"].guid == "ok"
    # Importing the same file again finds every one of them a duplicate.
    again = await import_files(store, [path], problems.append)
    assert (again.imported, again.duplicates) == (0, 7)


def test_an_export_of_sqlite_imports_whole_into_postgresql(
    sqlite_env: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    store_url: str,
) -> None:
    """Over-long fields SQLite took (from a feed, a shared page) no longer lose the articles
    when the export is imported into PostgreSQL: 0 of 420 were stored before."""

    async def fill() -> None:
        store = await open_store(f"sqlite:///{sqlite_env}", clock=FakeClock(), rules=PushRules())
        try:
            items = [
                NewArticle(title=f"Titre {i}", text=f"{BODY} {i}.", category="Sport")
                for i in range(400)
            ] + [
                NewArticle(
                    title=f"Long {i}",
                    text=f"{BODY} long {i}.",
                    url=f"https://news.test/{i}/" + "u" * 3000 if i % 2 else None,
                    guid="g" * 3000 + str(i) if i % 3 == 0 else None,
                    category="Catégorie " * 300 + str(i % 4),
                    language="en-GB-oxendict-x-long" if i % 5 == 0 else None,
                )
                for i in range(20)
            ]
            assert len((await store.add_articles(items)).ids) == 420
        finally:
            await store.close()

    asyncio.run(fill())
    code, exported, err = run(capsys, "export")
    assert code == 0 and err.strip() == "exported 420 article(s)"
    dump = tmp_path / "dump.jsonl"
    dump.write_text(exported, encoding="utf-8")

    monkeypatch.setenv("NEWSBOT_DATABASE_URL", store_url)
    code, out, err = run(capsys, "import", "--no-summaries", str(dump))
    assert code == 0, err
    assert out.strip().startswith("imported 420, skipped 0 duplicate(s), rejected 0, ")
    code, again, _ = run(capsys, "export")
    assert len(again.splitlines()) == 420


SHARED_PAGE = (
    "<!doctype html><html lang='fr'><head><meta charset='utf-8'>"
    "<meta property='article:section' content='" + "S" * 3017 + "'>"
    "<title>Le port de Marseille s’agrandit</title></head><body>"
    "<article><h1>Le port de Marseille s’agrandit</h1>"
    + "".join(
        f"<p>{sentence}</p>"
        for sentence in (
            "Le port de Marseille a présenté mardi un plan d’agrandissement de ses quais.",
            "Les travaux doivent durer quatre ans et coûter près de deux cents millions d’euros.",
            "La région finance un tiers du projet, l’État et l’Union européenne le reste.",
            "Les dockers saluent un projet qui devrait créer plusieurs centaines d’emplois.",
            "Les riverains s’inquiètent en revanche du bruit et de la pollution des navires.",
        )
    )
    + "</article></body></html>"
)


async def test_a_shared_pages_section_is_capped_like_an_imported_category(
    tmp_path: Path,
) -> None:
    """`article:section` of 3,017 characters made a category of that size (and broke the
    200-character callback answer); the cap of the import applies."""

    async def resolve(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    url = f"sqlite+aiosqlite:///{tmp_path / 'links.db'}"
    ids = await seed(url)
    with FeedServer() as server:
        server.add("/long.html", SHARED_PAGE, content_type="text/html; charset=utf-8")
        port = int(server.base.rsplit(":", 1)[1])
        links = LinksConfig(
            allowed_ports=(80, 443, port),
            allowed_networks=("127.0.0.1/32",),
            timeout_seconds=5.0,
        )
        async with running_bot(url, ids, links=links, resolver=resolve) as bot:
            await bot.send(f"http://news.test:{port}/long.html")
    store = await open_store(url, clock=FakeClock(), rules=PushRules())
    try:
        names = [c.name for c in await store.categories()]
    finally:
        await store.close()
    assert any(name.startswith("SSS") for name in names)
    assert max(len(name) for name in names) <= MAX_CATEGORY_CHARS


# -- a bad byte near the start ------------------------------------------------------------------


def test_an_invalid_byte_in_the_first_8_kib_rejects_only_its_line(tmp_path: Path) -> None:
    path = tmp_path / "start.jsonl"
    good = json.dumps(good_record(1)).encode()
    path.write_bytes(good + b"\n" + b'{"title": "caf\xe9", "text": "x"}\n' + good + b"\n")
    items = list(iter_import_file(path))
    assert len(items) == 3
    assert isinstance(items[0], tuple) and isinstance(items[2], tuple)
    bad = items[1]
    assert isinstance(bad, ImportFormatError)
    assert (bad.line, bad.reason) == (2, "not valid UTF-8 text (invalid byte at column 15)")


def test_a_nul_byte_in_an_early_json_line_rejects_only_its_line(tmp_path: Path) -> None:
    path = tmp_path / "nul.jsonl"
    good = json.dumps(good_record(1)).encode()
    path.write_bytes(good + b"\n" + b'{"title": "a\x00b"}\n' + good.replace(b"1", b"2") + b"\n")
    items = list(iter_import_file(path))
    assert [type(i).__name__ for i in items] == ["tuple", "ImportFormatError", "tuple"]


# -- standard input, pipes, FIFOs ---------------------------------------------------------------


def cli_environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    env["HOME"] = str(tmp_path)
    env["NEWSBOT_DATABASE_URL"] = f"sqlite:///{tmp_path / 'news.db'}"
    return env


def newsbot(*args: str) -> list[str]:
    return [sys.executable, "-m", "bot", *args]


def many_lines(count: int, pad: int = 0) -> bytes:
    """JSON Lines of *count* articles, far more than the 8 KiB the sniff reads; *pad* adds
    that many bytes to each line in a key import ignores."""
    extra = {"extra": "x" * pad} if pad else {}
    return b"".join(
        json.dumps(good_record(i, **extra), ensure_ascii=False).encode() + b"\n"
        for i in range(count)
    )


@pytest.mark.parametrize("name", ["-", "/dev/stdin"])
def test_standard_input_is_read_completely(tmp_path: Path, name: str) -> None:
    result = subprocess.run(
        newsbot("import", "--no-summaries", name),
        input=many_lines(1000),
        cwd=tmp_path,
        env=cli_environment(tmp_path),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == "imported 1000, skipped 0 duplicate(s), rejected 0"


def test_a_text_page_on_standard_input(tmp_path: Path) -> None:
    page = "Le titre de l’article\nAnne Roy, 3 mai 2024\nLe corps est là. Une autre phrase.\n"
    result = subprocess.run(
        newsbot("import", "--no-summaries", "-"),
        input=page.encode(),
        cwd=tmp_path,
        env=cli_environment(tmp_path),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.stdout.decode().strip() == "imported 1, skipped 0 duplicate(s), rejected 0"


def test_a_bad_line_on_standard_input_is_named_stdin(tmp_path: Path) -> None:
    result = subprocess.run(
        newsbot("import", "--no-summaries", "-"),
        input=many_lines(2) + b"{broken\n",
        cwd=tmp_path,
        env=cli_environment(tmp_path),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert result.stderr.decode().startswith("<stdin>:3: invalid JSON")


def test_a_process_substitution_pipe_is_read_completely(tmp_path: Path) -> None:
    """`newsbot import <(cat k.jsonl)`: a /dev/fd path to a pipe (960 of 1,000 before)."""
    read_end, write_end = os.pipe()
    data = many_lines(1000)

    def feed() -> None:
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(data)

    proc = subprocess.Popen(
        newsbot("import", "--no-summaries", f"/dev/fd/{read_end}"),
        cwd=tmp_path,
        env=cli_environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=(read_end,),
    )
    os.close(read_end)
    writer = threading.Thread(target=feed)
    writer.start()
    out, err = proc.communicate(timeout=120)
    writer.join(10)
    assert out.decode().strip() == "imported 1000, skipped 0 duplicate(s), rejected 0", err


def test_a_named_fifo_larger_than_the_process_threshold_is_read_completely(
    tmp_path: Path,
) -> None:
    """A FIFO hung: it was opened once to sniff and again to read. Over 4 MB it is still read
    here, not by a worker that would open it again."""
    fifo = tmp_path / "in.fifo"
    os.mkfifo(fifo)
    data = many_lines(10000, pad=300)
    assert len(data) > PROCESS_THRESHOLD_BYTES

    def feed() -> None:
        with fifo.open("wb") as pipe:
            pipe.write(data)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    result = subprocess.run(
        newsbot("import", "--no-summaries", str(fifo)),
        cwd=tmp_path,
        env=cli_environment(tmp_path),
        capture_output=True,
        timeout=180,
        check=False,
    )
    writer.join(10)
    assert result.stdout.decode().strip() == (
        "imported 10000, skipped 0 duplicate(s), rejected 0"
    ), result.stderr


# -- a killed import leaves nothing behind ------------------------------------------------------


def session_processes(session: int) -> list[int]:
    """Live (not zombie) processes of a session, from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, sid = fields[0], int(fields[3])
        if sid == session and state not in ("Z", "X"):
            found.append(int(entry.name))
    return found


def assert_session_ends(session: int, what: str) -> None:
    """Every process of the session is gone within 15 s; else fail with *what*."""
    deadline = time.monotonic() + 15
    while left := session_processes(session):
        assert time.monotonic() < deadline, f"{what}: {left}"
        time.sleep(0.1)


def end_session(proc: subprocess.Popen[bytes]) -> None:
    """Whatever the test's outcome, kill what is left of the session *proc* leads."""
    for pid in session_processes(proc.pid):
        os.kill(pid, signal.SIGKILL)
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["TERM", "KILL"])
def test_killing_an_import_leaves_no_worker_alive(tmp_path: Path, signum: int) -> None:
    big = tmp_path / "big.jsonl"
    big.write_bytes(many_lines(40000))
    assert big.stat().st_size > PROCESS_THRESHOLD_BYTES  # parsed by a worker
    proc = subprocess.Popen(
        newsbot("import", str(big)),
        cwd=tmp_path,
        env=cli_environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        # The import, the resource tracker and the parser worker.
        while len(session_processes(proc.pid)) < 3:
            assert proc.poll() is None, "the import ended before its worker was seen"
            assert time.monotonic() < deadline, "no worker started"
            time.sleep(0.05)
        time.sleep(0.5)  # mid-import: the worker is parsing ahead of the store
        os.kill(proc.pid, signum)
        # Whoever reads the output sees it end: nothing holds the pipes any more.
        proc.communicate(timeout=30)
        assert_session_ends(proc.pid, "still alive after the import was killed")
    finally:
        end_session(proc)


POOL_SCRIPT = """
import os, signal
from concurrent.futures import ProcessPoolExecutor
from bot.ingest.importer import die_with_parent

# signal.pause, not time.sleep: under libfaketime (CI's second and third runs) time.sleep fails
# at once with EINVAL, and the script and its workers would end before the test saw them.
if __name__ == "__main__":
    pool = ProcessPoolExecutor(2, initializer=die_with_parent, initargs=(os.getpid(),))
    futures = [pool.submit(signal.pause) for _ in range(2)]
    print("ready", flush=True)
    signal.pause()
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_the_summary_pool_of_a_killed_import_dies_with_it(tmp_path: Path) -> None:
    """The import command's summary pool uses `die_with_parent` as its initializer."""
    script = tmp_path / "pool.py"
    script.write_text(POOL_SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        deadline = time.monotonic() + 30
        while len(session_processes(proc.pid)) < 3:  # the script and its two workers
            assert time.monotonic() < deadline, "the pool did not start"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert_session_ends(proc.pid, "pool workers outlived their parent")
    finally:
        end_session(proc)


# -- summaries catch up -------------------------------------------------------------------------


def test_a_rerun_computes_the_summaries_an_interrupted_import_missed(
    sqlite_env: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    store_url: str,
) -> None:
    """Stored, then killed before the summaries (as a plain import leaves it): the next
    `import --summaries`, even of the same file with nothing new, computes what is missing."""
    monkeypatch.setenv("NEWSBOT_DATABASE_URL", store_url)
    long_text = " ".join(
        f"Phrase numéro {i} sur la réforme des retraites et le budget de l'État." for i in range(12)
    )
    records: list[str | dict[str, object]] = [
        {"title": f"Retraites {i}", "text": long_text.replace("numéro", f"n°{i}")} for i in range(3)
    ]
    path = write_lines(tmp_path / "a.jsonl", records)
    code, out, _ = run(capsys, "import", "--no-summaries", str(path))
    assert out.strip() == "imported 3, skipped 0 duplicate(s), rejected 0"
    code, out, _ = run(capsys, "import", "--summaries", str(path))
    assert (code, out.strip()) == (
        0,
        "imported 0, skipped 3 duplicate(s), rejected 0; 3 summaries computed",
    )
    code, out, _ = run(capsys, "import", "--summaries", str(path))
    assert out.strip() == "imported 0, skipped 3 duplicate(s), rejected 0"


# -- one-line pages with an odd byline --

SEED_TITLE = "Bretagne : les ports de pêche face à la flambée du gazole"
SEED_BODY = (
    "Les patrons pêcheurs de Lorient ont manifesté jeudi devant la préfecture. "
    "Le prix du gazole a augmenté de près de trente pour cent. Économie"
)


def test_an_iso_byline_date_is_parsed() -> None:
    article = parse_text_page(f"{SEED_TITLE} Marie de La Tour, 2025-11-26 {SEED_BODY}")
    assert article.title == SEED_TITLE
    assert article.author == "Marie de La Tour"
    assert article.published is not None and article.published.date().isoformat() == "2025-11-26"
    assert article.text.startswith("Les patrons pêcheurs de Lorient")
    assert article.category == "Économie"


@pytest.mark.parametrize(
    ("byline", "reason"),
    [
        ("Marie de La Tour, février 30, 2025", "the byline date 'février 30, 2025' is not a real"),
        ("Marie de La Tour, 2025-02-30", "the byline date '2025-02-30' is not a real date"),
        ("Marie de La Tour,", "a byline without a date ('Marie de La Tour,')"),
    ],
)
def test_a_byline_with_an_odd_or_missing_date_rejects_the_page(
    tmp_path: Path, byline: str, reason: str
) -> None:
    """Before, the title swallowed the byline and the first sentence, which left the body."""
    path = tmp_path / "page.txt"
    path.write_text(f"{SEED_TITLE} {byline} {SEED_BODY}", encoding="utf-8")
    [item] = list(iter_import_file(path))
    assert isinstance(item, ImportFormatError)
    assert item.line == 1 and item.reason.startswith(reason)


@pytest.mark.parametrize(
    "text",
    [
        "Emmanuel Macron, président, a annoncé lundi une réforme. Suite du texte.",
        "Un fait divers à Nantes. Les secours sont intervenus vers midi.",
        "Paris, la nuit, les rues se vident. Les bars ferment plus tôt.",
    ],
)
def test_a_page_without_any_byline_still_takes_its_first_sentence(text: str) -> None:
    article = parse_text_page(text)
    assert text.startswith(article.title) and article.text and article.author is None
