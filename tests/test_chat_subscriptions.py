"""Subscriptions as a reader lives them, through the real Application and the fake Bot API:
subscribing (commands, buttons, filters, groups, channels), articles pushed within seconds when
another process stores them, and every way a broadcast goes wrong (429, 403, a migrated group,
HTML refused, a sender killed mid-queue); digests and quiet hours on a clock the test controls.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.deliver.rules import PushRules
from bot.deliver.sender import Outcome
from bot.models import ClaimedDelivery, NewArticle
from bot.store import SqlStore, open_store
from bot.store.schema import metadata
from tests.fakebotapi import Call, FakeBotAPI, User
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

MEMBER = User(id=601, first_name="Léa", language_code="fr")
ADMIN = User(id=602, first_name="Marc", language_code="fr")
GROUP = -100123
ROOT = Path(__file__).resolve().parents[1]


def news(n: int, category: str = "Économie", text: str = "") -> NewArticle:
    body = text or (
        f"Dépêche numéro {n} sur l’économie française et ses chiffres du jour. "
        "Les analystes commentent longuement cette publication attendue. "
        "Le gouvernement réagit dans la soirée par un communiqué. "
        "Les marchés restent calmes en fin de séance."
    )
    return NewArticle(title=f"Nouvelle {n}", text=body, category=category, language="fr")


async def publish(clock: FakeClock, url: str, *items: NewArticle) -> list[int]:
    """Store articles as `newsbot import` does from another process: its own store (on the
    test's clock: the other process lives in the same world time)."""
    store = await open_store(url, clock=clock, rules=PushRules())
    try:
        return (await store.add_articles(items)).ids
    finally:
        await store.close()


def pushed(api: FakeBotAPI, chat_id: int | None = None) -> list[Call]:
    """The pushed articles the chat (or any chat) received."""
    return [
        c
        for c in api.calls_of("sendMessage")
        if c.ok
        and shown(c).startswith("🆕")
        and (chat_id is None or int(c.params["chat_id"]) == chat_id)
    ]


@pytest.fixture
async def url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'subs.db'}"


@pytest.fixture
async def bot(url: str, clock: FakeClock) -> AsyncIterator[Bot]:
    ids = await seed(url, clock)
    async with running_bot(url, ids, delivery=QUICK, clock=clock) as running:
        yield running


# -- subscribing ----------------------------------------------------------------------------------


async def test_new_articles_of_a_subscribed_category_arrive_within_seconds_once(
    bot: Bot, url: str
) -> None:
    reply = only(await bot.send("/subscribe economie"), "sendMessage")
    assert shown(reply).startswith("✅ Abonné à Économie")
    await queue_settled(bot.store)
    assert pushed(bot.api) == []  # the seven articles already there are not a backlog to send
    [new_id] = await publish(bot.clock, url, news(1))
    await until(lambda: len(pushed(bot.api)) == 1)
    message = pushed(bot.api)[0]
    text = shown(message)
    assert text.startswith("🆕 Économie")
    assert f"{new_id} · Nouvelle 1" in text and text.count("• ") == 3
    assert message.labels == ["➕ Plus long", "📄 Texte intégral", "🔕 Se désabonner"]
    await publish(bot.clock, url, news(2, category="Culture"))
    await queue_settled(bot.store)
    assert len(pushed(bot.api)) == 1  # not subscribed to Culture
    # The buttons work like any other: a longer summary, in place.
    edited = only(await bot.press(message, "➕ Plus long"), "editMessageText")
    assert shown(edited).startswith("📝 Résumé · ≤ 5 phrases, ~100 mots")
    assert shown(edited).count("• ") == 4  # every sentence the dispatch has


async def test_subscribe_arguments_filters_and_usage(bot: Bot, url: str) -> None:
    assert shown(only(await bot.send("/subscribe"), "sendMessage")).startswith("Usage : /subscribe")
    unknown = only(await bot.send("/subscribe econimie"), "sendMessage")
    assert "Économie" in unknown.labels[0]  # a suggestion
    bad = only(await bot.send("/subscribe économie +pr*x"), "sendMessage")
    assert shown(bad).startswith("« +pr*x » n’est pas un filtre")
    ok = only(await bot.send("/subscribe économie +prix -bourse"), "sendMessage")
    assert "Filtres : +prix -bourse" in shown(ok)
    await publish(
        bot.clock,
        url,
        news(1, text="Le prix du pain augmente. " * 5),
        news(2, text="Le prix des actions en bourse chute. " * 5),
        news(3, text="Le chômage recule encore ce mois-ci. " * 5),
        news(4, text="Les prix de l’énergie baissent. " * 5),  # "+prix" matches "prix" words
    )
    await queue_settled(bot.store)
    titles = {shown(c).split("\n")[1].split(" · ", 1)[1] for c in pushed(bot.api)}
    assert titles == {"Nouvelle 1", "Nouvelle 4"} and len(pushed(bot.api)) == 2


async def test_buttons_subscribe_and_unsubscribe(bot: Bot, url: str) -> None:
    view = only(await bot.send("/categories"), "sendMessage")
    # The first row is the biggest category, Économie, and its 🔔 button.
    assert view.buttons[0][1]["text"] == "🔔 S’abonner"
    calls = await bot.press_data(view, view.buttons[0][1]["callback_data"])
    notice = only(calls, "answerCallbackQuery")
    assert notice.params["text"] == "Abonné à Économie"
    listing = only(await bot.send("/subscriptions"), "sendMessage")
    assert shown(listing).startswith("🔔 Vos abonnements (1)")
    assert "• Économie" in shown(listing)
    assert "📬 Réception : chaque article dès son arrivée." in shown(listing)
    redrawn = only(await bot.press(listing, "🔕 Économie"), "editMessageText")
    assert shown(redrawn).startswith("Aucun abonnement")
    assert only(await bot.send("/unsubscribe économie"), "sendMessage").text.startswith(
        "Vous n’êtes pas abonné"
    )
    await publish(bot.clock, url, news(1))
    await queue_settled(bot.store)
    assert pushed(bot.api) == []
    english = only(await bot.send("/unsubscribe all", user=EN), "sendMessage")
    assert shown(english) == "All your subscriptions are removed (0)."


async def test_in_a_group_only_admins_change_subscriptions(bot: Bot, url: str) -> None:
    refused = only(await bot.send_in_group("/subscribe économie", MEMBER, GROUP), "sendMessage")
    assert shown(refused).startswith("Dans un groupe, seuls ses administrateurs")
    bot.api.set_member_status(GROUP, ADMIN.id, "administrator", ADMIN)
    ok = only(await bot.send_in_group("/subscribe économie", ADMIN, GROUP), "sendMessage")
    assert shown(ok).startswith("✅ Abonné à Économie")
    listing = only(await bot.send_in_group("/subscriptions", MEMBER, GROUP), "sendMessage")
    assert "• Économie" in shown(listing)  # reading is for everyone
    notice = only(await bot.press(listing, "🔕 Économie", user=MEMBER), "answerCallbackQuery")
    assert notice.params["text"] == "Seuls les administrateurs de la discussion peuvent faire cela."
    [new_id] = await publish(bot.clock, url, news(1))
    await until(lambda: len(pushed(bot.api, GROUP)) == 1)
    assert f"{new_id} · Nouvelle 1" in shown(pushed(bot.api, GROUP)[0])


async def test_a_channel_subscribes_by_posting_the_command(bot: Bot, url: str) -> None:
    channel = -100777
    update_id = bot.api.channel_post(channel, "/subscribe économie")
    await bot.api.acknowledged(update_id)
    await asyncio.wait_for(bot.application.update_queue.join(), 10)
    await until(
        lambda: any(int(c.params["chat_id"]) == channel for c in bot.api.calls_of("sendMessage"))
    )
    await publish(bot.clock, url, news(1))
    await until(lambda: len(pushed(bot.api, channel)) == 1)
    # Any reader can press the buttons of a channel's post: only its admins may unsubscribe.
    post = pushed(bot.api, channel)[0]
    refused = only(await bot.press(post, "🔕 Unsubscribe", user=MEMBER), "answerCallbackQuery")
    assert refused.params["text"] == "Only this chat's admins can do that."  # the channel's
    bot.api.set_member_status(channel, ADMIN.id, "administrator", ADMIN)
    done = only(await bot.press(post, "🔕 Unsubscribe", user=ADMIN), "answerCallbackQuery")
    assert done.params["text"] == "Unsubscribed from Économie"


# -- what goes wrong while broadcasting ----------------------------------------------------------


async def test_a_user_who_blocked_the_bot_is_deactivated(bot: Bot, url: str) -> None:
    await bot.send("/subscribe économie")
    await bot.send("/subscribe économie", user=EN)
    bot.api.block(FR.id)
    bot.allowed_failures = 1
    await publish(bot.clock, url, news(1))
    await until(lambda: len(pushed(bot.api, EN.id)) == 1)
    await until(lambda: any(not c.ok for c in bot.api.calls_of("sendMessage")))
    store = await open_store(url, clock=bot.clock, rules=PushRules())
    try:
        await until(lambda: _inactive(store, FR.id))
        assert (await store.stats()).chats_inactive == 1
        assert (await store.add_articles([news(2)])).queued == 1  # EN only
    finally:
        await store.close()
    await until(lambda: len(pushed(bot.api, EN.id)) == 2)
    assert pushed(bot.api, FR.id) == []
    # Back: unblocking and subscribing again reactivates the chat.
    bot.api.unblock(FR.id)
    await bot.send("/subscribe économie")
    await publish(bot.clock, url, news(3))
    await until(lambda: len(pushed(bot.api, FR.id)) == 1)


async def test_blocking_and_unblocking_the_bot_stop_and_resume_deliveries(
    bot: Bot, url: str
) -> None:
    """Telegram says when a user blocks the bot or a group removes it (`my_chat_member`):
    nothing is sent there from then on, not even one failed attempt; taken back, it resumes."""
    await bot.send("/subscribe économie")
    bot.api.set_member_status(GROUP, ADMIN.id, "administrator", ADMIN)
    await bot.send_in_group("/subscribe économie", ADMIN, GROUP)
    for update_id in (
        bot.api.bot_membership(FR, FR.id, "member", "kicked"),
        bot.api.bot_membership(ADMIN, GROUP, "member", "left", chat_type="supergroup"),
    ):
        await bot.api.acknowledged(update_id)
    await asyncio.wait_for(bot.application.update_queue.join(), 10)
    store = await open_store(url, clock=bot.clock, rules=PushRules())
    try:
        await until(lambda: _inactive(store, FR.id))
        await until(lambda: _inactive(store, GROUP))
        assert (await store.add_articles([news(1)])).queued == 0
    finally:
        await store.close()
    await queue_settled(bot.store)
    assert pushed(bot.api) == []  # and no refused send either (allowed_failures is 0)
    update_id = bot.api.bot_membership(FR, FR.id, "kicked", "member")
    await bot.api.acknowledged(update_id)
    await asyncio.wait_for(bot.application.update_queue.join(), 10)
    await publish(bot.clock, url, news(2))
    await until(lambda: len(pushed(bot.api, FR.id)) == 1)
    assert pushed(bot.api, GROUP) == []


async def _inactive(store: SqlStore, chat_id: int) -> bool:
    chat = await store.find_chat(chat_id)
    return chat is not None and not chat.active


async def test_flood_control_waits_retry_after_then_sends_once(bot: Bot, url: str) -> None:
    await bot.send("/subscribe économie")
    bot.api.fail_next(
        "sendMessage", "Too Many Requests: retry after 1", 429, parameters={"retry_after": 1}
    )
    bot.allowed_failures = 1
    await publish(bot.clock, url, news(1))
    await until(lambda: len(pushed(bot.api)) == 1)
    attempts = [c for c in bot.api.calls_of("sendMessage") if "Nouvelle 1" in c.text]
    assert [c.ok for c in attempts] == [False, True]
    await queue_settled(bot.store)
    assert len(pushed(bot.api)) == 1


async def test_a_group_upgraded_to_a_supergroup_keeps_its_subscriptions(bot: Bot, url: str) -> None:
    old, new = -4242, -1004242
    bot.api.set_member_status(old, ADMIN.id, "creator", ADMIN)
    await bot.send_in_group("/subscribe économie", ADMIN, old, chat_type="group")
    bot.api.fail_next(
        "sendMessage",
        "Bad Request: group chat was upgraded to a supergroup chat",
        parameters={"migrate_to_chat_id": new},
        chat_id=old,
    )
    bot.allowed_failures = 1
    await publish(bot.clock, url, news(1))
    await until(lambda: len(pushed(bot.api, new)) == 1)
    await publish(bot.clock, url, news(2))
    await until(lambda: len(pushed(bot.api, new)) == 2)
    assert pushed(bot.api, old) == []


async def test_html_refused_by_telegram_is_resent_as_plain_text(bot: Bot, url: str) -> None:
    await bot.send("/subscribe économie")
    bot.api.fail_next("sendMessage", chat_id=FR.id)  # "can't parse entities"
    bot.allowed_failures = 1
    await publish(bot.clock, url, news(1))
    await until(lambda: len(pushed(bot.api)) == 1)
    [message] = pushed(bot.api)
    assert message.params.get("parse_mode") is None and "Nouvelle 1" in message.text


# -- a sender the test drives: kill and restart, digests, quiet hours -----------------------------


@pytest.fixture
async def quiet_bot(url: str, clock: FakeClock) -> AsyncIterator[Bot]:
    """The bot without its own sender: each test runs senders it controls."""
    ids = await seed(url, clock)
    async with running_bot(url, ids, delivery=QUICK, deliver=False, clock=clock) as running:
        yield running


async def test_a_killed_sender_is_resumed_and_every_article_arrives_once(
    quiet_bot: Bot, url: str
) -> None:
    bot = quiet_bot
    users = [User(id=700 + i, first_name=f"U{i}", language_code="fr") for i in range(4)]
    for user in users:
        await bot.send("/subscribe économie", user=user)
    await publish(bot.clock, url, *(news(i) for i in range(1, 6)))  # 4 chats x 5 articles
    doomed = sender_for(bot, worker="doomed", lease_seconds=30)
    real_send = doomed.outbox.send_article
    sent = stuck = 0
    never = asyncio.Event()

    async def dies_after_seven(chat_id: int, article_id: int, claim: ClaimedDelivery) -> Outcome:
        nonlocal sent, stuck
        if sent == 7:
            stuck += 1
            await never.wait()  # the process is killed before its eighth message
        sent += 1
        return await real_send(chat_id, article_id, claim)

    doomed.outbox.send_article = dies_after_seven  # type: ignore[method-assign]
    doomed.start()
    # Killed once every chat's sender is stuck at its next message: the seven sent are marked.
    await until(lambda: len(pushed(bot.api)) == 7 and 0 < stuck == len(doomed._tasks))
    tasks = [doomed._loop_task, doomed._lease_task, *doomed._tasks.values()]
    for task in tasks:
        assert task is not None
        task.cancel()  # a kill: nothing is given back to the queue
    await asyncio.gather(*(t for t in tasks if t is not None), return_exceptions=True)
    restarted = sender_for(bot, worker="restarted", lease_seconds=30)
    await drain(restarted)
    assert len(pushed(bot.api)) < 20  # the dead sender's leased rows wait for its lease
    bot.clock.advance(seconds=31)
    await drain(restarted)
    received = Counter((int(c.params["chat_id"]), shown(c).split("\n")[1]) for c in pushed(bot.api))
    assert len(received) == 20 and set(received.values()) == {1}


async def test_digest_at_its_time_with_pages(quiet_bot: Bot, url: str) -> None:
    bot = quiet_bot
    await bot.send("/subscribe économie")
    settings = only(await bot.send("/settings"), "sendMessage")
    assert "📬 Réception : chaque article dès son arrivée." in shown(settings)
    edited = only(await bot.press(settings, "📰 Sélection du jour"), "editMessageText")
    assert "📰 Réception : une sélection par jour à 08:00 (Europe/Paris)." in shown(edited)
    assert only(await bot.send("/digest 7h30"), "sendMessage").text.startswith("📰 Réception")
    assert shown(only(await bot.send("/digest midi"), "sendMessage")).startswith("Usage : /digest")
    bot.clock.set(datetime(2026, 11, 27, 12, 0, tzinfo=UTC))
    sender = sender_for(bot)
    ids = await publish(bot.clock, url, *(news(i) for i in range(1, 8)))
    await drain(sender)
    assert pushed(bot.api) == []
    bot.clock.set(datetime(2026, 11, 28, 6, 30, 5, tzinfo=UTC))  # 07:30:05 in Paris
    await drain(sender)
    digests = [c for c in bot.api.calls_of("sendMessage") if shown(c).startswith("📰 Votre")]
    assert len(digests) == 1 and pushed(bot.api) == []
    text = shown(digests[0])
    assert text.startswith("📰 Votre sélection du 28 novembre 2026 · 7 articles · page 1/2")
    assert f"{ids[-1]} · Nouvelle 7" in text and f"{ids[0]} · Nouvelle 1" not in text
    page2 = only(await bot.press(digests[0], "Suivant ›"), "editMessageText")
    assert f"{ids[0]} · Nouvelle 1" in shown(page2) and "page 2/2" in shown(page2)
    opened = only(await bot.press(page2, f"📝 {ids[0]}"), "sendMessage")
    assert shown(opened).startswith("📝 Résumé")
    await drain(sender)
    assert len([c for c in bot.api.calls_of("sendMessage") if shown(c).startswith("📰 Votre")]) == 1


async def test_quiet_hours_hold_articles_until_they_end(quiet_bot: Bot, url: str) -> None:
    bot = quiet_bot
    await bot.send("/subscribe économie")
    assert shown(only(await bot.send("/quiet 22-7"), "sendMessage")).startswith("Usage : /quiet")
    set_quiet = only(await bot.send("/quiet 22:00-07:00"), "sendMessage")
    assert "🌙 Heures calmes : 22:00–07:00" in shown(set_quiet)
    assert "Europe/London" in shown(only(await bot.send("/timezone europe/london"), "sendMessage"))
    bot.clock.set(datetime(2026, 11, 27, 23, 0, tzinfo=UTC))  # 23:00 in London
    sender = sender_for(bot)
    await publish(bot.clock, url, news(1), news(2))
    await drain(sender)
    assert pushed(bot.api) == []
    bot.clock.set(datetime(2026, 11, 28, 6, 59, tzinfo=UTC))
    await drain(sender)
    assert pushed(bot.api) == []
    bot.clock.set(datetime(2026, 11, 28, 7, 0, tzinfo=UTC))
    await drain(sender)
    assert len(pushed(bot.api)) == 2


async def test_pause_and_resume(quiet_bot: Bot, url: str) -> None:
    bot = quiet_bot
    await bot.send("/subscribe économie")
    assert shown(only(await bot.send("/pause"), "sendMessage")).startswith("⏸ Réception en pause")
    sender = sender_for(bot)
    await publish(bot.clock, url, news(1))
    await drain(sender)
    assert pushed(bot.api) == []
    await bot.send("/resume")
    await drain(sender)
    assert len(pushed(bot.api)) == 1


# -- several processes ----------------------------------------------------------------------------


def test_two_sender_processes_on_postgresql_never_send_twice(postgres_url: str) -> None:
    """Two bot processes drain one PostgreSQL queue at once: every (chat, article) reaches
    Telegram exactly once, and both took part."""
    asyncio.run(_reset(postgres_url))
    chats = [5000 + i for i in range(30)]
    asyncio.run(_subscribe(postgres_url, chats))
    with FakeBotAPI() as api:
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.deliver_worker",
                    postgres_url,
                    api.base_url,
                    api.token,
                ],
                cwd=ROOT,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        try:
            for worker in workers:
                assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
            asyncio.run(_publish_pg(postgres_url, 4))  # 30 chats x 4 articles = 120 messages
            for worker in workers:
                assert worker.stdin is not None
                worker.stdin.write("go\n")
                worker.stdin.flush()
            counts = []
            for worker in workers:
                out, _ = worker.communicate(timeout=60)
                counts.append(int(out.strip().splitlines()[-1]))
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
        sends = [
            (int(c.params["chat_id"]), c.text.split("\n")[1]) for c in api.calls_of("sendMessage")
        ]
    assert len(sends) == 120 and len(set(sends)) == 120
    assert sum(counts) == 120 and all(counts), counts


async def _reset(url: str) -> None:
    store = await open_store(url, clock=FakeClock(), rules=PushRules())
    try:
        async with store.engine.begin() as conn:
            tables = ", ".join(t.name for t in metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        await store.close()


async def _subscribe(url: str, chats: list[int]) -> None:
    store = await open_store(url, clock=FakeClock(), rules=PushRules())
    try:
        await store.add_articles([news(0)])
        for chat in chats:
            await store.upsert_chat(chat, language="fr")
            await store.subscribe(chat, "économie")
    finally:
        await store.close()


async def _publish_pg(url: str, count: int) -> None:
    await publish(FakeClock(), url, *(news(i) for i in range(1, count + 1)))


async def test_stats_is_for_admins_and_shows_the_queue(url: str) -> None:
    ids = await seed(url)
    config_admin = User(id=900, first_name="Root", language_code="en")
    async with running_bot(url, ids, delivery=QUICK, admins=(config_admin.id,)) as bot:
        refused = only(await bot.send("/stats"), "sendMessage")
        assert shown(refused) == "Cette commande est réservée aux administrateurs du bot."
        await bot.send("/subscribe économie")
        bot.api.block(FR.id)
        bot.allowed_failures = 1
        await publish(bot.clock, url, news(1))
        await until(lambda: any(not c.ok for c in bot.api.calls_of("sendMessage")))
        await queue_settled(bot.store)  # the failure is recorded
        text = shown(only(await bot.send("/stats", user=config_admin), "sendMessage"))
    assert text.startswith("📊 Bot status\nArticles: 12")
    assert "Chats: 2 (1 deactivated)" in text
    assert "Deliveries: 0 pending, 0 sending, 0 sent, 1 failed" in text
