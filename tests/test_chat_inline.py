"""Inline mode end to end: a user types `@bot words` in any chat, the real bot answers through
the fake Bot API (which checks the answer as Telegram does: at most 50 results, ids and
next_offset of at most 64 bytes, each message valid HTML of at most 4096 characters), the user
picks a result, the client posts it, and its "Read in the bot" deep link opens the article."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.config import LinksConfig
from bot.deliver.rules import PushRules
from bot.models import NewArticle
from bot.store import open_store
from tests.fakebotapi import FakeBotAPI, parse_html, utf16_len
from tests.helpers import EN, FR, Bot, FakeClock, only, running_bot, seed, shown

EXTRA = 25  # wire stories on top of the 11 seed articles: two pages of latest


async def seed_more(url: str) -> dict[str, int]:
    ids = await seed(url)
    store = await open_store(url, clock=FakeClock(), rules=PushRules())
    try:
        day = datetime(2025, 11, 27, 8, 0, tzinfo=UTC)
        result = await store.add_articles(
            NewArticle(
                title=f"Dépêche {i} : le trafic ferroviaire perturbé",
                text=(
                    f"La circulation des trains reste perturbée ce matin sur la ligne {i}. "
                    "La direction annonce un retour à la normale dans la soirée. "
                    "Les voyageurs sont invités à reporter leurs déplacements non essentiels."
                ),
                url=f"https://news.example.org/fil/{i}",
                published=day + timedelta(minutes=i),
                category="Fil",
                language="fr",
            )
            for i in range(EXTRA)
        )
    finally:
        await store.close()
    ids.update({f"fil{i}": article_id for i, article_id in enumerate(result.ids)})
    return ids


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}"
    ids = await seed_more(url)
    api = FakeBotAPI(inline_mode=True)
    async with running_bot(url, ids, api=api, links=LinksConfig(inline_cache_seconds=45)) as b:
        yield b


async def ask(bot: Bot, query: str, offset: str = "", user: Any = FR) -> dict[str, Any]:
    """The user types `@bot query`; the bot's answer (answerInlineQuery's parameters)."""
    update_id, query_id = bot.api.inline_query(user, query, offset)
    await bot.api.acknowledged(update_id)
    await asyncio.wait_for(bot.application.update_queue.join(), 10)
    for _ in range(200):
        if query_id in bot.api.inline_answers:
            return bot.api.inline_answers[query_id]
        await asyncio.sleep(0.01)
    raise AssertionError(f"no answer to the inline query {query!r}")


async def test_words_offer_matching_articles_to_share(bot: Bot) -> None:
    answer = await ask(bot, "bourse paris")
    (result,) = answer["results"]
    eco0 = bot.ids["eco0"]
    assert result["type"] == "article" and result["id"] == str(eco0)
    assert result["title"] == "La Bourse de Paris termine en hausse"
    assert result["description"].startswith(
        "Économie · Anne Dupont · news.example.org · 26 novembre 2025\n"
    )
    content = result["input_message_content"]
    assert content["parse_mode"] == "HTML"
    text = parse_html(content["message_text"])
    assert text.startswith("La Bourse de Paris termine en hausse\nÉconomie · Anne Dupont")
    assert text.count("• ") == 3
    assert text.endswith("🔗 news.example.org")
    assert '<a href="https://news.example.org/eco/0">' in content["message_text"]
    (row,) = result["reply_markup"]["inline_keyboard"]
    assert row == [
        {
            "text": "📖 Lire dans le bot",
            "url": f"https://t.me/newsbot_test_bot?start=art_{eco0}",
        },
        {"text": "🔗 Lien", "url": "https://news.example.org/eco/0"},
    ]
    assert int(answer["cache_time"]) == 45
    assert answer["next_offset"] == ""
    english = (await ask(bot, "rain", user=EN))["results"][0]
    assert english["reply_markup"]["inline_keyboard"][0][0]["text"] == "📖 Read in the bot"
    assert (await ask(bot, "zzzqqq"))["results"] == []


async def test_an_empty_query_pages_through_the_latest(bot: Bot) -> None:
    first = await ask(bot, "")
    assert len(first["results"]) == 20
    assert first["results"][0]["id"] == str(bot.ids[f"fil{EXTRA - 1}"])  # the newest first
    assert first["next_offset"] == "20"
    second = await ask(bot, "", offset=first["next_offset"])
    assert len(second["results"]) == 11 + EXTRA - 20
    assert second["next_offset"] == ""
    ids = [r["id"] for r in first["results"] + second["results"]]
    assert len(set(ids)) == len(ids) == 11 + EXTRA
    # An offset we never gave is read as the start.
    assert (await ask(bot, "", offset="garbage"))["results"][0]["id"] == ids[0]


async def test_every_result_fits_telegram(bot: Bot) -> None:
    for query in ("", "retraites", "molière", "trafic"):
        answer = await ask(bot, query)
        for result in answer["results"]:
            message = result["input_message_content"]["message_text"]
            assert utf16_len(message) <= 4096
            parse_html(message)
            assert len(result["id"].encode()) <= 64
    # The very long article's summary is shortened, never cut by Telegram.
    (long,) = (await ask(bot, "très long reportage"))["results"]
    assert long["id"] == str(bot.ids["long"])
    html = (await ask(bot, "molière"))["results"][0]["input_message_content"]["message_text"]
    assert "Molière &lt;b&gt;revient&lt;/b&gt; &amp;" in html


async def test_pages_are_reused_briefly(bot: Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    services = bot.application.bot_data.services
    assert services is not None
    searches: list[str] = []
    real = services.articles.search

    async def counting(query: str, **kwargs: Any) -> Any:
        searches.append(query)
        return await real(query, **kwargs)

    monkeypatch.setattr(services.articles, "search", counting)
    first = await ask(bot, "inflation")
    again = await ask(bot, "  inflation ")
    assert first["results"] == again["results"]
    assert searches == ["inflation"]


async def test_choosing_a_result_posts_it_and_the_deep_link_opens_it(
    bot: Bot, caplog: pytest.LogCaptureFixture
) -> None:
    update_id, query_id = bot.api.inline_query(FR, "gazole", chat_type="group")
    await bot.api.acknowledged(update_id)
    await asyncio.wait_for(bot.application.update_queue.join(), 10)
    for _ in range(200):
        if query_id in bot.api.inline_answers:
            break
        await asyncio.sleep(0.01)
    result = bot.api.inline_answers[query_id]["results"][0]
    eco1 = bot.ids["eco1"]
    with caplog.at_level("INFO"):
        posted = bot.api.choose_inline_result(FR, query_id, result["id"], chat_id=-777)
        for _ in range(200):  # the chosen_inline_result update reaches the bot
            if any(f"article {eco1} shared inline" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.01)
    assert posted["via_bot"]["username"] == "newsbot_test_bot"
    assert posted["text"].startswith("Le prix du gazole recule encore\n")
    assert any(f"article {eco1} shared inline" in r.getMessage() for r in caplog.records)
    # A reader in the group taps "Read in the bot": Telegram opens the bot with /start art_<id>.
    link = posted["reply_markup"]["inline_keyboard"][0][0]["url"]
    start = link.split("?start=", 1)[1]
    reader = only(await bot.send(f"/start {start}", user=EN), "sendMessage")
    assert shown(reader).startswith("📝 Summary · ≤ 3 sentences, ~60 words\n")
    assert f"{eco1} · Le prix du gazole recule encore" in shown(reader)


async def test_help_tells_about_links_and_inline_mode(bot: Bot) -> None:
    text = shown(only(await bot.send("/help"), "sendMessage"))
    assert "Envoyez-moi un lien : je lis la page et la résume." in text
    assert "tapez @newsbot_test_bot mots pour y partager un article" in text


async def test_the_bot_asks_telegram_for_inline_queries(bot: Bot) -> None:
    """Telegram sends only the update types a bot asks for: the fake does the same, and
    would have failed the tests above if the bot did not ask for inline queries."""
    await bot.send("/help")  # the bot has polled at least once
    assert {"message", "callback_query", "inline_query", "chosen_inline_result"} <= set(
        bot.api.allowed_updates or ()
    )
