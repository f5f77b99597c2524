"""Summaries of the links users send, end to end: the real bot against the fake Bot API, pages
served on 127.0.0.1 by `FeedServer`, names answered by a resolver the test controls.

Only 127.0.0.1/32 is allowed, as tests alone configure it; every other address a name resolves
to (169.254.169.254, 10.0.0.8, 127.0.0.2) is refused before any connection, so nothing but
loopback ever receives a packet.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import ClassVar

import pytest

from bot.config import LinksConfig
from bot.errors import LinksDisabled, RateLimited
from bot.services.links import PerUserRateLimit, find_url
from bot.services.sharing import parse_offset
from tests.fakebotapi import Call
from tests.feedserver import FeedServer
from tests.helpers import EN, FR, Bot, only, rows_of, running_bot, seed, shown

PARAGRAPHS = [
    "Le port de Marseille a présenté mardi un plan d’agrandissement de ses quais.",
    "Les travaux doivent durer quatre ans et coûter près de deux cents millions d’euros.",
    "La région finance un tiers du projet, l’État et l’Union européenne le reste.",
    "Les dockers saluent un projet qui devrait créer plusieurs centaines d’emplois.",
    "Les riverains s’inquiètent en revanche du bruit et de la pollution des navires.",
    "Une concertation publique s’ouvrira au printemps dans les mairies de secteur.",
    "Le directeur du port promet des navires raccordés à l’électricité à quai.",
    "Les premiers appels d’offres seront publiés avant la fin de l’année prochaine.",
]
ARTICLE = (
    "<!doctype html><html lang='fr'><head><meta charset='utf-8'>"
    "<title>Le port de Marseille s’agrandit</title></head><body>"
    "<nav><a href='/'>Accueil</a> <a href='/eco'>Économie</a></nav>"
    "<article><h1>Le port de Marseille s’agrandit</h1>"
    + "".join(f"<p>{p}</p>" for p in PARAGRAPHS)
    + "</article><footer>© Les Nouvelles du port</footer></body></html>"
)
PLAIN_TEXT = "Note de conjoncture\n\n" + "\n\n".join(PARAGRAPHS)
SECRET_ADDRESSES = ("127.0.0.1", "127.0.0.2", "169.254", "10.0.0.8")


class Resolver:
    """DNS as the test says; unknown names do not exist."""

    answers: ClassVar[dict[str, list[str]]] = {
        "news.test": ["127.0.0.1"],
        "metadata.test": ["169.254.169.254"],
        "intranet.test": ["10.0.0.8"],
        "neighbour.test": ["127.0.0.2"],
    }

    async def __call__(self, host: str, port: int) -> list[str]:
        if host not in self.answers:
            raise OSError("Name or service not known")
        return self.answers[host]


def port_of(server: FeedServer) -> int:
    return int(server.base.rsplit(":", 1)[1])


def links_config(server: FeedServer, **changes: object) -> LinksConfig:
    values: dict[str, object] = {
        "allowed_ports": (80, 443, port_of(server)),
        "allowed_networks": ("127.0.0.1/32",),
        "timeout_seconds": 1.0,
        "max_bytes": 100_000,
        "per_user_per_minute": 50,
    }
    values.update(changes)
    return LinksConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as running:
        running.add("/port.html", ARTICLE, content_type="text/html; charset=utf-8")
        running.add("/note.txt", PLAIN_TEXT, content_type="text/plain; charset=utf-8")
        running.add(
            "/moved",
            redirect="http://news.test:{port}/port.html".replace("{port}", str(port_of(running))),
        )
        running.add("/doc.pdf", b"%PDF-1.4", content_type="application/pdf")
        running.add("/big", b"<p>" + b"x" * 200_000, content_type="text/html")
        running.add("/slow", ARTICLE, content_type="text/html", delay=3.0)
        running.add(
            "/empty.html", "<html><body><p>Bientôt.</p></body></html>", content_type="text/html"
        )
        yield running


async def start(
    tmp_path: Path, server: FeedServer, **changes: object
) -> AbstractAsyncContextManager[Bot]:
    """The bot over a seeded store, fetching links under `links_config(server, **changes)`."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'links.db'}"
    ids = await seed(url)
    return running_bot(url, ids, links=links_config(server, **changes), resolver=Resolver())


@pytest.fixture
async def bot(tmp_path: Path, server: FeedServer) -> AsyncIterator[Bot]:
    async with await start(tmp_path, server) as running:
        yield running


def article_url(server: FeedServer, path: str = "/port.html") -> str:
    return f"http://news.test:{port_of(server)}{path}"


def reply_to(calls: Sequence[Call]) -> str:
    """What the user reads in the bot's one reply."""
    return shown(only(calls, "sendMessage"))


# -- a good page ------------------------------------------------------------------------------


async def test_a_link_in_a_message_is_summarized_with_buttons(bot: Bot, server: FeedServer) -> None:
    url = article_url(server)
    calls = await bot.send(f"Regardez ça : {url} !")
    assert [c.method for c in calls] == ["sendChatAction", "sendMessage"]
    summary = only(calls, "sendMessage")
    text = shown(summary)
    assert text.startswith("📝 Résumé · ≤ 3 phrases, ~60 mots\n")
    article_id = int(text.split("\n")[1].split(" · ")[0])
    assert f"{article_id} · Le port de Marseille s’agrandit" in text
    assert "Shared · news.test · " in text  # category, source, date
    assert 1 <= text.count("• ") <= 3  # at most 3 sentences, ~60 words
    assert "Accueil" not in text and "©" not in text
    assert rows_of(summary) == [
        ["1 phrase", "✓ ≤ 3 phrases, ~60 mots", "≤ 5 phrases, ~100 mots"],
        ["📄 Texte intégral", "🔗 Lien"],
    ]
    assert summary.buttons[1][1]["url"] == url
    # The page was fetched once, from the checked address, with its name as Host.
    (request,) = server.requests_to("/port.html")
    assert request.headers["Host"] == f"news.test:{port_of(server)}"

    five = only(await bot.press(summary, "≤ 5 phrases, ~100 mots"), "editMessageText")
    assert shown(five).count("• ") == 5
    full = only(await bot.press(five, "📄 Texte intégral"), "editMessageText")
    assert PARAGRAPHS[-1] in shown(full)

    # Asked again (another spelling of the URL, another user): from the store, not fetched.
    again = reply_to(await bot.send(url + "?utm_source=telegram", user=EN))
    assert again.startswith("📝 Summary · ≤ 3 sentences, ~60 words\n")
    assert f"{article_id} · Le port de Marseille" in again
    assert len(server.requests_to("/port.html")) == 1
    # A URL that redirects to it finds the same article, and is not fetched again either.
    moved = f"{server.base.replace('127.0.0.1', 'news.test')}/moved"
    for _ in range(2):
        assert f"{article_id} · Le port de Marseille" in reply_to(await bot.send(moved))
    assert len(server.requests_to("/moved")) == 1

    # It is an article like any other: listed in its category, opened by a deep link.
    listing = reply_to(await bot.send("/latest shared"))
    assert listing.startswith("📰 Shared · 1–1 sur 1")
    assert reply_to(await bot.send(f"/start art_{article_id}")).startswith("📝 Résumé")


async def test_a_link_stored_more_than_a_day_ago_is_fetched_again(
    tmp_path: Path, server: FeedServer
) -> None:
    url = article_url(server)
    async with await start(tmp_path, server) as bot:
        first = reply_to(await bot.send(url))
        article_id = int(first.split("\n")[1].split(" · ")[0])
        assert len(server.requests_to("/port.html")) == 1
        # A day later the page has changed.
        corrected = ARTICLE.replace("Le port de Marseille", "Le grand port de Marseille")
        server.add("/port.html", corrected, content_type="text/html; charset=utf-8")
        bot.clock.advance(hours=25)
        full = reply_to(await bot.send(f"/full {article_id}"))  # now in the readers' cache
        assert "Le grand port" not in full
        again = reply_to(await bot.send(url))
        assert len(server.requests_to("/port.html")) == 2
        assert f"{article_id} · Le grand port de Marseille" in again  # same id, new text
        assert "• Le grand port de Marseille" in again  # a summary of the new text
        # Within the day, it is not fetched a third time.
        reply_to(await bot.send(url))
        assert len(server.requests_to("/port.html")) == 2


async def test_summarize_command(bot: Bot, server: FeedServer) -> None:
    one = reply_to(await bot.send(f"/summarize {article_url(server)} 1"))
    assert one.startswith("📝 Résumé · 1 phrase\n") and one.count("• ") == 1
    note = reply_to(await bot.send(f"/summarize {article_url(server, '/note.txt')}"))
    assert "· Note de conjoncture\n" in note and 1 <= note.count("• ") <= 3
    usage = (
        "Usage : /summarize lien [phrases], par exemple /summarize https://www.example.org/article."
    )
    for typed in ("/summarize", f"/summarize {article_url(server)} 0", "/summarize a b c"):
        assert reply_to(await bot.send(typed)).startswith(usage), typed
    assert reply_to(await bot.send("/summarize", user=EN)).startswith("Usage: /summarize link")
    in_group = only(
        await bot.send(f"/summarize {article_url(server)}", chat_type="group"), "sendMessage"
    )
    assert in_group.params["chat_id"] == str(-FR.id)
    assert shown(in_group).startswith("📝 Résumé")


async def test_concurrent_requests_for_one_url_fetch_it_once(bot: Bot, server: FeedServer) -> None:
    url = article_url(server)
    first = bot.api.send_message(FR, url)
    second = bot.api.send_message(EN, url)
    await bot.api.acknowledged(max(first, second))
    await asyncio.wait_for(bot.application.update_queue.join(), 10)
    for _ in range(100):
        if len(bot.api.calls_of("sendMessage")) == 2:
            break
        await asyncio.sleep(0.05)
    replies = [shown(c) for c in bot.api.calls_of("sendMessage")]
    assert len(replies) == 2 and all("Le port de Marseille" in r for r in replies)
    assert len(server.requests_to("/port.html")) == 1


# -- refusals and failures --------------------------------------------------------------------


async def test_refused_and_failed_links_say_why_without_addresses(
    bot: Bot, server: FeedServer
) -> None:
    port = port_of(server)
    cases = [
        ("ftp://news.test/file", "Je ne lis que les liens qui commencent par http:// ou https://."),
        ("file:///etc/passwd", "Je ne lis que les liens qui commencent par http:// ou https://."),
        ("http://user:pw@news.test/", "Je ne lis pas les liens qui contiennent un identifiant"),
        ("http://news.test:22/", f"Je ne lis que les pages web sur le port 80 / 443 / {port}."),
        ("http://169.254.169.254/latest/meta-data/", "Je ne lis que les pages publiques"),
        ("http://metadata.test/latest/meta-data/", "Je ne lis que les pages publiques"),
        ("http://intranet.test/admin", "Je ne lis que les pages publiques"),
        (f"http://neighbour.test:{port}/", "Je ne lis que les pages publiques"),
        ("http://[::1]/", "Je ne lis que les pages publiques"),
        ("http://2852039166/", "Je ne lis que les pages publiques"),  # 169.254.169.254
        ("http://nowhere.test/", "Ce site est introuvable : vérifiez l’adresse."),
        (article_url(server, "/missing"), "Le site répond par une erreur (HTTP 404)."),
        (article_url(server, "/doc.pdf"), "Ce lien ne mène pas à une page web (HTML ou texte)."),
        (article_url(server, "/big"), "La page est trop lourde pour moi (plus de 100\u00a0ko)."),
        (article_url(server, "/slow"), "La page a mis plus de 1 s à arriver : j’abandonne."),
        (
            article_url(server, "/empty.html"),
            "Je ne trouve pas d’article à résumer dans cette page.",
        ),
    ]
    for url, expected in cases:
        text = reply_to(await bot.send(f"/summarize {url}"))
        assert text.startswith(expected), (url, text)
        assert not any(a in text for a in SECRET_ADDRESSES), (url, text)
    # A link in a plain message gets the same answer; in English for English speakers.
    text = reply_to(await bot.send("http://metadata.test/latest/meta-data/iam", user=EN))
    assert (
        text == "I only read public pages: this link leads to a private, local or reserved address."
    )
    text = reply_to(await bot.send(f"/summarize {article_url(server, '/doc.pdf')}", user=EN))
    assert text == "This link does not lead to a web page (HTML or text)."
    # Nothing was stored from any of them.
    assert reply_to(await bot.send("/latest shared")).startswith("Pas de rubrique")


async def test_links_per_user_are_rate_limited(tmp_path: Path, server: FeedServer) -> None:
    async with await start(tmp_path, server, per_user_per_minute=2) as bot:
        for _ in range(2):
            assert reply_to(await bot.send(article_url(server))).startswith("📝 Résumé")
        limited = reply_to(await bot.send(article_url(server, "/note.txt")))
        assert limited.startswith("Trop de liens d’un coup : réessayez dans ")
        assert limited.endswith(" s.")
        assert reply_to(await bot.send(article_url(server), user=EN)).startswith("📝 Summary")
        # Searching is not limited.
        assert "🔎" in reply_to(await bot.send("bourse"))
    assert server.requests_to("/note.txt") == []


async def test_links_can_be_turned_off(tmp_path: Path, server: FeedServer) -> None:
    async with await start(tmp_path, server, enabled=False) as bot:
        off = "Les résumés de pages web sont désactivés sur ce bot."
        assert reply_to(await bot.send(f"/summarize {article_url(server)}")) == off
        assert reply_to(await bot.send(article_url(server))) == off
        calls = await bot.send(f"/summarize {article_url(server)}", user=EN)
        assert reply_to(calls) == "Web page summaries are turned off on this bot."
        assert [c.method for c in calls] == ["sendMessage"]  # no "typing…" for a refusal
    assert server.requests_to("/port.html") == []


async def test_the_link_service_refuses_when_turned_off(tmp_path: Path, server: FeedServer) -> None:
    async with await start(tmp_path, server, enabled=False) as bot:
        services = bot.application.bot_data.services
        assert services is not None and services.links is not None
        with pytest.raises(LinksDisabled):
            await services.links.article(article_url(server), 501)
    assert server.requests_to("/port.html") == []


def test_the_default_config_refuses_loopback() -> None:
    config = LinksConfig()
    assert config.allowed_networks == () and set(config.allowed_ports) == {80, 443}


# -- the pieces -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("https://example.org/a", "https://example.org/a"),
        ("Lisez ça : https://example.org/a?b=1&c=2.", "https://example.org/a?b=1&c=2"),
        ("(voir http://example.org/x)", "http://example.org/x"),
        (
            "«\u00a0https://fr.wikipedia.org/wiki/Lyon_(ville)\u00a0»",
            "https://fr.wikipedia.org/wiki/Lyon_(ville)",
        ),
        ("HTTPS://EXAMPLE.ORG/", "HTTPS://EXAMPLE.ORG/"),
        ("deux liens http://a.example/1 et http://b.example/2", "http://a.example/1"),
        ("pas de lien, juste http:", None),
        ("ftp://example.org/file", None),
    ],
)
def test_find_url(text: str, found: str | None) -> None:
    assert find_url(text) == found


def test_find_url_prefers_the_links_telegram_marked() -> None:
    assert (
        find_url("lisez ceci", ["https://hidden.example/story"]) == "https://hidden.example/story"
    )
    assert find_url("https://b.example/", ["mailto:x@example.org"]) == "https://b.example/"


def test_rate_limiter_slides() -> None:
    now = [0.0]
    limiter = PerUserRateLimit(2, 60.0, clock=lambda: now[0])
    limiter.hit(1)
    now[0] = 10.0
    limiter.hit(1)
    limiter.hit(2)
    with pytest.raises(RateLimited) as limited:
        limiter.hit(1)
    assert limited.value.retry_after == 50
    now[0] = 60.0  # the first hit left the window
    limiter.hit(1)
    with pytest.raises(RateLimited):
        limiter.hit(1)


def test_inline_offsets_are_ours_or_zero() -> None:
    assert [parse_offset(o) for o in ("", "20", "x", "-5", "９", "99999999")] == [0, 20, 0, 0, 0, 0]
    assert parse_offset("100000") == 500
