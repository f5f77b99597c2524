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


def test_every_secret_is_redacted_also_percent_encoded(capsys: pytest.CaptureFixture[str]) -> None:
    secret = "Webhook_Secret-7f3a9c"
    setup_logging(2, secrets=[TOKEN, secret])
    logging.getLogger("telegram.ext.ExtBot").debug(
        "Calling Bot API endpoint `setWebhook` with parameters `{'secret_token': '%s'}`", secret
    )
    logging.getLogger("httpx").debug("GET /bot%s/getMe", TOKEN.replace(":", "%3A"))
    err = capsys.readouterr().err
    assert secret not in err and TOKEN.split(":")[1] not in err
    assert err.count("***") == 2


def test_without_verbosity_a_logged_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(0, secrets=[TOKEN])
    try:
        raise RuntimeError(f"failed calling /bot{TOKEN}/getMe")
    except RuntimeError:
        logging.getLogger("telegram.ext").exception("Network Retry Loop: aborting")
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err and TOKEN not in err
