"""The bot as a Telegram user meets it: the real Application (built by `bot.app`) polling a fake
Bot API over real HTTP, a real store with French and English articles. Every assertion is about
what the user would see: texts, buttons, edits, notices. The fake API refuses invalid HTML,
texts over 4096 and callback data over 64 bytes as Telegram does, and each test ends by checking
that it refused nothing it was not told to.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.app import PeriodicJob, Runtime, default_jobs
from bot.cli.run import cmd_run
from bot.config import (
    Config,
    FeedConfig,
    IngestConfig,
    StoreConfig,
    TelegramConfig,
    WebhookConfig,
)
from bot.errors import ConfigError
from bot.summarize import summarize
from tests.fakebotapi import Call, FakeBotAPI, User, utf16_len
from tests.feedserver import FeedServer
from tests.helpers import (
    EN,
    FR,
    LONG_PARAGRAPHS,
    Bot,
    FakeClock,
    free_port,
    message_of,
    only,
    rows_of,
    running_bot,
    seed,
    seed_articles,
    shown,
)


def fr_quote(text: str) -> str:
    """French quotation marks, with the no-break spaces French typography puts inside."""
    return f"«\u00a0{text}\u00a0»"


def answer(calls: Sequence[Call]) -> Call:
    return only(calls, "answerCallbackQuery")


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"
    ids = await seed(url)
    async with running_bot(url, ids) as running:
        yield running


# -- start, help, commands menu ------------------------------------------------------------------


async def test_start_welcomes_in_the_users_language_with_buttons(bot: Bot) -> None:
    fr = only(await bot.send("/start"), "sendMessage")
    assert "Bienvenue sur newsbot" in shown(fr)
    for command in ("/latest", "/categories", "/search", "/summary", "/settings", "/help"):
        assert command in shown(fr)
    assert rows_of(fr) == [["📰 Derniers articles", "🗂 Rubriques"], ["⚙️ Réglages"]]

    en = only(await bot.send("/start", user=EN), "sendMessage")
    assert "Welcome to newsbot" in shown(en)
    latest = only(await bot.press(en, "📰 Latest articles", user=EN), "sendMessage")
    assert shown(latest).startswith("📰 Latest articles · 1–5 of 11")


ADMIN = User(id=909, first_name="Inès", language_code="fr")

MENU = ["latest", "categories", "search", "summary", "full", "summarize"]
MENU += ["subscribe", "unsubscribe", "subscriptions", "digest", "quiet", "timezone"]
MENU += ["pause", "resume", "format", "settings", "language", "help", "start"]
ADMIN_MENU = [*MENU[:-2], "stats", "feeds", "addfeed", "delfeed", "help", "start"]


async def test_commands_menu_is_published_in_both_languages(bot: Bot) -> None:
    assert [c["command"] for c in bot.api.commands[""]] == MENU
    assert [c["command"] for c in bot.api.commands["fr"]] == MENU
    assert bot.api.commands["fr"][0]["description"] == "Les derniers articles"
    assert bot.api.commands[""][0]["description"] == "The latest articles"
    assert bot.api.chat_commands == {}  # no admins configured: nobody gets the admins' menu


async def test_the_admins_commands_are_in_the_admins_menu_and_help_only(tmp_path: Path) -> None:
    """Others get the unknown-command answer for /stats, /feeds, /addfeed and /delfeed, so
    their menu and /help do not offer them; an admin's do, as soon as Telegram knows the
    admin's chat (at start-up if they have talked to the bot, else at their /start)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'chat.db'}"
    ids = await seed(url)
    async with running_bot(url, ids, admins=(ADMIN.id,), admins_known=False) as bot:
        assert bot.api.chat_commands == {}  # the admin never wrote: "chat not found", logged
        bot.allowed_failures += 1
        await bot.send("/start", user=ADMIN)
        menus = bot.api.chat_commands[ADMIN.id]
        assert [c["command"] for c in menus[""]] == ADMIN_MENU
        assert [c["command"] for c in menus["fr"]] == ADMIN_MENU
        assert [c["command"] for c in bot.api.commands[""]] == MENU

        own = shown(only(await bot.send("/help", user=ADMIN), "sendMessage"))
        other = shown(only(await bot.send("/help", user=EN), "sendMessage"))
        for command in ("/stats", "/feeds", "/addfeed", "/delfeed"):
            assert f"\n{command} " in own
            assert command not in other
        await bot.send("/start", user=EN)
        assert set(bot.api.chat_commands) == {ADMIN.id}  # nobody else got a menu of their own


async def test_deep_link_opens_the_article(bot: Bot) -> None:
    reply = only(await bot.send(f"/start art_{bot.ids['eco0']}"), "sendMessage")
    text = shown(reply)
    assert text.startswith("📝 Résumé · ≤ 3 phrases, ~60 mots")
    assert f"{bot.ids['eco0']} · La Bourse de Paris termine en hausse" in text
    assert text.count("• ") == 3


async def test_deep_link_to_a_missing_article_says_so(bot: Bot) -> None:
    reply = only(await bot.send("/start art_999999"), "sendMessage")
    assert shown(reply).startswith("Pas d’article n° 999999.")


async def test_help_lists_every_command_with_an_example(bot: Bot) -> None:
    text = shown(only(await bot.send("/help"), "sendMessage"))
    for example in (
        "/latest économie 3",
        "/categories",
        "/search retraites",
        "/summary 42 5",
        "/full 42",
        "/summarize https://www.example.org/article 5",
        "/settings",
        "/language en",
        "/help",
        "/start",
    ):
        assert example in text
    assert "Commands" in shown(only(await bot.send("/help", user=EN), "sendMessage"))


# -- latest and paging --------------------------------------------------------------------------


async def test_latest_shows_numbered_articles_with_buttons(bot: Bot) -> None:
    reply = only(await bot.send("/latest"), "sendMessage")
    text = shown(reply)
    assert text.startswith("📰 Derniers articles · 1–5 sur 11")
    eco0 = bot.ids["eco0"]
    assert f"{eco0} · La Bourse de Paris termine en hausse" in text
    assert "Économie · Anne Dupont · news.example.org · 26 novembre 2025" in text
    assert reply.params["parse_mode"] == "HTML"
    rows = reply.buttons
    assert len(rows) == 6  # one row per article, then paging
    first = rows[0]
    assert [b["text"] for b in first] == [f"{eco0} · 📝 Résumé", "📄 Texte", "🔗 Lien"]
    assert first[2]["url"] == "https://news.example.org/eco/0"
    assert [b["text"] for b in rows[-1]] == ["Plus ›"]


async def test_latest_in_a_category_is_accent_and_case_insensitive(bot: Bot) -> None:
    for typed in ("économie", "ECONOMIE", "Economie"):
        text = shown(only(await bot.send(f"/latest {typed} 3"), "sendMessage"))
        assert text.startswith("📰 Économie · 1–3 sur 7")
        assert text.count("\nÉconomie · ") == 3
    count_first = shown(only(await bot.send("/latest 2 économie"), "sendMessage"))
    assert count_first.startswith("📰 Économie · 1–2 sur 7")


async def test_more_pages_through_older_articles_by_editing(bot: Bot) -> None:
    first = only(await bot.send("/latest économie 3"), "sendMessage")
    assert "Le prix du gazole recule encore" in shown(first)
    second = only(await bot.press(first, "Plus ›"), "editMessageText")
    assert message_of(second) == message_of(first)
    assert shown(second).startswith("📰 Économie · 4–6 sur 7")
    assert "Les exportations de vin progressent" in shown(second)
    assert rows_of(second)[-1] == ["‹ Plus récents", "Plus ›"]
    third = only(await bot.press(second, "Plus ›"), "editMessageText")
    assert shown(third).startswith("📰 Économie · 7–7 sur 7")
    assert rows_of(third)[-1] == ["‹ Plus récents"]
    back = only(await bot.press(third, "‹ Plus récents"), "editMessageText")
    assert shown(back).startswith("📰 Économie · 4–6 sur 7")
    assert not bot.api.calls_of("sendMessage", bot.api.calls.index(first) + 1)


async def test_bad_counts_get_a_usage_line(bot: Bot) -> None:
    for typed in ("/latest 0", "/latest 1000", "/latest économie 21", "/latest -3"):
        text = shown(only(await bot.send(typed), "sendMessage"))
        assert text == "Le nombre d’articles va de 1 à 20, par exemple /latest économie 3."


async def test_unknown_category_suggests_the_closest(bot: Bot) -> None:
    reply = only(await bot.send("/latest econmie"), "sendMessage")
    assert shown(reply) == f"Pas de rubrique {fr_quote('econmie')}. Vouliez-vous dire : Économie ?"
    assert rows_of(reply) == [["Économie · 7"]]
    pressed = only(await bot.press(reply, "Économie · 7"), "sendMessage")
    assert shown(pressed).startswith("📰 Économie · 1–5 sur 7")
    nothing = only(await bot.send("/latest zzzzzz"), "sendMessage")
    assert shown(nothing) == f"Pas de rubrique {fr_quote('zzzzzz')}. /categories les liste toutes."


async def test_categories_with_counts_and_buttons(bot: Bot) -> None:
    reply = only(await bot.send("/categories"), "sendMessage")
    text = shown(reply)
    assert text.startswith("🗂 Rubriques · 5")
    assert "Économie — 7 articles" in text
    assert "Culture — 1 article" in text
    assert rows_of(reply)[0] == ["Économie · 7", "🔔 S’abonner"]
    assert rows_of(reply)[1] == ["Culture · 1", "🔔 S’abonner"]
    opened = only(await bot.press(reply, "Culture · 1"), "sendMessage")
    assert shown(opened).startswith("📰 Culture · 1–1 sur 1")


# -- one article --------------------------------------------------------------------------------


async def test_summary_button_opens_a_summary_and_lengths_switch_in_place(bot: Bot) -> None:
    listing = only(await bot.send("/latest économie 3"), "sendMessage")
    eco0 = bot.ids["eco0"]
    opened = only(await bot.press(listing, f"{eco0} · 📝 Résumé"), "sendMessage")
    text = shown(opened)
    assert text.startswith("📝 Résumé · ≤ 3 phrases, ~60 mots\n")
    assert text.count("• ") == 3
    assert rows_of(opened) == [
        ["1 phrase", "✓ ≤ 3 phrases, ~60 mots", "≤ 5 phrases, ~100 mots"],
        ["📄 Texte intégral", "🔗 Lien"],
    ]
    calls = await bot.press(opened, "1 phrase")
    one = only(calls, "editMessageText")
    assert shown(one).startswith("📝 Résumé · 1 phrase\n") and shown(one).count("• ") == 1
    assert answer(calls).params.get("text") is None
    five = only(await bot.press(one, "≤ 5 phrases, ~100 mots"), "editMessageText")
    assert shown(five).count("• ") == 5
    bot.allowed_failures = 1  # Telegram refuses an edit that changes nothing; we take it well
    same = await bot.press(five, "✓ ≤ 5 phrases, ~100 mots")
    assert [(c.method, c.ok) for c in same] == [
        ("editMessageText", False),
        ("answerCallbackQuery", True),
    ]
    full = only(await bot.press(five, "📄 Texte intégral"), "editMessageText")
    assert shown(full).startswith(f"📄 {eco0} · La Bourse de Paris termine en hausse")


async def test_summary_command_arguments(bot: Bot) -> None:
    eco0 = bot.ids["eco0"]
    assert shown(only(await bot.send(f"/summary {eco0} 2"), "sendMessage")).count("• ") == 2
    assert shown(only(await bot.send(f"/summary #{eco0}"), "sendMessage")).count("• ") == 3
    usage = "Usage : /summary numéro [phrases], par exemple /summary 42."
    assert shown(only(await bot.send("/summary abc"), "sendMessage")).startswith(usage)
    assert shown(only(await bot.send("/summary"), "sendMessage")).startswith(usage)
    missing = shown(only(await bot.send("/summary 99999999"), "sendMessage"))
    assert missing.startswith("Pas d’article n° 99999999.")
    huge = shown(only(await bot.send("/summary 99999999999999"), "sendMessage"))
    assert huge.startswith("Pas d’article n° 99999999999999.")
    bad = shown(only(await bot.send(f"/summary {eco0} 0"), "sendMessage"))
    assert bad == f"Le nombre de phrases va de 1 à 20, par exemple /summary {eco0} 3."


async def test_an_article_without_words_offers_its_text(bot: Bot) -> None:
    reply = only(await bot.send(f"/summary {bot.ids['loto']}"), "sendMessage")
    assert "trop court pour être résumé" in shown(reply)
    full = only(await bot.press(reply, "📄 Texte intégral"), "editMessageText")
    assert "12 — 17 — 23" in shown(full)


async def test_full_text_pages_with_previous_and_next(bot: Bot) -> None:
    long_id = bot.ids["long"]
    first = only(await bot.send(f"/full {long_id}"), "sendMessage")
    header = f"📄 {long_id} · Retraites : le très long reportage"
    assert shown(first).startswith(header)
    match = re.search(r"page 1/(\d+)", shown(first))
    assert match, shown(first)
    count = int(match[1])
    assert count >= 3
    assert rows_of(first)[0] == ["Suivant ›"]
    pages = [first]
    for number in range(2, count + 1):
        page = only(await bot.press(pages[-1], "Suivant ›"), "editMessageText")
        assert message_of(page) == message_of(first)
        assert f"page {number}/{count}" in shown(page)
        pages.append(page)
    assert rows_of(pages[-1])[0] == ["‹ Précédent"]
    back = only(await bot.press(pages[-1], "‹ Précédent"), "editMessageText")
    assert f"page {count - 1}/{count}" in shown(back)
    bodies = [shown(p).split("\n\n", 1)[1] for p in pages]
    for body in bodies:
        for paragraph in body.split("\n\n"):
            assert paragraph in LONG_PARAGRAPHS  # cut between paragraphs, none split
    assert "\n\n".join(bodies) == "\n\n".join(LONG_PARAGRAPHS)
    assert all(utf16_len(p.text) <= 4096 for p in pages)
    assert all(utf16_len(p.text) > 3000 for p in pages[:-1])  # pages are filled, not tiny


async def test_full_text_usage_and_missing(bot: Bot) -> None:
    usage = shown(only(await bot.send("/full abc"), "sendMessage"))
    assert usage.startswith("Usage : /full numéro, par exemple /full 42.")
    assert shown(only(await bot.send("/full 424242"), "sendMessage")).startswith(
        "Pas d’article n° 424242."
    )


async def test_html_in_articles_is_shown_as_text(bot: Bot) -> None:
    reply = only(await bot.send("/latest culture"), "sendMessage")
    assert '&lt;b&gt;revient&lt;/b&gt; &amp; "Tartuffe"' in reply.text
    assert 'Molière <b>revient</b> & "Tartuffe" triomphe' in shown(reply)
    assert "Théâtre & Cie <script>" in shown(reply)
    link = reply.buttons[0][2]
    assert link["url"] == "https://news.example.org/culture?id=1&ref=rss"
    summary = only(await bot.press(reply, "📝 Résumé"), "sendMessage")
    assert "La troupe joue <i>Tartuffe</i> & le public" in shown(summary)


# -- search -------------------------------------------------------------------------------------


async def test_search_command_and_plain_messages(bot: Bot) -> None:
    reply = only(await bot.send("/search bourse"), "sendMessage")
    assert shown(reply).startswith(f"🔎 {fr_quote('bourse')} · 1–1")
    assert "La Bourse de Paris termine en hausse" in shown(reply)
    plain = only(await bot.send("tartuffe molière"), "sendMessage")
    assert "Molière" in shown(plain)
    # A link is not a search: the page's summary, here from the store (nothing fetched).
    url = only(await bot.send("https://news.example.org/eco/0?utm_source=x"), "sendMessage")
    assert shown(url).startswith("📝 Résumé · ≤ 3 phrases, ~60 mots\n")
    assert f"{bot.ids['eco0']} · La Bourse de Paris termine en hausse" in shown(url)
    none = only(await bot.send("/search zzzzqqq"), "sendMessage")
    assert shown(none).startswith(f"Aucun article ne contient {fr_quote('zzzzqqq')}.")
    empty = only(await bot.send("/search"), "sendMessage")
    assert shown(empty).startswith("Que cherchez-vous ?")


async def test_search_results_page_with_more(bot: Bot) -> None:
    first = only(await bot.send("/search analystes"), "sendMessage")
    assert shown(first).startswith(f"🔎 {fr_quote('analystes')} · 1–5")
    second = only(await bot.press(first, "Plus ›"), "editMessageText")
    assert shown(second).startswith(f"🔎 {fr_quote('analystes')} · 6–7")
    seen = re.findall(r"^(\d+) · ", shown(first) + "\n" + shown(second), re.M)
    assert len(seen) == len(set(seen)) == 7


async def test_a_long_query_fits_in_the_buttons(bot: Bot) -> None:
    query = "analystes " + "é" * 80
    reply = only(await bot.send(f"/search {query}"), "sendMessage")
    assert shown(reply).startswith("Aucun article ne contient")
    words = "les analystes avaient anticipé ce mouvement depuis plusieurs semaines déjà"
    found = only(await bot.send(words), "sendMessage")
    assert "🔎" in shown(found)  # the fake API checked every callback_data is <= 64 bytes


async def test_plain_text_in_a_group_is_not_a_search(bot: Bot) -> None:
    assert await bot.send("bourse", chat_type="group") == []
    in_group = only(await bot.send("/latest 1", chat_type="group"), "sendMessage")
    assert in_group.params["chat_id"] == str(-FR.id)


async def test_unknown_command_points_to_help(bot: Bot) -> None:
    text = shown(only(await bot.send("/frobnicate now"), "sendMessage"))
    assert text == "Je ne connais pas la commande /frobnicate. /help les liste toutes."


# -- settings and language ----------------------------------------------------------------------


async def test_settings_buttons_change_how_summaries_are_made(bot: Bot) -> None:
    view = only(await bot.send("/settings"), "sendMessage")
    assert "Résumés : ≤ 3 phrases, ~60 mots, méthode default" in shown(view)
    rows = rows_of(view)
    assert rows[0] == ["1 phrase", "✓ ≤ 3 phrases, ~60 mots", "≤ 5 phrases, ~100 mots"]
    assert "✓ default" in rows[1]
    assert ["✓ Français", "English"] in rows
    calls = await bot.press(view, "1 phrase")
    edited = only(calls, "editMessageText")
    assert "Résumés : 1 phrase, méthode default" in shown(edited)
    assert answer(calls).params["text"] == "Enregistré ✓"
    lead = only(await bot.press(edited, "lead"), "editMessageText")
    assert "méthode lead" in shown(lead)
    summary = shown(only(await bot.send(f"/summary {bot.ids['eco0']}"), "sendMessage"))
    assert summary.count("• ") == 1
    article = seed_articles()["eco0"]
    lead_one = summarize(article.text, title=article.title, algorithm="lead", sentences=1)
    assert summary.endswith(f"• {lead_one[0]}")
    english = only(await bot.press(lead, "English"), "editMessageText")
    assert shown(english).startswith("⚙️ Settings")
    assert "Summaries: 1 sentence, method lead" in shown(english)
    assert shown(only(await bot.send("/latest 1"), "sendMessage")).startswith(
        "📰 Latest articles · 1–1 of 11"
    )


async def test_language_command_switches_everything(bot: Bot) -> None:
    text = shown(only(await bot.send("/language en"), "sendMessage"))
    assert text == "Language: English ✓"
    latest = shown(only(await bot.send("/latest économie 1"), "sendMessage"))
    assert latest.startswith("📰 Économie · 1–1 of 7")
    assert "26 November 2025" in latest
    assert shown(only(await bot.send("/language de"), "sendMessage")).startswith("Usage:")
    choice = only(await bot.send("/language"), "sendMessage")
    assert rows_of(choice) == [["Français", "✓ English"]]
    back = only(await bot.press(choice, "Français"), "editMessageText")
    assert shown(back) == "Langue : français ✓"


async def test_first_contact_language_comes_from_telegram(bot: Bot) -> None:
    quebec = User(id=601, language_code="fr-CA")
    german = User(id=602, language_code="de")
    nobody = User(id=603, language_code=None)
    assert "Bienvenue" in shown(only(await bot.send("/start", user=quebec), "sendMessage"))
    assert "Welcome" in shown(only(await bot.send("/start", user=german), "sendMessage"))
    assert "Welcome" in shown(only(await bot.send("/start", user=nobody), "sendMessage"))
    # Once set, the chat's language wins over the user's Telegram language.
    await bot.send("/language fr", user=german)
    assert "Bienvenue" in shown(only(await bot.send("/start", user=german), "sendMessage"))


# -- robustness ---------------------------------------------------------------------------------


async def test_buttons_of_missing_articles_and_expired_buttons_answer_with_a_notice(
    bot: Bot,
) -> None:
    listing = only(await bot.send("/latest 1"), "sendMessage")
    for data, notice in (
        ("S:987654", "Cet article n’existe plus."),
        ("s:987654:3", "Cet article n’existe plus."),
        ("f:987654:2", "Cet article n’existe plus."),
        ("c:987654", "Cette rubrique n’existe plus."),
        ("l:0:5:987654", "Cette rubrique n’existe plus."),
        ("garbage", "Ce bouton n’est plus valable. Relancez la commande."),
        ("l:0:500:", "Ce bouton n’est plus valable. Relancez la commande."),
        ("o:a:nonsense", "Ce bouton n’est plus valable. Relancez la commande."),
        ("o:l:xx", "Ce bouton n’est plus valable. Relancez la commande."),
    ):
        calls = await bot.press_data(listing, data)
        reply = answer(calls)
        assert reply.params["text"] == notice, data
        assert reply.params["show_alert"] in (True, "true", "True")
        assert not [c for c in calls if c.method != "answerCallbackQuery"], data


async def test_more_past_the_end_says_there_is_nothing_more(bot: Bot) -> None:
    listing = only(await bot.send("/latest 1"), "sendMessage")
    calls = await bot.press_data(listing, "l:500:5:")
    assert answer(calls).params["text"] == "Il n’y a pas d’autres articles."


async def test_refused_html_is_resent_as_plain_text(bot: Bot) -> None:
    bot.api.fail_next("sendMessage")
    bot.allowed_failures = 1
    calls = await bot.send("/latest culture")
    refused, resent = [c for c in calls if c.method == "sendMessage"]
    assert not refused.ok and "can't parse entities" in (refused.error or "")
    assert resent.ok and "parse_mode" not in resent.params
    assert 'Molière <b>revient</b> & "Tartuffe" triomphe' in resent.text
    assert resent.buttons == refused.buttons


async def test_refused_html_in_an_edit_is_redone_as_plain_text(bot: Bot) -> None:
    listing = only(await bot.send("/latest économie 3"), "sendMessage")
    bot.api.fail_next("editMessageText")
    bot.allowed_failures = 1
    calls = await bot.press(listing, "Plus ›")
    edits = [c for c in calls if c.method == "editMessageText"]
    assert [c.ok for c in edits] == [False, True]
    assert edits[1].text.startswith("📰 Économie · 4–6 sur 7")


async def test_an_error_is_logged_and_the_user_told_and_the_bot_goes_on(
    bot: Bot, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = bot.application.bot_data.services
    assert services is not None

    async def broken(**_: Any) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(services.articles, "latest", broken)
    with caplog.at_level(logging.ERROR):
        reply = only(await bot.send("/latest"), "sendMessage")
    assert shown(reply) == (
        "⚠️ Oups, quelque chose s’est mal passé de notre côté. Réessayez dans un instant."
    )
    assert "database on fire" not in shown(reply)
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "/latest" in logged  # the update
    assert any(r.exc_info and "database on fire" in str(r.exc_info[1]) for r in caplog.records)
    listing = only(await bot.send("/categories"), "sendMessage")
    pressed = await bot.press(listing, "Économie · 7")
    assert answer(pressed).params["text"] == "Oups, une erreur. Réessayez dans un instant."
    assert shown(only(await bot.send("/help"), "sendMessage")).startswith("Commandes")


OOPS = "⚠️ Oups, quelque chose s’est mal passé de notre côté. Réessayez dans un instant."


def plant_bug(bot: Bot, monkeypatch: pytest.MonkeyPatch, service: str, method: str) -> None:
    """Make `services.<service>.<method>` fail as a bug in it would: a ValueError."""
    services = bot.application.bot_data.services
    assert services is not None

    async def bug(*_: Any, **__: Any) -> None:
        raise ValueError("a deliberate bug")

    monkeypatch.setattr(getattr(services, service), method, bug)


@pytest.mark.parametrize(
    ("command", "service", "method", "answered_before"),
    [
        # What each command answered, when any ValueError meant "the user typed it wrong".
        ("/digest 08:00", "subscriptions", "set_digest_time", "Usage : /digest"),
        ("/quiet 22:00-07:00", "subscriptions", "set_quiet", "Usage : /quiet"),
        ("/timezone Europe/Paris", "subscriptions", "set_timezone", "Fuseau horaire inconnu"),
        ("/subscribe économie +bourse", "subscriptions", "subscribe", "10 filtres au plus"),
    ],
)
async def test_a_value_error_from_a_command_is_a_bug_not_a_usage_line(
    bot: Bot,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    service: str,
    method: str,
    answered_before: str,
) -> None:
    plant_bug(bot, monkeypatch, service, method)
    with caplog.at_level(logging.ERROR):
        reply = shown(only(await bot.send(command), "sendMessage"))
    assert reply == OOPS, f"{command} answered {reply!r} (before: {answered_before!r}...)"
    assert any(
        r.exc_info and str(r.exc_info[1]) == "a deliberate bug" and command in r.getMessage()
        for r in caplog.records
    ), "the bug is not logged with its update"


@pytest.mark.parametrize(
    ("data", "service", "method"),
    [
        ("o:n:3", "chats", "set_sentences"),
        ("o:l:en", "chats", "set_language"),
        ("d:m:digest", "subscriptions", "set_mode"),
        ("l:0:5:", "articles", "latest"),
        ("S:1", "articles", "summary"),
    ],
)
async def test_a_value_error_behind_a_button_is_a_bug_not_an_expired_button(
    bot: Bot,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    data: str,
    service: str,
    method: str,
) -> None:
    settings = only(await bot.send("/settings"), "sendMessage")
    plant_bug(bot, monkeypatch, service, method)
    with caplog.at_level(logging.ERROR):
        notice = answer(await bot.press_data(settings, data)).params
    # Before, any ValueError here read "Ce bouton n’est plus valable. Relancez la commande."
    assert notice["text"] == "Oups, une erreur. Réessayez dans un instant.", data
    assert any(r.exc_info and str(r.exc_info[1]) == "a deliberate bug" for r in caplog.records)


async def test_every_message_fits_and_every_button_fits(bot: Bot) -> None:
    await bot.send("/latest 20")
    await bot.send(f"/summary {bot.ids['long']} 20")
    await bot.send("/categories")
    await bot.send("/help")
    sent = [c for c in bot.api.calls if c.method in ("sendMessage", "editMessageText")]
    assert sent and all(c.ok for c in sent)
    for call in sent:
        assert utf16_len(call.text) <= 4096
        for row in call.buttons:
            for button in row:
                assert len(button.get("callback_data", "").encode()) <= 64


# -- running ------------------------------------------------------------------------------------


async def test_updates_in_flight_finish_on_shutdown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'stop.db'}"
    ids = await seed(url)
    started = asyncio.Event()
    async with running_bot(url, ids) as bot:
        services = bot.application.bot_data.services
        assert services is not None
        real = services.articles.summary

        async def slow(*args: Any, **kwargs: Any) -> Any:
            started.set()
            await asyncio.sleep(0.5)
            return await real(*args, **kwargs)

        monkeypatch.setattr(services.articles, "summary", slow)
        update_id = bot.api.send_message(FR, f"/summary {ids['eco0']}")
        await bot.api.acknowledged(update_id)
        await asyncio.wait_for(started.wait(), 5)
        api = bot.api
    # running_bot's exit set the stop event while the handler was sleeping
    replies = api.calls_of("sendMessage")
    assert len(replies) == 1 and shown(replies[0]).startswith("📝 Résumé")
    assert bot.application.bot_data.services is None  # post_shutdown released the store


async def test_periodic_jobs_run_while_the_bot_runs(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'jobs.db'}"
    ids = await seed(url)
    seen: list[int] = []

    async def count_articles(runtime: Runtime) -> None:
        seen.append(await runtime.store.count_articles())

    job = PeriodicJob("count", timedelta(seconds=0.05), count_articles)
    async with running_bot(url, ids, jobs=[job]):
        for _ in range(100):
            if len(seen) >= 2:
                break
            await asyncio.sleep(0.05)
    assert seen[:2] == [len(ids), len(ids)]


def local_feed(base: str, count: int) -> str:
    body = " ".join(
        f"Phrase {n} sur le marché du travail et les salaires en France cette année."
        for n in range(30)
    )
    items = "".join(
        f"<item><title>Emploi : dépêche {i}</title><link>{base}/emploi/{i}</link>"
        f"<guid>{base}/emploi/{i}</guid><description>{body} Dépêche {i}.</description></item>"
        for i in range(count)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Local</title>'
        f"<link>{base}/</link><description>d</description>{items}</channel></rss>"
    )


def test_the_ingest_tick_comes_from_the_config() -> None:
    default, prune = default_jobs(Config())
    assert (default.name, default.interval, default.first) == (
        "ingest",
        timedelta(minutes=1),
        timedelta(seconds=5),
    )
    assert (prune.name, prune.interval) == ("prune", timedelta(days=1))
    fast, _ = default_jobs(Config(ingest=IngestConfig(tick_seconds=2)))
    assert (fast.interval, fast.first) == (timedelta(seconds=2), timedelta(seconds=2))


async def test_feeds_are_ingested_while_the_bot_runs(tmp_path: Path) -> None:
    """The ingest job `newsbot run` schedules, against a feed served on loopback."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'ingest.db'}"
    ids = await seed(url)
    (default_ingest,) = [job for job in default_jobs(Config()) if job.name == "ingest"]
    job = PeriodicJob("ingest", timedelta(seconds=0.2), default_ingest.run)
    with FeedServer() as server:
        server.add("/emploi.xml", local_feed(server.base, 3), content_type="application/rss+xml")
        feed = FeedConfig(server.url("/emploi.xml"), "Emploi", "fr")
        async with running_bot(url, ids, jobs=[job], feeds=[feed]) as bot:
            for _ in range(100):
                if server.requests_to("/emploi.xml"):
                    break
                await asyncio.sleep(0.1)
            listing = None
            for _ in range(100):
                listing = only(await bot.send("/latest emploi"), "sendMessage")
                if "1–3" in shown(listing):
                    break
                await asyncio.sleep(0.2)
    assert listing is not None and shown(listing).startswith("📰 Emploi · 1–3 sur 3")
    assert "Emploi : dépêche 2" in shown(listing)


async def test_webhook_mode_with_secret_token(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hook.db'}"
    ids = await seed(url)
    port = free_port()
    hook = WebhookConfig(
        url="https://bot.example.org/telegram/hook",
        listen="127.0.0.1",
        port=port,
        secret_token="s3cret-token",
    )
    async with running_bot(url, ids, webhook=hook) as bot:
        assert bot.api.webhook["url"] == "https://bot.example.org/telegram/hook"
        assert bot.api.webhook["secret_token"] == "s3cret-token"
        update = {
            "update_id": 77,
            "message": {
                "message_id": 5,
                "date": 0,
                "chat": {"id": FR.id, "type": "private"},
                "from": FR.as_json(),
                "text": "/help",
                "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
            },
        }
        endpoint = f"http://127.0.0.1:{port}/telegram/hook"
        async with httpx.AsyncClient() as client:
            refused = await client.post(endpoint, json=update)
            accepted = await client.post(
                endpoint, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "s3cret-token"}
            )
        assert refused.status_code == 403
        assert accepted.status_code == 200
        await asyncio.wait_for(bot.application.update_queue.join(), 5)
        for _ in range(100):
            if bot.api.calls_of("sendMessage"):
                break
            await asyncio.sleep(0.02)
        assert shown(only(bot.api.calls_of("sendMessage"), "sendMessage")).startswith("Commandes")


async def test_run_refuses_a_missing_or_rejected_token(tmp_path: Path) -> None:
    import argparse

    args = argparse.Namespace(poll_timeout=1.0, concurrency=None, role="all")
    url = f"sqlite+aiosqlite:///{tmp_path / 'token.db'}"
    with pytest.raises(ConfigError, match=r"telegram\.token: missing"):
        await cmd_run(args, Config(store=StoreConfig(url=url)), FakeClock())
    with FakeBotAPI() as api:
        config = Config(
            telegram=TelegramConfig(token="999:wrong", api_base_url=api.base_url),
            store=StoreConfig(url=url),
        )
        with pytest.raises(ConfigError, match=r"telegram\.token: refused by the Bot API"):
            await cmd_run(args, config, FakeClock())
    hook = WebhookConfig(url="https://bot.example.org/hook")
    config = Config(telegram=TelegramConfig(token="1:x", webhook=hook), store=StoreConfig(url=url))
    with pytest.raises(ConfigError, match="secret_token"):
        await cmd_run(args, config, FakeClock())


async def test_walkthrough_on_each_backend(store_url: str) -> None:
    ids = await seed(store_url)
    async with running_bot(store_url, ids) as bot:
        listing = only(await bot.send("/latest economie 3"), "sendMessage")
        assert shown(listing).startswith("📰 Économie · 1–3 sur 7")
        summary = only(await bot.press(listing, f"{ids['eco0']} · 📝 Résumé"), "sendMessage")
        assert shown(summary).count("• ") == 3
        found = only(await bot.send("/search bourse paris"), "sendMessage")
        assert f"{ids['eco0']} · La Bourse de Paris" in shown(found)
        settings = only(await bot.send("/settings"), "sendMessage")
        assert "Résumés : 1 phrase" in shown(
            only(await bot.press(settings, "1 phrase"), "editMessageText")
        )
