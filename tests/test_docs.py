"""Documentation that cannot drift: every bot command the bot handles is in /help (both
languages), in the Telegram command menu (both languages) and in the README, and nothing is
documented that the bot does not handle. `config.example.toml` loads."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from telegram.ext import CommandHandler

from bot.app import create_application
from bot.chat import render
from bot.chat.handlers import publish_commands
from bot.chat.i18n import COMMANDS
from bot.config import Config, TelegramConfig, load_config
from bot.models import INTERFACE_LANGUAGES
from tests.fakebotapi import FakeBotAPI, User, parse_html
from tests.helpers import FakeClock

ADMIN = User(id=909, first_name="Inès", language_code="fr")

ROOT = Path(__file__).resolve().parents[1]


def handled_commands() -> set[str]:
    application = create_application(
        Config(telegram=TelegramConfig(token="1:docs")), clock=FakeClock()
    )
    return {
        command
        for handlers in application.handlers.values()
        for handler in handlers
        if isinstance(handler, CommandHandler)
        for command in handler.commands
    }


def mentioned(text: str) -> set[str]:
    """Bot commands written as /name (not inside a path or a URL)."""
    return set(re.findall(r"(?<![\w/.:])/([a-z][a-z0-9_]*)\b(?!/)", text))


@pytest.fixture(scope="module")
def commands() -> set[str]:
    found = handled_commands()
    assert {"start", "help", "latest", "summary"} <= found
    return found


def admin_commands(language: str) -> set[str]:
    return {doc.name for doc in COMMANDS[language] if doc.admin}


@pytest.mark.parametrize("language", INTERFACE_LANGUAGES)
def test_help_documents_exactly_the_handled_commands(commands: set[str], language: str) -> None:
    """An admin's /help has every command; anyone else's all but the admins' ones."""
    assert admin_commands(language) == {"stats", "feeds", "addfeed", "delfeed"}
    help_text = parse_html(render.help_view(language, admin=True).text)
    assert mentioned(help_text) == commands
    for command in commands:
        assert re.search(rf"^/{command}\b.* — ", help_text, re.M), f"/{command} has no line"
    users = parse_html(render.help_view(language).text)
    assert mentioned(users) == commands - admin_commands(language)


def test_the_command_menu_lists_exactly_the_handled_commands(commands: set[str]) -> None:
    with FakeBotAPI() as api:
        config = Config(telegram=TelegramConfig(token=api.token, api_base_url=api.base_url))
        application = create_application(config, clock=FakeClock(), rate_limit=False)
        api.know_private_chat(ADMIN.id)  # the admin has started the bot before

        async def publish() -> None:
            async with application:
                await publish_commands(application, admins=(ADMIN.id,))

        asyncio.run(publish())
    for language in ("", *INTERFACE_LANGUAGES):
        if language == "en":
            continue  # English is the default menu ("")
        admins_only = admin_commands(language or "en")
        assert {c["command"] for c in api.commands[language]} == commands - admins_only
        assert {c["command"] for c in api.chat_commands[ADMIN.id][language]} == commands


def test_the_readme_documents_the_handled_commands(commands: set[str]) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = {c for c in commands if not re.search(rf"(?<![\w/])/{c}\b", readme)}
    assert not missing, f"README.md does not mention: {', '.join(sorted(missing))}"
    quoted = set(re.findall(r"`/([a-z][a-z0-9_]*)\b(?![/.])", readme))
    unknown = quoted - commands
    assert not unknown, f"README.md documents commands the bot does not have: {unknown}"


def test_config_example_loads() -> None:
    config = load_config(str(ROOT / "config.example.toml"), env={})
    assert config.source.endswith("config.example.toml")


def test_the_readme_explains_links_and_inline_mode() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for needle in ("### Link summaries", "169.254", "DNS rebinding", "### Inline mode"):
        assert needle in readme
    assert "/setinline" in readme  # the operator has to turn inline mode on
