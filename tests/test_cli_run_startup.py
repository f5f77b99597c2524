"""Every way `newsbot run` can fail at start-up ends in one line on stderr that shows neither
the bot token nor the webhook's secret token, even with -vv logging (issue 13, part 2)."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from bot.cli import main
from tests.fakebotapi import FakeBotAPI

LOG_LINE = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ [A-Z]+ ")
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
SECRET = "Webhook_Secret-7f3a9c"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(tmp_path: Path, api_base_url: str, *, webhook: bool = False) -> str:
    body = (
        f'[telegram]\ntoken = "{TOKEN}"\napi_base_url = "{api_base_url}"\n'
        f'[store]\nurl = "sqlite:///{tmp_path / "run.db"}"\n'
    )
    if webhook:
        body += (
            '[telegram.webhook]\nurl = "https://bot.example.org/hook"\n'
            f'listen = "127.0.0.1"\nport = {_closed_port()}\nsecret_token = "{SECRET}"\n'
        )
    path = tmp_path / "config.toml"
    path.write_text(body, encoding="utf-8")
    return str(path)


def _run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, config: str
) -> tuple[int, str]:
    """Run twice: without -v the error is the one line on stderr; with -vv (every request
    and its parameters logged, tracebacks too) neither secret shows anywhere."""
    for name in ("NEWSBOT_CONFIG", "NEWSBOT_TOKEN", "NEWSBOT_DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    quiet = main(["--config", config, "run", "--poll-timeout", "1"])
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    # The error is the last line; before it, at most a library's one-line log records.
    assert all(LOG_LINE.match(line) for line in err.splitlines()[:-1]), err
    _assert_secrets_hidden(err)
    code = main(["--config", config, "-vv", "run", "--poll-timeout", "1"])
    verbose = capsys.readouterr().err
    _assert_secrets_hidden(verbose)
    assert code == quiet and _last_line(verbose) == _last_line(err)
    return code, err


def _assert_secrets_hidden(err: str) -> None:
    for secret in (TOKEN, TOKEN.replace(":", "%3A"), TOKEN.split(":")[1], SECRET):
        assert secret not in err, err


def _last_line(err: str) -> str:
    return err.rstrip("\n").splitlines()[-1]


GET_ME_ANSWERS = {
    "401": (401, b'{"ok": false, "error_code": 401, "description": "Unauthorized"}'),
    "404": (404, b'{"ok": false, "error_code": 404, "description": "Not Found"}'),
    "409": (409, b'{"ok": false, "error_code": 409, "description": "Conflict: terminated"}'),
    "500": (500, b'{"ok": false, "error_code": 500, "description": "Internal Server Error"}'),
    "garbage": (200, b"<html>this is not JSON</html>"),
    "bad json": (200, b'{"ok": true, "result": '),
}


@pytest.mark.parametrize("answer", list(GET_ME_ANSWERS))
def test_a_refusing_or_broken_bot_api_is_one_line_without_secrets(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
) -> None:
    with FakeBotAPI(token=TOKEN, get_me_answer=GET_ME_ANSWERS[answer]) as api:
        code, err = _run(capsys, monkeypatch, _config(tmp_path, api.base_url, webhook=True))
    assert code in (1, 2)
    assert _last_line(err).startswith(("newsbot: config error: ", "newsbot run: ")), err


@pytest.mark.parametrize(
    "base_url",
    [f"http://127.0.0.1:{_closed_port()}/bot", "http://nonexistent.invalid/bot"],
    ids=["connection refused", "dns failure"],
)
def test_an_unreachable_bot_api_is_one_line_without_secrets(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    base_url: str,
) -> None:
    code, err = _run(capsys, monkeypatch, _config(tmp_path, base_url, webhook=True))
    assert code == 1
    assert _last_line(err).startswith("newsbot run: cannot reach the Bot API"), err


def test_a_refused_webhook_is_one_line_without_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with FakeBotAPI(token=TOKEN) as api:
        api.fail_next("setWebhook", f"Bad Request: bad webhook secret {SECRET}", 400, times=10)
        code, err = _run(capsys, monkeypatch, _config(tmp_path, api.base_url, webhook=True))
        assert api.calls_of("setWebhook"), "the webhook was never set: the test tests nothing"
        assert api.calls_of("setWebhook")[0].params["secret_token"] == SECRET
    assert code == 1
    assert _last_line(err).startswith("newsbot run: "), err


def test_the_refused_token_message_of_the_bot_api_is_redacted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The case of the issue: python-telegram-bot's InvalidToken quotes the token."""
    with FakeBotAPI(token=TOKEN, get_me_answer=GET_ME_ANSWERS["401"]) as api:
        code, err = _run(capsys, monkeypatch, _config(tmp_path, api.base_url))
    assert code == 2
    assert "newsbot: config error: telegram.token: refused by the Bot API at http" in err
    assert "(a revoked token, or telegram.api_base_url is not a Bot API)" in err
    assert TOKEN not in err
