"""The bot's admins run its feeds from the chat, through the real Application, the fake Bot API
and feeds served on loopback: /addfeed checks a feed before adding it (not a feed, HTTP error,
unreachable, duplicate), takes its category from the feed and ingests its first items at once;
/feeds pages them with buttons (fetch now, disable / enable, remove with a confirmation);
/delfeed removes one; anyone else is answered as for an unknown command. When a feed is disabled
after repeated failures, and when it works again, the admins get one message each.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import PeriodicJob, Runtime, default_jobs
from bot.config import Config, IngestConfig
from tests.fakebotapi import Call, User
from tests.feedserver import FeedServer
from tests.helpers import FR, Bot, FakeClock, only, running_bot, seed, shown, until

ADMIN = User(id=909, first_name="Inès", language_code="fr")
GROUP = -100321


def rss(title: str, count: int, *, category: str | None = "Sport", prefix: str = "match") -> str:
    body = " ".join(
        f"Phrase {n} sur la rencontre de la veille et le classement du championnat."
        for n in range(12)
    )
    items = "".join(
        f"<item><title>{title} {i} &amp; co</title><link>{{base}}/{prefix}/{i}</link>"
        f"<guid>{{base}}/{prefix}/{i}</guid><description>{body} N°{i}.</description></item>"
        for i in range(count)
    )
    channel_category = f"<category>{category}</category>" if category else ""
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{title} local</title><link>{{base}}/</link><description>d</description>"
        f"{channel_category}{items}</channel></rss>"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        running.add("/sport.xml", rss("Sport", 3), content_type="application/rss+xml")
        running.add("/notes.xml", rss("Notes", 2, category=None, prefix="note"))
        running.add(
            "/page.html", "<html><body><p>Bonjour</p></body></html>", content_type="text/html"
        )
        yield running


@pytest.fixture
async def bot(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Bot]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'feeds.db'}"
    ids = await seed(url, clock)
    async with running_bot(url, ids, admins=(ADMIN.id,), clock=clock) as running:
        yield running


def answer(calls: list[Call]) -> str:
    return shown(only(calls, "sendMessage"))


def notice(calls: list[Call]) -> str:
    return str(only(calls, "answerCallbackQuery").params.get("text") or "")


async def test_only_the_bots_admins_have_the_feed_commands(bot: Bot) -> None:
    for command in ("/feeds", "/addfeed https://example.org/rss", "/delfeed 1"):
        name = command.split()[0]
        assert answer(await bot.send(command, user=FR)) == (
            f"Je ne connais pas la commande {name}. /help les liste toutes."
        )
        assert await bot.send_in_group(command, FR, GROUP) == []  # silence, as for any unknown
    assert await bot.store.list_feeds() == []


async def test_addfeed_checks_the_feed_first_and_ingests_its_first_items(
    bot: Bot, server: FeedServer
) -> None:
    async def add(args: str) -> str:
        return answer(await bot.send(f"/addfeed {args}".strip(), user=ADMIN))

    assert (await add("")).startswith("Usage : /addfeed")
    assert (
        await add("ftp://example.org/rss")
        == "Ce n’est pas une adresse http(s) : ftp://example.org/rss"
    )
    assert (await add(server.url("/page.html"))).startswith(
        "Cette adresse ne donne pas un flux RSS ou Atom : not a feed"
    )
    assert await add(server.url("/missing.xml")) == "Le site a répondu par une erreur HTTP 404."
    unreachable = await add(f"http://127.0.0.1:{free_port()}/rss")
    assert unreachable.startswith("Le flux est injoignable (")
    assert await bot.store.list_feeds() == []  # none of those was added
    added = await add(server.url("/sport.xml"))
    assert added == (
        "✅ Flux #1 ajouté : Sport local\nRubrique : Sport · 3 nouveaux articles enregistrés."
    )
    assert len(server.requests_to("/sport.xml")) == 1  # checked and ingested from one fetch
    latest = answer(await bot.send("/latest sport", user=ADMIN))
    assert "Sport 2 & co" in latest and "1–3 sur 3" in latest
    assert await add(server.url("/sport.xml")) == "Ce flux existe déjà : #1. /feeds pour le voir."
    # The same feed spelt otherwise (scheme case, a tracking parameter) is the same feed.
    other = server.url("/sport.xml").replace("http://", "HTTP://") + "?utm_source=tg"
    assert await add(other) == "Ce flux existe déjà : #1. /feeds pour le voir."
    # A category given wins; a language is the last word when it looks like one.
    assert (await add(f"{server.url('/notes.xml')} Vie locale fr")).startswith(
        "✅ Flux #2 ajouté : Notes local\nRubrique : Vie locale · 2 nouveaux articles"
    )
    feed = (await bot.store.list_feeds())[1]
    assert (feed.category, feed.language, feed.origin) == ("Vie locale", "fr", "admin")
    # No category given and none in the feed: none (each item's own, if any, is used).
    server.add("/bare.xml", rss("Bare", 1, category=None, prefix="bare"))
    assert "Rubrique : sans rubrique" in await add(server.url("/bare.xml"))


async def test_feeds_pages_and_buttons(bot: Bot, server: FeedServer) -> None:
    await bot.send(f"/addfeed {server.url('/sport.xml')}", user=ADMIN)
    await bot.send(f"/addfeed {server.url('/notes.xml')} Notes", user=ADMIN)
    listing = only(await bot.send("/feeds", user=ADMIN), "sendMessage")
    text = shown(listing)
    assert text.startswith("🗞 Flux (2) · page 1/1")
    assert (
        "#1 Sport local\nSport · ✅ actif · lu le 27 novembre 2026 à 12:00 UTC · 3 articles" in text
    )
    assert "#2 Notes local\nNotes · ✅ actif" in text and "2 articles" in text
    assert listing.labels == ["🔄 1", "⏸ 1", "🗑 1", "🔄 2", "⏸ 2", "🗑 2"]
    # Fetch now: the list is redrawn with the new fetch time, the notice says what came.
    bot.clock.advance(hours=1)
    pressed = await bot.press(listing, "🔄 1", user=ADMIN)
    assert notice(pressed).startswith("Flux #1 : 0 nouveau(x)")
    assert len(server.requests_to("/sport.xml")) == 2
    redrawn = only(pressed, "editMessageText")
    assert "lu le 27 novembre 2026 à 13:00 UTC" in shown(redrawn)
    # Disable, then enable.
    pressed = await bot.press(redrawn, "⏸ 1", user=ADMIN)
    assert notice(pressed) == "Flux #1 désactivé"
    redrawn = only(pressed, "editMessageText")
    assert "Sport · ⛔ désactivé" in shown(redrawn) and redrawn.labels[:2] == ["▶️ 1", "🗑 1"]
    assert not (await bot.store.get_feed(1)).enabled
    pressed = await bot.press(redrawn, "▶️ 1", user=ADMIN)
    assert notice(pressed) == "Flux #1 réactivé"
    redrawn = only(pressed, "editMessageText")
    assert (await bot.store.get_feed(1)).enabled
    # Remove, with a confirmation; cancel first.
    asked = only(await bot.press(redrawn, "🗑 2", user=ADMIN), "editMessageText")
    assert shown(asked).startswith("Retirer le flux #2 http://127.0.0.1:")
    assert asked.labels == ["🗑 Oui, retirer", "Annuler"]
    back = only(await bot.press(asked, "Annuler", user=ADMIN), "editMessageText")
    assert shown(back).startswith("🗞 Flux (2)")
    asked = only(await bot.press(back, "🗑 2", user=ADMIN), "editMessageText")
    gone = only(await bot.press(asked, "🗑 Oui, retirer", user=ADMIN), "editMessageText")
    assert shown(gone).startswith("🗑 Flux #2 retiré (http://127.0.0.1:")
    assert [f.id for f in await bot.store.list_feeds()] == [1]
    assert "Notes" in answer(await bot.send("/latest notes", user=ADMIN))  # the articles stay
    # Someone else pressing the buttons of a forwarded list gets nothing done.
    fresh = only(await bot.send("/feeds", user=ADMIN), "sendMessage")
    refused = await bot.press(fresh, "⏸ 1", user=FR)
    assert notice(refused) == "Cette commande est réservée aux administrateurs du bot."
    assert (await bot.store.get_feed(1)).enabled
    # /delfeed.
    assert answer(await bot.send("/delfeed", user=ADMIN)).startswith("Usage : /delfeed")
    assert answer(await bot.send("/delfeed un", user=ADMIN)).startswith("Usage : /delfeed")
    assert answer(await bot.send("/delfeed 7", user=ADMIN)) == "Pas de flux #7. /feeds les liste."
    assert answer(await bot.send("/delfeed #1", user=ADMIN)).startswith("🗑 Flux #1 retiré")
    assert answer(await bot.send("/feeds", user=ADMIN)).startswith("Aucun flux.")


async def test_feeds_are_paged(bot: Bot) -> None:
    for n in range(7):
        await bot.store.upsert_feed(f"https://feeds{n}.example.org/rss", category="Monde")
    first = only(await bot.send("/feeds", user=ADMIN), "sendMessage")
    assert shown(first).startswith("🗞 Flux (7) · page 1/2")
    assert shown(first).count("jamais lu") == 5 and first.labels[-1] == "Suivant ›"
    second = only(await bot.press(first, "Suivant ›", user=ADMIN), "editMessageText")
    assert shown(second).startswith("🗞 Flux (7) · page 2/2") and "#7 https://feeds6" in shown(
        second
    )
    assert second.labels[-1] == "‹ Précédent"
    assert shown(only(await bot.send("/feeds 2", user=ADMIN), "sendMessage")) == shown(second)
    assert answer(await bot.send("/feeds deux", user=ADMIN)).startswith("Usage : /feeds")
    # A button on the second page redraws the second page.
    redrawn = only(await bot.press(second, "⏸ 6", user=ADMIN), "editMessageText")
    assert shown(redrawn).startswith("🗞 Flux (7) · page 2/2")


async def test_admins_are_told_once_when_a_feed_is_disabled_and_once_when_it_recovers(
    tmp_path: Path, clock: FakeClock, server: FeedServer
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'alerts.db'}"
    ids = await seed(url, clock)
    (default_ingest,) = [job for job in default_jobs(Config()) if job.name == "ingest"]
    ticks = 0

    async def tick(runtime: Runtime) -> object:
        nonlocal ticks
        try:
            return await default_ingest.run(runtime)
        finally:
            ticks += 1

    job = PeriodicJob("ingest", timedelta(seconds=0.1), tick)
    server.add("/flaky.xml", b"oops", status=500, content_type="text/plain")
    ingest = IngestConfig(max_failures=3)
    async with running_bot(
        url, ids, admins=(ADMIN.id,), clock=clock, jobs=[job], ingest=ingest
    ) as bot:
        await bot.send("/start", user=ADMIN)
        feed = await bot.store.upsert_feed(server.url("/flaky.xml"), category="Sport")

        def alerts() -> list[Call]:
            return [
                c
                for c in bot.api.calls_of("sendMessage")
                if int(c.params["chat_id"]) == ADMIN.id and shown(c)[:1] in ("⛔", "✅")
            ]

        async def fetched(times: int) -> None:
            """Let the next fetches of the feed happen, and the tick that made each end."""
            for _ in range(times):
                await one_fetch(len(server.requests_to("/flaky.xml")))

        async def one_fetch(before: int) -> None:
            bot.clock.advance(hours=25)  # past any back-off
            await until(lambda: len(server.requests_to("/flaky.xml")) > before)
            await ticks_after(ticks, 1)

        async def ticks_after(seen: int, more: int) -> None:
            await until(lambda: ticks >= seen + more)

        await fetched(2)  # two failures: failing, not disabled
        assert (await bot.store.get_feed(feed.id)).failures == 2 and alerts() == []
        await fetched(1)  # the third: disabled
        await until(lambda: len(alerts()) == 1)
        assert shown(alerts()[0]) == (
            f"⛔ Le flux #{feed.id} {server.url('/flaky.xml')} est désactivé après 3 échecs de "
            "suite : HTTP 500 Internal Server Error\n/feeds pour le réactiver."
        )
        bot.clock.advance(hours=25)
        await ticks_after(ticks, 3)  # more ticks: no second message, the feed is not fetched
        assert len(alerts()) == 1 and len(server.requests_to("/flaky.xml")) == 3
        # Fixed, and enabled again by an admin: one message once it works.
        server.add(
            "/flaky.xml", rss("Flaky", 1, prefix="flaky"), content_type="application/rss+xml"
        )
        listing = only(await bot.send("/feeds", user=ADMIN), "sendMessage")
        await bot.press(listing, f"▶️ {feed.id}", user=ADMIN)
        await fetched(1)
        await until(lambda: len(alerts()) == 2)
        assert shown(alerts()[1]) == (
            f"✅ Le flux #{feed.id} {server.url('/flaky.xml')} fonctionne de nouveau."
        )
        await fetched(2)
        assert len(alerts()) == 2


async def test_hostile_arguments_get_one_valid_answer_each(bot: Bot, server: FeedServer) -> None:
    """Markup, entities, emoji and huge values in the admins' feed commands: every answer is
    one message Telegram accepts (the fake Bot API checks the HTML and the length)."""
    long_url = server.url("/" + "a" * 5000)
    cases = [
        f"/addfeed {server.url('/<b>&amp;')}",
        f"/addfeed {long_url}",
        f"/addfeed {server.url('/sport.xml')} <script>alert(1)</script> 🏉 & Co",
        "/addfeed javascript:alert(1)",
        "/addfeed " + "é" * 3000,
        "/delfeed 99999999999999999999",
        "/delfeed -1",
        "/delfeed <b>1</b>",
        "/feeds 0",
        "/feeds 999999",
        "/feeds ² ",
    ]
    for command in cases:
        calls = await bot.send(command, user=ADMIN)
        assert len([c for c in calls if c.method == "sendMessage" and c.ok]) == 1, command
    feed = (await bot.store.list_feeds())[0]
    assert feed.category == "<script>alert(1)</script> 🏉 & Co"
    listing = answer(await bot.send("/feeds", user=ADMIN))
    assert "<script>alert(1)</script> 🏉 & Co · ✅ actif" in listing
