"""Both languages say everything, with the same placeholders, in HTML Telegram accepts."""

from __future__ import annotations

import re
import string

import pytest

from bot.chat.i18n import COMMANDS, MESSAGES, plain, plural, t
from bot.models import INTERFACE_LANGUAGES
from tests.fakebotapi import parse_html

# Keys used where Telegram takes no HTML: callback notices and button labels.
PLAIN_PREFIXES = ("notice_", "btn_", "sentences_", "articles_", "page")


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_key_exists_in_every_language() -> None:
    assert set(MESSAGES) == set(INTERFACE_LANGUAGES)
    keys = {language: set(MESSAGES[language]) for language in INTERFACE_LANGUAGES}
    assert keys["fr"] == keys["en"]


@pytest.mark.parametrize("key", sorted(MESSAGES["fr"]))
def test_same_placeholders_and_valid_html(key: str) -> None:
    assert placeholders(MESSAGES["fr"][key]) == placeholders(MESSAGES["en"][key])
    for language in INTERFACE_LANGUAGES:
        template = MESSAGES[language][key]
        values = {name: "<x & y>" for name in placeholders(template)}
        if key.startswith(PLAIN_PREFIXES):
            assert not re.search(r"[<>&]", template), f"{language}:{key} must be plain text"
            assert "<x & y>" in plain(language, key, **values) or not values
        else:
            filled = t(language, key, **values)
            assert "<x & y>" not in filled  # values are escaped
            parse_html(filled)


def test_commands_are_documented_alike_in_both_languages() -> None:
    names = {language: [doc.name for doc in COMMANDS[language]] for language in INTERFACE_LANGUAGES}
    assert names["fr"] == names["en"]
    for language in INTERFACE_LANGUAGES:
        for doc in COMMANDS[language]:
            assert re.fullmatch(r"[a-z0-9_]{1,32}", doc.name)
            assert 3 <= len(doc.menu) <= 256
            assert doc.examples and all(e.startswith(f"/{doc.name}") for e in doc.examples)
            parse_html(doc.args + doc.help)


def test_plural_rules() -> None:
    assert plural("fr", "sentences", 0) == "0 phrase"
    assert plural("fr", "sentences", 1) == "1 phrase"
    assert plural("fr", "sentences", 2) == "2 phrases"
    assert plural("en", "sentences", 0) == "0 sentences"
    assert plural("en", "sentences", 1) == "1 sentence"
    assert plural("en", "articles", 1200) == "1,200 articles"


def test_unknown_language_falls_back_to_english() -> None:
    assert t("de", "help_title") == MESSAGES["en"]["help_title"]
