"""`newsbot shell`: the bot in a terminal, driven by piped input."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import time
from argparse import Namespace
from pathlib import Path

import pytest

from bot.chat.shell import Screen, ShownButton, language_from_env, terminal_text
from bot.cli.run import cmd_shell
from bot.config import Config, StoreConfig
from tests.fakebotapi import FakeBotAPI, User
from tests.helpers import FakeClock, seed

ROOT = Path(__file__).resolve().parents[1]
NEWSBOT = [sys.executable, "-m", "bot"]


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "shell.db"
    asyncio.run(seed(f"sqlite+aiosqlite:///{path}"))
    return path


def test_newsbot_shell_over_a_pipe(store_path: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEWSBOT_", "LC_", "LANG"))}
    env.update(NEWSBOT_DATABASE_URL=f"sqlite:///{store_path}", LANG="en_GB.UTF-8")
    done = subprocess.run(
        [*NEWSBOT, "shell"],
        input="/latest 3\n1\n1 sentence\n/quit\n/help\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "📰 Latest articles · 1–3 of 11" in out
    assert "[1] 1 · 📝 Summary   [2] 📄 Text   [3] 🔗 Link ↗" in out
    summary = out.split("› 1\n", 1)[1]
    assert summary.lstrip("─ newsbot\n").startswith("📝 Summary · ≤ 3 sentences, ~60 words")
    assert "1 · La Bourse de Paris termine en hausse" in summary
    assert "✎ newsbot (edited)" in out and "📝 Summary · 1 sentence\n" in out
    assert "Commands" not in out  # /quit ended the session before /help


def run_shell(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    store_path: Path,
    lines: str,
    language: str | None = "fr",
) -> str:
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines))
    config = Config(store=StoreConfig(url=f"sqlite+aiosqlite:///{store_path}"))
    args = Namespace(language=language, sample=False)
    assert asyncio.run(cmd_shell(args, config, FakeClock())) == 0
    return capsys.readouterr().out


def test_shell_with_the_sample_on_an_empty_store(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`newsbot shell --sample` on a fresh machine: the shipped articles, loaded once."""
    config = Config(store=StoreConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"))
    args = Namespace(language="en", sample=True)
    monkeypatch.setattr(sys, "stdin", io.StringIO("/latest\n"))
    assert asyncio.run(cmd_shell(args, config, FakeClock())) == 0
    out, err = capsys.readouterr()
    assert "sample articles: imported 9, skipped 0 duplicate(s)" in err
    assert "📰 Latest articles · 1–5 of 9" in out
    assert "L’inflation ralentit pour le troisième mois consécutif" in out
    monkeypatch.setattr(sys, "stdin", io.StringIO("/latest\n"))
    assert asyncio.run(cmd_shell(args, config, FakeClock())) == 0
    out, err = capsys.readouterr()
    assert "sample articles: imported 0, skipped 9 duplicate(s)" in err
    assert "📰 Latest articles · 1–5 of 9" in out


def test_buttons_by_number_and_label_and_links(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, store_path: Path
) -> None:
    out = run_shell(capsys, monkeypatch, store_path, "/latest économie 2\nplus\n3\n")
    assert "📰 Économie · 1–2 sur 7" in out
    assert "── ✎ newsbot (edited)" in out and "📰 Économie · 3–4 sur 7" in out
    assert "↗ https://news.example.org/eco/2" in out  # button 3 of the edited list is a link


def test_notices_and_settings(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, store_path: Path
) -> None:
    out = run_shell(capsys, monkeypatch, store_path, "/settings\n5 phrases 100 mots\nenglish\n")
    assert "ⓘ Enregistré ✓" in out
    assert "Résumés : ≤ 5 phrases, ~100 mots" in out
    assert "⚙️ Settings" in out and "ⓘ Saved ✓" in out


def test_an_unchanged_edit_is_not_printed_again(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, store_path: Path
) -> None:
    out = run_shell(capsys, monkeypatch, store_path, "/summary 1\n✓ 3 phrases 60 mots\n/help\n")
    assert out.count("📝 Résumé · ≤ 3 phrases, ~60 mots") == 1
    assert "Commandes" in out


def test_language_from_the_locale() -> None:
    assert language_from_env({"LANG": "fr_FR.UTF-8"}) == "fr"
    assert language_from_env({"LC_ALL": "en_US.UTF-8", "LANG": "fr_FR.UTF-8"}) == "en"
    assert language_from_env({"LANG": "C.UTF-8"}) == "en"
    assert language_from_env({}) == "en"


def test_terminal_rendering() -> None:
    html = '<b>Titre</b> &amp; <a href="https://e.org/x">source</a>'
    assert terminal_text(html, "HTML") == "Titre & source <https://e.org/x>"
    assert terminal_text(html, "HTML", color=True).startswith("\033[1mTitre\033[0m")
    assert terminal_text("<b>brut</b>", None) == "<b>brut</b>"


def test_finding_buttons() -> None:
    screen = Screen(io.StringIO())
    message = {"message_id": 1}
    screen.buttons = [
        ShownButton("42 · 📝 Résumé", message, "S:42"),
        ShownButton("✓ 3 phrases", message, "s:42:3"),
        ShownButton("🔗 Lien", message, url="https://e.org"),
    ]
    assert screen.find("1") is screen.buttons[0]
    assert screen.find("42 résumé") is screen.buttons[0]
    assert screen.find("3 PHRASES") is screen.buttons[1]
    assert screen.find("lien") is screen.buttons[2]
    assert screen.find("4") is None and screen.find("0") is None
    assert screen.find("bourse") is None


def test_run_and_shell_options_document_their_defaults() -> None:
    import argparse

    from bot.chat.application import DEFAULT_CONCURRENCY
    from bot.cli.run import add_run_arguments, add_shell_arguments

    run = argparse.ArgumentParser()
    add_run_arguments(run)
    assert f"(default: {DEFAULT_CONCURRENCY})" in run.format_help()
    assert run.parse_args([]).concurrency is None
    shell = argparse.ArgumentParser()
    add_shell_arguments(shell)
    assert shell.parse_args(["--language", "en"]).language == "en"


def test_newsbot_run_answers_and_stops_on_sigterm(store_path: Path, tmp_path: Path) -> None:
    with FakeBotAPI() as api:
        config = tmp_path / "config.toml"
        config.write_text(
            # No feeds: the ingest job must not reach for the built-in public ones.
            "feeds = []\n"
            f'[telegram]\ntoken = "{api.token}"\napi_base_url = "{api.base_url}"\n'
            f'[store]\nurl = "sqlite:///{store_path}"\n',
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSBOT_")}
        process = subprocess.Popen(
            [*NEWSBOT, "--config", str(config), "run", "--poll-timeout", "1"],
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        try:
            deadline = time.monotonic() + 60
            while "fr" not in api.commands and process.poll() is None:
                assert time.monotonic() < deadline, "the bot did not start"
                time.sleep(0.05)
            update_id = api.send_message(User(id=77, language_code="en"), "/help")
            api.wait_acknowledged(update_id, timeout=30)
            while not api.calls_of("sendMessage"):
                assert time.monotonic() < deadline, "the bot did not answer"
                time.sleep(0.05)
        finally:
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "@newsbot_test_bot is receiving updates by long polling" in err
    assert err.rstrip().endswith("newsbot run: stopped")
    assert api.token not in err
    assert api.calls_of("sendMessage")[0].text.startswith("<b>Commands</b>")
