"""Posts as a chat receives them, through the real Application and the fake Bot API: a picture
on every post that has one (served on loopback), the text fallback when Telegram refuses it,
the publisher's format (/format, the Format page of /settings) and silent posts.
"""

from __future__ import annotations

import asyncio
import dataclasses
import io
import sys
from argparse import Namespace
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli.run import cmd_shell
from bot.config import Config, StoreConfig
from bot.deliver.rules import PushRules
from bot.models import NewArticle
from bot.store import open_store
from tests.fakebotapi import (
    MAX_CAPTION,
    PHOTO_NOT_AN_IMAGE,
    PHOTO_UNREACHABLE,
    Call,
    FakeBotAPI,
    User,
    asks_paid_broadcast,
    utf16_len,
)
from tests.feedserver import FeedServer
from tests.helpers import (
    EN,
    FR,
    QUICK,
    Bot,
    FakeClock,
    drain,
    only,
    queue_settled,
    running_bot,
    seed,
    sender_for,
    shown,
    until,
)

MEMBER = User(id=611, first_name="Léa", language_code="fr")
ADMIN = User(id=612, first_name="Marc", language_code="fr")
GROUP = -100456
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


@pytest.fixture
def images() -> Iterator[FeedServer]:
    with FeedServer() as server:
        server.add("/i/ok.png", PNG, content_type="image/png")
        server.add("/i/page.html", b"<html>not a picture</html>", content_type="text/html")
        server.add("/i/missing.png", b"gone", status=404, content_type="text/plain")
        yield server


@pytest.fixture
async def url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'posts.db'}"


@pytest.fixture
async def bot(url: str, clock: FakeClock) -> AsyncIterator[Bot]:
    ids = await seed(url, clock)
    async with running_bot(url, ids, delivery=QUICK, clock=clock) as running:
        yield running


async def publish(clock: FakeClock, url: str, *items: NewArticle) -> list[int]:
    """Store articles as `newsbot import` does from another process: its own store."""
    store = await open_store(url, clock=clock, rules=PushRules())
    try:
        return (await store.add_articles(items)).ids
    finally:
        await store.close()


def news(n: int, image: str | None = None, category: str = "Économie") -> NewArticle:
    return NewArticle(
        title=f"Dépêche {n} <b>&</b> 🇫🇷",
        text=(
            f"Première phrase de la dépêche {n} sur l’économie française. "
            "Les analystes commentent longuement cette publication attendue. "
            "Le gouvernement réagit dans la soirée par un communiqué. "
            "Les marchés restent calmes en fin de séance."
        ),
        url=f"https://news.example.org/a/{n}",
        author="Nadia Benali",
        category=category,
        language="fr",
        image=image,
    )


def posts(api: FakeBotAPI, chat_id: int) -> list[Call]:
    """What the chat received of its subscriptions: photos and texts, accepted."""
    return [
        c
        for c in api.calls
        if c.method in ("sendPhoto", "sendMessage")
        and c.ok
        and int(c.params["chat_id"]) == chat_id
        and shown(c).startswith("🆕")
    ]


async def test_an_article_with_a_picture_is_pushed_as_a_photo_with_its_post_as_caption(
    bot: Bot, url: str, images: FeedServer
) -> None:
    await bot.send("/subscribe économie")
    [article_id] = await publish(bot.clock, url, news(1, images.url("/i/ok.png")))
    await until(lambda: len(posts(bot.api, 501)) == 1)
    [photo] = posts(bot.api, 501)
    assert photo.method == "sendPhoto" and photo.params["photo"] == images.url("/i/ok.png")
    caption = shown(photo)
    assert caption.startswith("🆕 Économie") and f"{article_id} · Dépêche 1 <b>&</b> 🇫🇷" in caption
    assert caption.count("• ") in (1, 2, 3) and utf16_len(caption) <= MAX_CAPTION
    assert photo.labels == ["➕ Plus long", "📄 Texte intégral", "🔗 Lien", "🔕 Se désabonner"]
    assert images.requests_to("/i/ok.png")  # Telegram (the fake) fetched it
    assert bot.api.message(501, photo.result["message_id"])["photo"]
    # Its buttons work on a photo: a longer summary edits the caption.
    edited = only(await bot.press(photo, "➕ Plus long"), "editMessageCaption")
    assert (
        shown(edited).startswith("📝 Résumé · ≤ 5 phrases, ~100 mots")
        and shown(edited).count("• ") == 4
    )
    # /summary shows the picture too, the summary as its caption.
    answer = only(await bot.send(f"/summary {article_id} 1"), "sendPhoto")
    assert shown(answer).startswith("📝 Résumé · 1 phrase") and shown(answer).count("• ") == 1
    # So does a summary opened from a list.
    latest = only(await bot.send("/latest 1"), "sendMessage")
    opened = only(await bot.press(latest, f"{article_id} · 📝 Résumé"), "sendPhoto")
    assert shown(opened).startswith("📝 Résumé · ≤ 3 phrases, ~60 mots")


@pytest.mark.parametrize(("rate", "paid"), [(30.0, False), (200.0, True)])
async def test_above_telegrams_free_rate_every_post_is_a_paid_broadcast(
    url: str, clock: FakeClock, images: FeedServer, rate: float, paid: bool
) -> None:
    """Past 30 messages/s overall Telegram takes a message only when it asks for a paid
    broadcast (`allow_paid_broadcast`, paid in Stars): a sender configured above that rate asks
    on every post, picture or text; one at 30/s never does, nor do answers to commands."""
    ids = await seed(url, clock)
    delivery = dataclasses.replace(QUICK, messages_per_second=rate)
    async with running_bot(url, ids, delivery=delivery, clock=clock) as bot:
        await bot.send("/subscribe économie")
        await publish(clock, url, news(1, images.url("/i/ok.png")), news(2))
        await until(lambda: len(posts(bot.api, 501)) == 2)
        sent = posts(bot.api, 501)
        answers = [c for c in bot.api.calls_of("sendMessage") if c not in sent]
    assert {c.method for c in sent} == {"sendPhoto", "sendMessage"}
    assert [asks_paid_broadcast(c.params) for c in sent] == [paid, paid]
    assert answers and not any(asks_paid_broadcast(c.params) for c in answers)


@pytest.mark.parametrize(
    ("path", "refusal"),
    [("/i/missing.png", PHOTO_UNREACHABLE), ("/i/page.html", PHOTO_NOT_AN_IMAGE)],
    ids=["unreachable", "not-an-image"],
)
async def test_a_refused_picture_goes_as_text_with_a_preview_once_and_never_again(
    bot: Bot, url: str, images: FeedServer, path: str, refusal: str
) -> None:
    bot.allowed_failures = 1  # the one refused sendPhoto
    await bot.send("/subscribe économie")
    [article_id] = await publish(bot.clock, url, news(1, images.url(path)))
    await until(lambda: len(posts(bot.api, 501)) == 1)
    await queue_settled(bot.store)
    [refused] = [c for c in bot.api.calls_of("sendPhoto") if not c.ok]
    assert refused.error == refusal
    [text] = posts(bot.api, 501)
    assert text.method == "sendMessage"
    assert text.params["link_preview_options"] == {
        "url": "https://news.example.org/a/1",
        "prefer_large_media": True,
        "show_above_text": True,
    }
    assert bot.api.options(501, text.result["message_id"])["preview"]["url"].endswith("/a/1")
    assert f"{article_id} · Dépêche 1" in shown(text) and shown(text).count("• ") in (1, 2, 3)
    assert [(d.status, d.chat_id) for d in await bot.store.list_deliveries()] == [("sent", 501)]
    assert (await bot.store.get_article(article_id)).image is None
    # Not offered again: /summary answers with text, no second sendPhoto.
    answer = only(await bot.send(f"/summary {article_id}"), "sendMessage")
    assert shown(answer).startswith("📝 Résumé")
    assert len(bot.api.calls_of("sendPhoto")) == 1


async def test_the_format_command_the_format_page_and_the_next_post(
    bot: Bot, url: str, images: FeedServer
) -> None:
    await bot.send("/subscribe économie")
    for bad in ("/format summary=9", "/format couleur=rouge", '/format signature="x', "/format x"):
        usage = only(await bot.send(bad), "sendMessage")
        assert shown(usage).startswith("Usage : /format"), bad
    page = only(
        await bot.send('/format summary=1 hashtags=on signature="— Rédaction <&>"'), "sendMessage"
    )
    text = shown(page)
    assert text.startswith("🖼 Format des publications")
    assert "Affiché : titre, #rubrique, auteur, source" in text and "Résumé : 1 phrase" in text
    assert "Signature : — Rédaction <&>" in text
    preview = text.split("Aperçu de la prochaine publication —\n", 1)[1]
    assert preview.startswith("🆕 #") and preview.count("• ") == 1
    assert preview.rstrip().endswith("— Rédaction <&>")
    # The Format page's buttons change the format and redraw the preview in place.
    linked = only(await bot.press(page, "Lien"), "editMessageText")
    assert "Lire l’article" in shown(linked) and "✓ Lien" in [
        b["text"] for row in linked.buttons for b in row
    ]
    texted = only(await bot.press(linked, "📄 Texte"), "editMessageText")
    assert "Image : aucune, texte seul" in shown(texted)
    back = only(await bot.press(texted, "⬅️ Réglages"), "editMessageText")
    assert shown(back).startswith("⚙️ Réglages")
    # The next post follows the format: text only, one sentence, hashtag, link, signature.
    await publish(bot.clock, url, news(2, images.url("/i/ok.png")))
    await until(lambda: len(posts(bot.api, 501)) == 1)
    [post] = posts(bot.api, 501)
    assert post.method == "sendMessage" and post.params["link_preview_options"] == {
        "is_disabled": True
    }
    body = shown(post)
    assert body.startswith("🆕 #Économie") and body.count("• ") == 1
    assert "Lire l’article" in body and body.rstrip().endswith("— Rédaction <&>")
    # A large preview above the text instead.
    only(await bot.send("/format picture=preview"), "sendMessage")
    await publish(bot.clock, url, news(3, images.url("/i/ok.png")))
    await until(lambda: len(posts(bot.api, 501)) == 2)
    assert posts(bot.api, 501)[1].params["link_preview_options"] == {
        "url": "https://news.example.org/a/3",
        "prefer_large_media": True,
        "show_above_text": True,
    }
    assert bot.api.calls_of("sendPhoto") == []


async def test_in_a_group_only_admins_change_the_format(bot: Bot) -> None:
    bot.api.set_member_status(GROUP, ADMIN.id, "administrator", user=ADMIN)
    refused = only(await bot.send_in_group("/format summary=0", MEMBER, GROUP), "sendMessage")
    assert "administrateurs" in shown(refused)
    done = only(await bot.send_in_group("/format summary=0", ADMIN, GROUP), "sendMessage")
    assert "Résumé : 0 phrase" in shown(done)
    # Anyone may look at the page; a member's press is refused with a notice.
    page = only(await bot.send_in_group("/format", MEMBER, GROUP), "sendMessage")
    answers = await bot.press(page, "Auteur", user=MEMBER)
    notice = only(answers, "answerCallbackQuery")
    assert "administrateurs" in str(notice.params.get("text"))
    assert [c for c in answers if c.method == "editMessageText"] == []


# -- silent posts, on a sender the test drives ---------------------------------------------------


@pytest.fixture
async def quiet_bot(url: str, clock: FakeClock) -> AsyncIterator[Bot]:
    ids = await seed(url, clock)
    async with running_bot(url, ids, delivery=QUICK, deliver=False, clock=clock) as running:
        yield running


async def test_silent_always_and_silent_during_quiet_hours(quiet_bot: Bot, url: str) -> None:
    bot = quiet_bot
    await bot.send("/subscribe économie")
    await bot.send("/quiet 22:00-07:00")
    await bot.send("/timezone Europe/London")
    sender = sender_for(bot)

    def silent() -> list[bool]:
        return [bot.api.options(501, c.result["message_id"])["silent"] for c in posts(bot.api, 501)]

    bot.clock.set(datetime(2026, 11, 27, 12, 0, tzinfo=UTC))  # day: rings
    await publish(bot.clock, url, news(1))
    await drain(sender)
    assert silent() == [False]
    # Silent during quiet hours: sent at once, without a notification, instead of held.
    settings = only(await bot.send("/settings"), "sendMessage")
    edited = only(await bot.press(settings, "🌙 Silencieuses la nuit"), "editMessageText")
    assert "✓ 🌙 Silencieuses la nuit" in [b["text"] for row in edited.buttons for b in row]
    assert "22:00–07:00 (les articles arrivent sans notification)" in shown(edited)
    bot.clock.set(datetime(2026, 11, 27, 23, 0, tzinfo=UTC))  # 23:00 in London
    await publish(bot.clock, url, news(2))
    await drain(sender)
    assert silent() == [False, True]
    bot.clock.set(datetime(2026, 11, 28, 12, 0, tzinfo=UTC))
    await publish(bot.clock, url, news(3))
    await drain(sender)
    assert silent() == [False, True, False]
    # Always silent, day or night.
    only(await bot.send("/format silent=on"), "sendMessage")
    await publish(bot.clock, url, news(4))
    await drain(sender)
    assert silent() == [False, True, False, True]
    # Quiet hours without silent posts hold them, as before.
    only(await bot.send("/format silent=off"), "sendMessage")
    bot.clock.set(datetime(2026, 11, 28, 23, 0, tzinfo=UTC))
    await publish(bot.clock, url, news(5))
    await drain(sender)
    assert len(silent()) == 4


async def test_a_digest_is_silent_when_the_chats_posts_are(quiet_bot: Bot, url: str) -> None:
    """The day's selection follows the chat's silent setting like a single post: it rings by
    default, and arrives without a notification in a chat whose posts are always silent."""
    bot = quiet_bot
    for user in (FR, EN):
        await bot.send("/subscribe économie", user=user)
        only(await bot.send("/digest 7h30", user=user), "sendMessage")
    only(await bot.send("/format silent=on", user=EN), "sendMessage")
    sender = sender_for(bot)

    def digests(chat_id: int) -> list[bool]:
        calls = [
            c
            for c in bot.api.calls_of("sendMessage")
            if int(c.params["chat_id"]) == chat_id
            and shown(c).startswith("📰 ")
            and "·" in shown(c).split("\n")[0]
        ]
        return [bot.api.options(chat_id, c.result["message_id"])["silent"] for c in calls]

    bot.clock.set(datetime(2026, 11, 27, 12, 0, tzinfo=UTC))
    await publish(bot.clock, url, news(1), news(2))
    await drain(sender)
    assert digests(FR.id) == digests(EN.id) == []
    bot.clock.set(datetime(2026, 11, 28, 6, 30, 5, tzinfo=UTC))  # 07:30:05 in Paris
    await drain(sender)
    assert digests(FR.id) == [False]
    assert digests(EN.id) == [True]
    assert posts(bot.api, FR.id) == posts(bot.api, EN.id) == []  # digests, never single posts
    # Changing the post's format a minute before the digest keeps the digest where it was
    # (the sender is not asked to decide again: the format does not move when a chat receives).
    await publish(bot.clock, url, news(3))
    await drain(sender)  # held for tomorrow's digest
    bot.clock.set(datetime(2026, 11, 29, 6, 29, 0, tzinfo=UTC))
    only(await bot.send("/format summary=2 hashtags=on", user=FR), "sendMessage")
    bot.clock.set(datetime(2026, 11, 29, 6, 30, 5, tzinfo=UTC))
    await drain(sender)
    assert digests(FR.id) == [False, False]
    assert digests(EN.id) == [True, True]


def test_the_shell_shows_a_pictures_address_and_the_format_page(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`newsbot shell`: a terminal shows no picture, so /summary of a pictured article prints
    its address above the caption; the Format page works there too."""
    path = tmp_path / "shell.db"
    asyncio.run(seed(f"sqlite+aiosqlite:///{path}"))
    [article_id] = asyncio.run(
        publish(FakeClock(), f"sqlite+aiosqlite:///{path}", news(1, "https://ex.org/i?a=1&b=2"))
    )
    monkeypatch.setattr(
        sys, "stdin", io.StringIO(f"/summary {article_id} 1\n/settings\nformat des publications\n")
    )
    config = Config(store=StoreConfig(url=f"sqlite+aiosqlite:///{path}"))
    assert asyncio.run(cmd_shell(Namespace(language="fr", sample=False), config, FakeClock())) == 0
    out = capsys.readouterr().out
    assert "🖼 https://ex.org/i?a=1&b=2\n  📝 Résumé · 1 phrase" in out
    assert "🖼 Format des publications" in out and "Aperçu de la prochaine publication" in out


async def test_a_picture_post_and_a_photo_summary_go_to_their_forum_topic(
    bot: Bot, url: str, images: FeedServer
) -> None:
    bot.api.set_member_status(GROUP, ADMIN.id, "administrator", user=ADMIN)
    topic = bot.api.create_topic(GROUP, "Économie")
    await bot.send_in_group("/subscribe économie", ADMIN, GROUP, thread_id=topic)
    only(await bot.send_in_group("/format silent=on", ADMIN, GROUP, thread_id=topic), "sendMessage")
    [article_id] = await publish(bot.clock, url, news(1, images.url("/i/ok.png")))
    await until(lambda: len(posts(bot.api, GROUP)) == 1)
    [photo] = posts(bot.api, GROUP)
    assert photo.method == "sendPhoto" and photo.thread_id == topic
    assert bot.api.options(GROUP, photo.result["message_id"])["silent"] is True
    answer = await bot.send_in_group(f"/summary {article_id}", MEMBER, GROUP, thread_id=topic)
    assert only(answer, "sendPhoto").thread_id == topic
