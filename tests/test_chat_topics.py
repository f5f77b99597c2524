"""Forum topics as a group with topics lives them, through the real Application and the fake
Bot API (which refuses a message to a closed or deleted topic as Telegram does): /subscribe in a
topic routes that category there, /subscriptions in a topic lists that topic's, every answer goes
to the topic it came from, digests go one per topic, and a closed or deleted topic stops its own
subscriptions only, with one notice to the group.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from bot.deliver.rules import PushRules
from bot.models import NewArticle
from bot.store import open_store
from tests.fakebotapi import Call, FakeBotAPI, User
from tests.helpers import QUICK, Bot, FakeClock, drain, only, running_bot, seed, sender_for, shown

ADMIN = User(id=602, first_name="Marc", language_code="fr")
MEMBER = User(id=603, first_name="Léa", language_code="fr")
GROUP = -100555


def news(n: int, category: str) -> NewArticle:
    body = (
        f"Dépêche numéro {n} de la rubrique {category} avec ses chiffres du jour. "
        "Les analystes commentent longuement cette publication attendue. "
        "Le gouvernement réagit dans la soirée par un communiqué."
    )
    return NewArticle(title=f"Nouvelle {n}", text=body, category=category, language="fr")


async def publish(clock: FakeClock, url: str, *items: NewArticle) -> list[int]:
    """Store articles as another process (`newsbot import`) would."""
    store = await open_store(url, clock=clock, rules=PushRules())
    try:
        return (await store.add_articles(items)).ids
    finally:
        await store.close()


def pushed(api: FakeBotAPI) -> list[Call]:
    return [c for c in api.calls_of("sendMessage") if c.ok and shown(c).startswith("🆕")]


@pytest.fixture
async def url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'topics.db'}"


@pytest.fixture
async def bot(url: str, clock: FakeClock) -> AsyncIterator[Bot]:
    ids = await seed(url, clock)
    async with running_bot(url, ids, delivery=QUICK, deliver=False, clock=clock) as running:
        running.api.set_member_status(GROUP, ADMIN.id, "administrator", ADMIN)
        yield running


async def test_each_category_goes_to_the_topic_it_was_subscribed_in(bot: Bot, url: str) -> None:
    api = bot.api
    economy = api.create_topic(GROUP, "Économie")
    culture = api.create_topic(GROUP, "Culture")
    reply = only(
        await bot.send_in_group("/subscribe économie", ADMIN, GROUP, thread_id=economy),
        "sendMessage",
    )
    assert shown(reply).startswith("✅ Abonné à Économie") and reply.thread_id == economy
    reply = only(
        await bot.send_in_group("/subscribe culture", ADMIN, GROUP, thread_id=culture),
        "sendMessage",
    )
    assert reply.thread_id == culture
    # A member's refusal goes to the topic too.
    refused = only(
        await bot.send_in_group("/subscribe culture", MEMBER, GROUP, thread_id=economy),
        "sendMessage",
    )
    assert refused.thread_id == economy and "administrateurs" in shown(refused)
    # /subscriptions in a topic lists that topic's; outside topics (General), all of them.
    listed = only(
        await bot.send_in_group("/subscriptions", MEMBER, GROUP, thread_id=economy), "sendMessage"
    )
    assert listed.thread_id == economy
    assert "• Économie\n" in shown(listed) and "Culture" not in shown(listed)
    general = only(await bot.send_in_group("/subscriptions", MEMBER, GROUP), "sendMessage")
    assert general.thread_id is None
    assert "• Économie · 💬 dans son sujet" in shown(general)
    assert "• Culture · 💬 dans son sujet" in shown(general)
    # Any command's answer goes to its topic.
    latest = only(
        await bot.send_in_group("/latest", MEMBER, GROUP, thread_id=culture), "sendMessage"
    )
    assert latest.thread_id == culture
    sender = sender_for(bot)
    await publish(bot.clock, url, news(1, "Économie"), news(2, "Culture"), news(3, "Économie"))
    await drain(sender)
    where = sorted((shown(c).split("\n")[0], c.thread_id) for c in pushed(api))
    assert where == [
        ("🆕 Culture", culture),
        ("🆕 Économie", economy),
        ("🆕 Économie", economy),
    ]
    # A button pressed on a pushed article answers in its topic (a new message)...
    message = next(c for c in pushed(api) if c.thread_id == culture)
    opened = only(await bot.press(message, "📄 Texte intégral", user=MEMBER), "sendMessage")
    assert opened.thread_id == culture
    # ... and the /categories Subscribe button subscribes the topic it is pressed in.
    categories = only(
        await bot.send_in_group("/categories", ADMIN, GROUP, thread_id=culture), "sendMessage"
    )
    assert categories.thread_id == culture
    [row] = [row for row in categories.buttons if "Politique" in row[0]["text"]]
    assert row[1]["text"] == "🔔 S’abonner"
    await bot.press_data(categories, row[1]["callback_data"], user=ADMIN)
    await publish(bot.clock, url, news(4, "Politique"))
    await drain(sender)
    assert [c.thread_id for c in pushed(api) if "Politique" in shown(c)] == [culture]
    # Subscribing to a category from another topic moves it there.
    await bot.send_in_group("/subscribe politique", ADMIN, GROUP, thread_id=economy)
    await publish(bot.clock, url, news(5, "Politique"))
    await drain(sender)
    assert [c.thread_id for c in pushed(api) if "Politique" in shown(c)] == [culture, economy]
    # /unsubscribe all in a topic stops that topic's only.
    gone = only(
        await bot.send_in_group("/unsubscribe all", ADMIN, GROUP, thread_id=economy),
        "sendMessage",
    )
    assert gone.thread_id == economy
    remaining = await bot.store.subscriptions(GROUP)
    assert [(s.category, s.thread_id) for s in remaining] == [("Culture", culture)]


async def test_a_closed_or_deleted_topic_stops_its_subscriptions_only_and_tells_once(
    bot: Bot, url: str
) -> None:
    api = bot.api
    economy = api.create_topic(GROUP, "Économie")
    culture = api.create_topic(GROUP, "Culture")
    await bot.send_in_group("/subscribe économie", ADMIN, GROUP, thread_id=economy)
    await bot.send_in_group("/subscribe culture", ADMIN, GROUP, thread_id=culture)
    api.close_topic(GROUP, economy)
    sender = sender_for(bot)
    await publish(bot.clock, url, news(1, "Économie"), news(2, "Économie"), news(3, "Culture"))
    await drain(sender)
    refused = [c for c in api.calls_of("sendMessage") if not c.ok]
    assert [c.error for c in refused] == ["Bad Request: TOPIC_CLOSED"]  # one try, not two
    bot.allowed_failures = 1
    assert [(shown(c).split("\n")[0], c.thread_id) for c in pushed(api)] == [
        ("🆕 Culture", culture)
    ]
    notices = [c for c in api.calls_of("sendMessage") if shown(c).startswith("🚫")]
    assert len(notices) == 1 and notices[0].ok and notices[0].thread_id is None
    assert "Économie" in shown(notices[0]) and "Culture" not in shown(notices[0])
    subs = {s.category: s.active for s in await bot.store.subscriptions(GROUP)}
    assert subs == {"Économie": False, "Culture": True}
    failed = await bot.store.list_deliveries(status="failed")
    # PTB words it "Topic_closed".
    assert len(failed) == 2 and all(d.last_error == "Topic_closed" for d in failed)
    # Nothing more is tried in the closed topic.
    await publish(bot.clock, url, news(4, "Économie"))
    await drain(sender)
    assert len([c for c in api.calls_of("sendMessage") if not c.ok]) == 1
    # A deleted topic: the same, once.
    api.delete_topic(GROUP, culture)
    await publish(bot.clock, url, news(5, "Culture"))
    await drain(sender)
    refused = [c for c in api.calls_of("sendMessage") if not c.ok]
    assert [c.error for c in refused][-1] == "Bad Request: message thread not found"
    bot.allowed_failures = 2
    notices = [c for c in api.calls_of("sendMessage") if shown(c).startswith("🚫")]
    assert len(notices) == 2 and "Culture" in shown(notices[1])
    # Reopened, the topic is subscribed again by an admin, and receives again.
    api.reopen_topic(GROUP, economy)
    await bot.send_in_group("/subscribe économie", ADMIN, GROUP, thread_id=economy)
    await publish(bot.clock, url, news(6, "Économie"))
    await drain(sender)
    assert [c.thread_id for c in pushed(api)][-1] == economy
    assert len([c for c in api.calls_of("sendMessage") if not c.ok]) == 2


async def test_digests_go_one_per_topic(bot: Bot, url: str) -> None:
    api = bot.api
    economy = api.create_topic(GROUP, "Économie")
    culture = api.create_topic(GROUP, "Culture")
    await bot.send_in_group("/subscribe économie", ADMIN, GROUP, thread_id=economy)
    await bot.send_in_group("/subscribe culture", ADMIN, GROUP, thread_id=culture)
    answer = only(
        await bot.send_in_group("/digest 08:00", ADMIN, GROUP, thread_id=culture), "sendMessage"
    )
    assert answer.thread_id == culture
    bot.clock.set(datetime(2026, 11, 27, 12, 0, tzinfo=UTC))
    sender = sender_for(bot)
    await publish(bot.clock, url, news(1, "Économie"), news(2, "Culture"), news(3, "Culture"))
    await drain(sender)
    assert pushed(api) == []
    bot.clock.set(datetime(2026, 11, 28, 7, 0, 5, tzinfo=UTC))  # 08:00:05 in Paris
    await drain(sender)
    digests = [c for c in api.calls_of("sendMessage") if shown(c).startswith("📰 Votre")]
    by_topic = {c.thread_id: shown(c) for c in digests}
    assert set(by_topic) == {economy, culture} and len(digests) == 2
    assert "1 article" in by_topic[economy] and "Nouvelle 1" in by_topic[economy]
    assert "2 articles" in by_topic[culture] and "Nouvelle 1" not in by_topic[culture]
    # Its page buttons answer in place, in the topic.
    opened = only(
        await bot.press(digests[0], f"📝 {digests[0].labels[0][2:]}", user=MEMBER), "sendMessage"
    )
    assert opened.thread_id == digests[0].thread_id


async def test_the_fake_bot_api_checks_topics_as_telegram_does() -> None:
    with FakeBotAPI() as api:
        topic = api.create_topic(GROUP, "Sport")
        url = f"{api.base_url}{api.token}/sendMessage"

        async def post(**params: object) -> dict[str, object]:
            async with httpx.AsyncClient() as client:
                response = await client.post(url, json={"chat_id": GROUP, "text": "x", **params})
            return dict(response.json())

        ok = await post(message_thread_id=topic)
        assert ok["ok"] and ok["result"]["message_thread_id"] == topic  # type: ignore[index]
        unknown = await post(message_thread_id=topic + 100)
        assert unknown["description"] == "Bad Request: message thread not found"
        api.close_topic(GROUP, topic)
        assert (await post(message_thread_id=topic))["description"] == "Bad Request: TOPIC_CLOSED"
        assert (await post())["ok"]  # the General topic stays open
        api.delete_topic(GROUP, topic)
        gone = await post(message_thread_id=topic)
        assert gone["description"] == "Bad Request: message thread not found"
        private = await post(chat_id=4242, message_thread_id=topic)
        assert private["description"] == "Bad Request: message thread not found"

        async def call(method: str, **params: object) -> dict[str, object]:
            async with httpx.AsyncClient() as client:
                response = await client.post(
                    f"{api.base_url}{api.token}/{method}", json={"chat_id": GROUP, **params}
                )
            return dict(response.json())

        # The bot's own topic calls.
        created = await call("createForumTopic", name="Météo")
        assert created["ok"]
        made = created["result"]["message_thread_id"]  # type: ignore[index]
        assert api.topics[(GROUP, made)]["name"] == "Météo"
        assert (await call("closeForumTopic", message_thread_id=made))["ok"]
        closed_again = await call("closeForumTopic", message_thread_id=made)
        assert closed_again["description"] == "Bad Request: TOPIC_NOT_MODIFIED"
        assert (await post(message_thread_id=made))["description"] == "Bad Request: TOPIC_CLOSED"
        assert (await call("reopenForumTopic", message_thread_id=made))["ok"]
        assert (await post(message_thread_id=made))["ok"]
        assert (await call("deleteForumTopic", message_thread_id=made))["ok"]
        assert not (await post(message_thread_id=made))["ok"]
        not_forum = await call("createForumTopic", chat_id=-100999, name="x")
        assert not_forum["description"] == "Bad Request: the chat is not a forum"
