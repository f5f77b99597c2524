"""The `newsbot` command line as a user runs it: import, export, stats, db upgrade, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli import build_parser, main
from bot.deliver.rules import PushRules
from bot.store import head_revision
from bot.text import cap_category
from tests.helpers import run_cli as run

FIXTURES = Path(__file__).parent / "fixtures" / "import"


def write_jsonl(path: Path, lines: list[object]) -> Path:
    path.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines)
        + "\n",
        encoding="utf-8",
    )
    return path


GOOD = [
    {
        "title": "La Bourse de Paris termine en hausse",
        "text": "Le CAC 40 a gagné 1,2 % vendredi. Les valeurs bancaires ont mené la hausse.",
        "url": "https://news.example.org/bourse",
        "guid": "bourse-1",
        "author": "Anne Dupont",
        "published": "2025-11-26T17:45:00+01:00",
        "category": "Économie",
        "language": "fr",
    },
    {
        "title": "Rain expected all weekend",
        "text": "Forecasters expect heavy rain across the north. Flood alerts are in place.",
        "category": "Weather",
        "language": "en",
    },
]


def test_every_command_has_help_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"import", "export", "db", "stats", "summarize"} <= set(commands)
    for argv in [[name, "--help"] for name in commands] + [["db", "upgrade", "--help"]]:
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 0
        assert "example:\n  " in (out := capsys.readouterr().out) and "newsbot " in out, argv


def test_import_reports_bad_lines_and_keeps_the_good(
    sqlite_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(
        tmp_path / "in.jsonl",
        [
            GOOD[0],
            "{not json",
            {"text": "no title"},
            GOOD[1],
            {"title": "T", "text": "x", "published": "hier"},
        ],
    )
    code, out, err = run(capsys, "import", "--no-summaries", str(path))
    assert code == 0
    assert out.strip() == "imported 2, skipped 0 duplicate(s), rejected 3"
    problems = err.strip().splitlines()
    assert [p.split(": ", 1)[0] for p in problems] == [f"{path}:2", f"{path}:3", f"{path}:5"]
    assert "title" in problems[1] and "hier" in problems[2]

    code, out, _ = run(capsys, "import", "--no-summaries", str(path))
    assert code == 0 and out.startswith("imported 0, skipped 2 duplicate(s), rejected 3")


def test_import_of_a_text_page_and_stats(
    sqlite_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "import", "--no-summaries", str(FIXTURES / "page-fr-oneline.txt"))
    assert (code, out.strip()) == (0, "imported 1, skipped 0 duplicate(s), rejected 0")
    code, out, _ = run(capsys, "stats", "--json")
    stats = json.loads(out)
    assert stats["articles"] == 1 and stats["deliveries"] == {}
    (category,) = stats["categories"]
    code, out, _ = run(capsys, "stats")
    assert code == 0 and "articles:       1" in out and category in out
    assert "sqlite" in out


def test_import_of_the_shipped_sample_is_idempotent(
    sqlite_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "import", "--sample", "--no-summaries")
    assert (code, out.strip()) == (0, "imported 9, skipped 0 duplicate(s), rejected 0")
    code, out, _ = run(capsys, "import", "--sample", "--no-summaries")
    assert (code, out.strip()) == (0, "imported 0, skipped 9 duplicate(s), rejected 0")
    code, out, _ = run(capsys, "stats", "--json")
    assert json.loads(out)["categories"] == {
        "Politique": 1,
        "Science": 3,
        "Sport": 3,
        "Économie": 2,
    }
    code, out, _ = run(capsys, "export", "--category", "science")
    titles = [json.loads(line)["title"] for line in out.splitlines()]
    assert "Telescope spots water vapour around a distant planet" in titles
    assert {json.loads(line)["language"] for line in out.splitlines()} == {"fr", "en"}


def test_import_needs_files_or_the_sample(
    sqlite_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "import")
    assert (code, out) == (2, "") and "--sample" in err


def test_import_fails_only_when_nothing_was_read(
    sqlite_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code, out, err = run(capsys, "import", str(tmp_path / "missing.jsonl"), str(empty))
    assert code == 1
    assert out.strip() == "imported 0, skipped 0 duplicate(s), rejected 0, 2 unreadable file(s)"
    assert f"{tmp_path / 'missing.jsonl'}:0:" in err and f"{empty}:0:" in err


def test_import_with_summaries_precomputes_them(
    sqlite_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long_text = " ".join(
        f"Phrase numéro {i} sur la réforme des retraites et le budget de l'État." for i in range(12)
    )
    records = [
        {"title": "Retraites", "text": long_text},
        # A language the summarizer lacks: summarized in the one detected, as ingest does.
        {"title": "Budget", "text": long_text.replace("Phrase", "Ligne"), "language": "ru"},
    ]
    path = write_jsonl(tmp_path / "a.jsonl", records)
    code, out, _ = run(capsys, "import", "--summaries", str(path))
    assert code == 0 and out.strip().endswith("; 2 summaries computed")


def test_import_leaves_summaries_for_when_they_are_first_needed(
    sqlite_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [{"title": "Retraites", "text": "Une phrase. " * 9}])
    code, out, _ = run(capsys, "import", str(path))
    assert (code, out.strip()) == (0, "imported 1, skipped 0 duplicate(s), rejected 0")


def test_export_round_trips_into_another_store(
    sqlite_env: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    store_url: str,
) -> None:
    """SQLite -> JSON Lines -> the other backends (SQLite and PostgreSQL): every field kept."""
    path = write_jsonl(tmp_path / "in.jsonl", GOOD)
    run(capsys, "import", "--no-summaries", str(path), str(FIXTURES / "page-fr-oneline.txt"))
    code, exported, err = run(capsys, "export")
    assert code == 0 and err.strip() == "exported 3 article(s)"
    first = [json.loads(line) for line in exported.splitlines()]
    assert [r["id"] for r in first] == [1, 2, 3]
    assert first[0]["published"].startswith("2025-11-26T16:45:00")  # UTC

    dump = tmp_path / "dump.jsonl"
    dump.write_text(exported, encoding="utf-8")
    monkeypatch.setenv("NEWSBOT_DATABASE_URL", store_url)
    code, out, _ = run(capsys, "import", "--no-summaries", str(dump))
    assert (code, out.strip()) == (0, "imported 3, skipped 0 duplicate(s), rejected 0")
    code, again, _ = run(capsys, "export")
    assert [json.loads(line) for line in again.splitlines()] == first

    code, only, _ = run(capsys, "export", "--category", "weather")
    assert [json.loads(line)["title"] for line in only.splitlines()] == [GOOD[1]["title"]]
    code, _, err = run(capsys, "export", "--category", "Sport")
    assert code == 1 and "no category 'Sport'" in err


def test_db_upgrade_creates_then_reports_up_to_date(
    sqlite_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "db", "upgrade")
    assert code == 0 and f"upgraded from an empty database to {head_revision()}" in out
    code, out, _ = run(capsys, "db", "upgrade")
    assert code == 0 and f"already at revision {head_revision()}" in out
    assert sqlite_env.exists()


def test_config_errors_are_one_line_exit_2_without_the_token(
    sqlite_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[telegram]\ntoken = "999:TOPSECRET"\n[summary]\nsentences = "x"\n')
    code, out, err = run(capsys, "--config", str(config), "stats")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and "summary.sentences: expected an integer" in err
    assert "TOPSECRET" not in err


def test_unreachable_database_is_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    # Port 9 on loopback: nothing listens there, the connection is refused at once.
    monkeypatch.setenv("NEWSBOT_DATABASE_URL", "postgresql://u:pw-secret@127.0.0.1:9/x")
    code, out, err = run(capsys, "stats")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("newsbot stats: ")
    assert "pw-secret" not in err


def test_console_entry_point_runs_with_no_config_at_all(tmp_path: Path) -> None:
    """`python -m bot` in an empty directory with an empty HOME: built-in defaults work."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
    env["HOME"] = str(tmp_path)
    for command in (["db", "upgrade"], ["stats", "--json"]):
        result = subprocess.run(
            [sys.executable, "-m", "bot", *command],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["articles"] == 0
    assert (tmp_path / "newsbot.db").exists()


def test_stats_show_the_deliveries_queue_and_deactivated_chats(
    sqlite_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from bot.models import NewArticle
    from bot.store import open_store
    from tests.helpers import FakeClock

    async def fill() -> None:
        store = await open_store(f"sqlite:///{sqlite_env}", clock=FakeClock(), rules=PushRules())
        try:
            await store.add_articles([NewArticle(title="A", text="Premier.", category="Sport")])
            for chat in (1, 2):
                await store.upsert_chat(chat)
                await store.subscribe(chat, "sport")
            await store.add_articles([NewArticle(title="B", text="Second.", category="Sport")])
            await store.deactivate_chat(2, "blocked the bot")
        finally:
            await store.close()

    asyncio.run(fill())
    code, out, _ = run(capsys, "stats", "--json")
    stats = json.loads(out)
    assert code == 0 and stats["deliveries"] == {"pending": 1, "failed": 1}
    assert stats["chats"] == 2 and stats["chats_deactivated"] == 1
    code, out, _ = run(capsys, "stats")
    assert "chats:          2 (1 deactivated)" in out
    assert "deliveries:     1 pending (failed 1)" in out


# -- database URLs as users write them (issue 13, part 5) ---------------------------------------


def test_database_urls_map_to_the_async_drivers_we_ship() -> None:
    from bot.store import async_url

    assert async_url("postgresql://u:pw@db.example/news?sslmode=require") == (
        "postgresql+asyncpg://u:pw@db.example/news?ssl=require"
    )
    assert async_url("postgres://u@db.example:6543/news?sslmode=verify-full&ssl=prefer") == (
        "postgresql+asyncpg://u@db.example:6543/news?ssl=prefer"
    )
    assert async_url("postgresql+psycopg2://u@h/n").startswith("postgresql+asyncpg://u@h/n")
    assert async_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://u:pw-secret@h:abc/x", "the port is not a number"),
        ("pw-secret not a url", "expected dialect://"),
    ],
)
def test_an_unreadable_database_url_is_a_store_error_without_the_password(
    url: str, message: str
) -> None:
    from bot.errors import StoreError
    from bot.store import async_url, describe_store, redact

    with pytest.raises(StoreError, match=message) as caught:
        async_url(url)
    assert "pw-secret" not in str(caught.value)
    assert "pw-secret" not in redact(url) and "pw-secret" not in describe_store(url)


def test_a_database_url_with_a_bad_port_is_one_line_exit_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEWSBOT_DATABASE_URL", "postgresql://u:pw-secret@127.0.0.1:abc/x")
    code, out, err = run(capsys, "stats")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "NEWSBOT_DATABASE_URL: store.url: the port is not a number" in err
    assert "pw-secret" not in err


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:pw-secret@127.0.0.1:9/x?sslmode=disable",
        "postgresql+psycopg2://u:pw-secret@127.0.0.1:9/x",
    ],
)
def test_libpq_and_psycopg2_urls_reach_the_database(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    """Both used to end in a traceback (an unknown `sslmode` argument, a driver not
    installed); now they connect, and the refused connection is one line naming the store."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEWSBOT_DATABASE_URL", url)
    code, out, err = run(capsys, "stats")
    assert code == 1 and out == "" and err.count("\n") == 1, err
    assert "127.0.0.1:9/x" in err and "pw-secret" not in err


# -- commands that only read create nothing (issue 13, part 5) ----------------------------------


@pytest.mark.parametrize("command", [["stats"], ["stats", "--json"], ["export"]])
def test_reading_a_mistyped_sqlite_path_creates_nothing(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    command: list[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NEWSBOT_CONFIG", raising=False)
    typo = tmp_path / "dta" / "news.db"
    monkeypatch.setenv("NEWSBOT_DATABASE_URL", f"sqlite:///{typo}")
    code, out, err = run(capsys, *command)
    assert code == 1 and out == "" and err.count("\n") == 1
    assert f"no store at SQLite {typo}" in err
    assert not (tmp_path / "dta").exists()


@pytest.mark.parametrize("command", ["stats", "export"])
def test_reading_an_empty_sqlite_file_creates_no_schema(
    sqlite_env: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    import sqlite3

    sqlite3.connect(sqlite_env).close()  # an empty file: a database without our tables
    code, out, err = run(capsys, command)
    assert code == 1 and out == "" and err.count("\n") == 1
    assert "is empty: no newsbot tables yet" in err
    with sqlite3.connect(sqlite_env) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)


def test_reading_an_empty_postgresql_database_creates_no_schema(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from sqlalchemy import text

    from bot.store import create_engine
    from tests.conftest import scratch_postgres

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NEWSBOT_CONFIG", raising=False)
    with scratch_postgres("newsbot_ro") as url:
        monkeypatch.setenv("NEWSBOT_DATABASE_URL", url)
        code, out, err = run(capsys, "stats")
        assert code == 1 and out == "" and "is empty: no newsbot tables yet" in err

        async def tables() -> int:
            engine = create_engine(url)
            try:
                async with engine.connect() as conn:
                    query = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
                    return int((await conn.execute(text(query))).scalar_one())
            finally:
                await engine.dispose()

        assert asyncio.run(tables()) == 0


# -- numbers too large, unknown ids, wide rows (issue 13, parts 5 and 7) ------------------------

HUGE = "999999999999999999999999"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["feeds", "remove", HUGE], f"no feed {HUGE}"),
        (["feeds", "enable", HUGE], f"no feed {HUGE}"),
        (["feeds", "remove", "-5"], "no feed -5"),
        (["ingest", "--once", "--feed", HUGE], f"no feed {HUGE}"),
        (["ingest", "--once", "--feed", "99999"], "no feed 99999"),
        (
            ["feeds", "add", "https://x.example/rss", "X", "--interval", "99999999999999999999"],
            "the interval must be from 1 to",
        ),
        (
            ["feeds", "add", "https://x.example/rss", "X", "--interval", "10000000000"],
            "the interval must be from 1 to",
        ),
    ],
)
def test_ids_and_intervals_out_of_range_are_one_line(
    sqlite_env: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == "" and err.count("\n") == 1, err
    assert message in err


def test_ingest_of_a_disabled_feed_says_so(
    sqlite_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from bot.models import FeedState
    from bot.store import open_store
    from tests.helpers import START, FakeClock

    async def disabled_feed() -> int:
        store = await open_store(f"sqlite:///{sqlite_env}", clock=FakeClock(), rules=PushRules())
        try:
            feed = await store.upsert_feed("https://x.example/rss", category="X")
            state = FeedState(START, START, failures=10, last_error="down", enabled=False)
            await store.save_feed_state(feed.id, state)
            return feed.id
        finally:
            await store.close()

    feed_id = asyncio.run(disabled_feed())
    code, out, err = run(capsys, "ingest", "--once", "--feed", str(feed_id))
    assert code == 1 and out == "" and err.count("\n") == 1
    assert f"feed {feed_id} is disabled; `newsbot feeds enable {feed_id}` first" in err


def test_stats_rows_are_not_padded_to_the_longest_category(
    sqlite_env: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    long_name = "Catégorie " + "x" * 5000
    write_jsonl(
        tmp_path / "a.jsonl",
        [
            {**GOOD[0], "category": long_name},
            {**GOOD[1], "category": "Weather"},
        ],
    )
    assert run(capsys, "import", "--no-summaries", str(tmp_path / "a.jsonl"))[0] == 0
    code, out, _ = run(capsys, "stats")
    assert code == 0
    rows = [line for line in out.splitlines() if line.startswith("  ")]
    assert len(rows) == 2 and max(len(row) for row in rows) <= 60, out
    assert "Catégorie xxx" in out and "…" in out
    code, out, _ = run(capsys, "stats", "--json")
    # --json keeps the name as stored (import caps a category at 200 characters), uncut.
    assert cap_category(long_name) in json.loads(out)["categories"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[summary]\nalgorithm = "textrnk"', "summary.algorithm: unknown algorithm 'textrnk'"),
        ('[summary]\nlanguage = "klingon"', "summary.language: unsupported language"),
    ],
)
def test_an_unknown_summary_algorithm_or_language_is_refused_at_start(
    sqlite_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, message: str
) -> None:
    config = tmp_path / "summary.toml"
    config.write_text(body + "\n", encoding="utf-8")
    code, out, err = run(capsys, "--config", str(config), "stats")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert message in err and str(config) in err


def test_a_supported_summary_language_in_another_spelling_is_accepted(
    sqlite_env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "summary.toml"
    config.write_text('[summary]\nalgorithm = "lexrank"\nlanguage = "en-GB"\n', encoding="utf-8")
    assert run(capsys, "--config", str(config), "db", "upgrade")[0] == 0


def test_libpq_style_urls_work_on_a_real_postgresql(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from sqlalchemy.engine import make_url

    from tests.conftest import scratch_postgres

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NEWSBOT_CONFIG", raising=False)
    with scratch_postgres("newsbot_url") as url:
        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        psycopg2 = plain.replace("postgresql://", "postgresql+psycopg2://", 1)
        monkeypatch.setenv("NEWSBOT_DATABASE_URL", f"{psycopg2}?sslmode=disable")
        code, out, err = run(capsys, "db", "upgrade")
        assert code == 0, err
        monkeypatch.setenv("NEWSBOT_DATABASE_URL", f"{plain}?sslmode=prefer")
        code, out, err = run(capsys, "stats", "--json")
        assert code == 0 and json.loads(out)["articles"] == 0, err
