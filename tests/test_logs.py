"""The bot token never reaches a log line, whoever logs it and however."""

from __future__ import annotations

import logging

import pytest

from bot.logs import setup_logging

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


def test_token_is_redacted_from_messages_arguments_and_tracebacks(
    capsys: pytest.CaptureFixture[str],
) -> None:
    setup_logging(1, secrets=[TOKEN])
    log = logging.getLogger("httpx")
    log.warning("HTTP Request: POST https://api.telegram.org/bot%s/getUpdates", TOKEN)
    try:
        raise RuntimeError(f"failed calling /bot{TOKEN}/sendMessage")
    except RuntimeError:
        logging.getLogger("telegram.ext").exception("error")
    err = capsys.readouterr().err
    assert TOKEN not in err
    assert "/bot***/getUpdates" in err and "/bot***/sendMessage" in err
    assert "Traceback" in err


def test_verbosity_levels() -> None:
    setup_logging(0)
    assert logging.getLogger().level == logging.WARNING
    setup_logging(2)
    assert logging.getLogger().level == logging.DEBUG
