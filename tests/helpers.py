"""Helpers shared by the tests (no test module imports another test module: they import this).

`FakeClock` is the one clock the tests hand to the store, services, ingest and sender (see
`bot.clock`): wall time stands still until a test moves it, and monotonic time follows the
real one plus every move, so caches and rate windows expire when the test says so and the
sender's pacing still runs in real time.

`running_bot` starts the real Application against a fake Bot API (`tests.fakebotapi`); `Bot` is
the user's side of that chat, `seed` stores the small newsroom the chat tests read, and
`only`/`shown`/`rows_of`/`message_of` say what the user saw.

"Nothing happened" is asserted only once the code is idle, never after a fixed sleep: `drain`
drives a sender until it claims nothing and its sends are over, `queue_settled` waits until the
store has nothing left to send, and `until` waits for a positive condition with a deadline.
"""

from __future__ import annotations

import asyncio
import inspect
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from bot.app import PeriodicJob, create_application
from bot.chat.application import serve
from bot.chat.context import NewsApplication
from bot.chat.outbox import TelegramOutbox
from bot.cli import main
from bot.clock import Clock
from bot.config import (
    Config,
    DeliveryConfig,
    FeedConfig,
    IngestConfig,
    LinksConfig,
    MetricsConfig,
    StoreConfig,
    TelegramConfig,
    WebhookConfig,
)
from bot.deliver.rules import PushRules
from bot.deliver.sender import Sender
from bot.ingest.safefetch import Resolver
from bot.models import NewArticle
from bot.store import SqlStore, open_store
from tests.fakebotapi import Call, FakeBotAPI, User, parse_html

# Where a test's clock starts unless it says otherwise: a fixed instant, so what a test sees
# does not depend on the day it runs (CI runs the suite again under faketime to prove it).
START = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


class FakeClock:
    """A `bot.clock.Clock` a test moves: `advance(...)` or `set(when)`."""

    def __init__(self, start: datetime = START) -> None:
        if start.tzinfo is None:
            raise ValueError("a clock's time is aware UTC")
        self._now = start.astimezone(UTC)
        self._ahead = 0.0  # seconds the test moved the monotonic clock ahead of the real one

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return time.monotonic() + self._ahead

    def advance(self, delta: timedelta | None = None, **parts: float) -> datetime:
        """Move wall and monotonic time forward by *delta* (or `timedelta(**parts)`)."""
        step = delta if delta is not None else timedelta(**parts)
        if step < timedelta(0):
            raise ValueError("time only moves forward")
        self._now += step
        self._ahead += step.total_seconds()
        return self._now

    def set(self, when: datetime) -> datetime:
        """Move to *when* (aware, not before now)."""
        return self.advance(when.astimezone(UTC) - self._now)

    def __repr__(self) -> str:
        return f"FakeClock({self._now.isoformat()})"


# -- waiting without sleeping -------------------------------------------------------------------


async def until(
    condition: Callable[[], bool | Awaitable[bool]], timeout: float = 10.0, what: str = ""
) -> None:
    """Wait until *condition* (a function, or a coroutine function) is true; fail after
    *timeout* seconds of real time."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting{': ' + what if what else ''}")
        await asyncio.sleep(0.02)


async def drain(sender: Sender) -> int:
    """Drive a sender the test owns (not started) until it is idle: claim and send until the
    queue has nothing due, and every chat's sends are over; how many deliveries it claimed."""
    total = 0
    while claimed := await sender.drain_once():
        total += claimed
        await _sends_over(sender)
    await _sends_over(sender)
    return total


async def _sends_over(sender: Sender) -> None:
    while sender._tasks:
        await asyncio.gather(*list(sender._tasks.values()))


async def queue_settled(store: SqlStore, timeout: float = 10.0) -> None:
    """Wait until the deliveries queue has nothing pending and nothing being sent: a running
    bot's sender has then sent (or failed) all it ever will for what is stored so far. A row
    held for later (quiet hours, back-off) keeps it unsettled: only for tests that hold none."""

    async def settled() -> bool:
        deliveries = (await store.stats()).deliveries
        return not deliveries.get("pending") and not deliveries.get("sending")

    await until(settled, timeout, "the deliveries queue to settle")


# -- the bot as a Telegram user meets it (see tests/test_chat_e2e.py) ----------------------------

FR = User(id=501, first_name="Camille", language_code="fr")
EN = User(id=502, first_name="Sam", language_code="en-GB")

LONG_PARAGRAPHS = [
    f"Paragraphe {i} du reportage. "
    + " ".join(
        f"Phrase {i}.{j} sur la réforme des retraites, les syndicats et le gouvernement."
        for j in range(12)
    )
    for i in range(1, 16)
]


def seed_articles() -> dict[str, NewArticle]:
    """A small newsroom: a category with enough articles to page, HTML-special characters,
    English, a very long article and one with nothing to summarize."""
    day = datetime(2025, 11, 26, 16, 45, tzinfo=UTC)
    economy_titles = [
        "La Bourse de Paris termine en hausse",
        "Le prix du gazole recule encore",
        "L’inflation ralentit en novembre",
        "Les exportations de vin progressent",
        "Le chômage baisse légèrement",
        "Les taux des crédits immobiliers se stabilisent",
        "La production industrielle rebondit",
    ]
    items: dict[str, NewArticle] = {}
    for i, title in enumerate(economy_titles):
        items[f"eco{i}"] = NewArticle(
            title=title,
            text=(
                f"Selon les chiffres publiés ce jour par l’institut : {title.lower()}. "
                "Les analystes avaient anticipé ce mouvement depuis plusieurs semaines déjà. "
                "Le gouvernement salue une évolution encourageante pour les ménages. "
                "Les syndicats restent prudents et attendent la confirmation des tendances. "
                "Les marchés ont réagi calmement à cette annonce dans la matinée. "
                "Une nouvelle publication est attendue le mois prochain pour confirmer "
                "la trajectoire."
            ),
            url=f"https://news.example.org/eco/{i}",
            author="Anne Dupont" if i == 0 else "Rédaction économie",
            published=day - timedelta(days=i),
            category="Économie",
            language="fr",
        )
    items["html"] = NewArticle(
        title='Molière <b>revient</b> & "Tartuffe" triomphe',
        text=(
            "La troupe joue <i>Tartuffe</i> & le public applaudit longuement chaque soir. "
            "Les critiques parlent d’un « retour réussi » pour la mise en scène très attendue. "
            "Le théâtre affiche complet jusqu’à la fin de la saison prochaine selon la direction."
        ),
        url="https://news.example.org/culture?id=1&ref=rss",
        author="Théâtre & Cie <script>",
        published=day - timedelta(hours=1),
        category="Culture",
        language="fr",
    )
    items["rain"] = NewArticle(
        title="Rain expected all weekend",
        text=(
            "Forecasters expect heavy rain across the north of the country this weekend. "
            "Flood alerts are in place for several rivers in the region since this morning. "
            "Residents are advised to avoid travelling unless their journey is necessary."
        ),
        url="https://weather.example.com/rain",
        author="Weather desk",
        published=day - timedelta(hours=2),
        category="World",
        language="en",
    )
    items["long"] = NewArticle(
        title="Retraites : le très long reportage",
        text="\n\n".join(LONG_PARAGRAPHS),
        author="Louis Joubert",
        published=day - timedelta(days=20),
        category="Politique",
        language="fr",
    )
    items["loto"] = NewArticle(
        title="Résultats du loto",
        text="12 — 17 — 23 — 38 — 41 / 7",
        published=day - timedelta(days=30),
        category="Jeux",
        language="fr",
    )
    return items


async def seed(url: str, clock: Clock | None = None) -> dict[str, int]:
    """Store the seed articles (at *clock*'s now); their ids by name."""
    store = await open_store(url, clock=clock or FakeClock(), rules=PushRules())
    try:
        items = seed_articles()
        result = await store.add_articles(items.values())
    finally:
        await store.close()
    assert len(result.ids) == len(items)
    return dict(zip(items, result.ids, strict=True))


@dataclass
class Bot:
    """The running bot, the fake Telegram around it, and the user's side of the chat."""

    api: FakeBotAPI
    application: NewsApplication
    ids: dict[str, int]
    clock: FakeClock
    allowed_failures: int = 0
    logs: list[str] = field(default_factory=list)

    async def send(self, text: str, user: User = FR, chat_type: str = "private") -> list[Call]:
        """The user sends `text`; the calls the bot made while handling it."""
        mark = len(self.api.calls)
        update_id = self.api.send_message(user, text, chat_type)
        return await self._settle(update_id, mark)

    async def send_in_group(
        self,
        text: str,
        user: User,
        chat_id: int,
        chat_type: str = "supergroup",
        *,
        thread_id: int | None = None,
    ) -> list[Call]:
        """`user` sends `text` in the group `chat_id` (in its forum topic `thread_id`); the
        calls the bot made meanwhile."""
        mark = len(self.api.calls)
        update_id = self.api.send_message(
            user, text, chat_type, chat_id=chat_id, thread_id=thread_id
        )
        return await self._settle(update_id, mark)

    async def press(self, target: Call, label: str, user: User = FR) -> list[Call]:
        """The user presses the button labelled `label` (or ending with it) on the message
        `target` sent or last edited."""
        chat_id, message_id = message_of(target)
        message = self.api.message(chat_id, message_id)
        rows = message.get("reply_markup", {}).get("inline_keyboard", [])
        buttons = [b for row in rows for b in row]
        matches = [b for b in buttons if b["text"] == label] or [
            b for b in buttons if b["text"].endswith(label)
        ]
        assert len(matches) == 1, f"no single button {label!r} in {[b['text'] for b in buttons]}"
        assert "callback_data" in matches[0], f"{label!r} is a link button"
        return await self.press_data(target, matches[0]["callback_data"], user)

    async def press_data(self, target: Call, data: str, user: User = FR) -> list[Call]:
        """The user's client sends a button press with `data` (possibly forged)."""
        chat_id, message_id = message_of(target)
        mark = len(self.api.calls)
        update_id = self.api.press(user, self.api.message(chat_id, message_id), data)
        return await self._settle(update_id, mark)

    @property
    def store(self) -> SqlStore:
        """The running bot's own store."""
        services = self.application.bot_data.services
        assert services is not None and services.subscriptions is not None
        store = services.subscriptions.store
        assert isinstance(store, SqlStore)
        return store

    async def _settle(self, update_id: int, mark: int) -> list[Call]:
        await self.api.acknowledged(update_id)
        await asyncio.wait_for(self.application.update_queue.join(), 10)
        return self.api.calls[mark:]


def message_of(call: Call) -> tuple[int, int]:
    """(chat id, message id) of the message a sendMessage created or an edit changed."""
    if call.method in ("sendMessage", "sendPhoto"):
        return int(call.result["chat"]["id"]), int(call.result["message_id"])
    return int(call.params["chat_id"]), int(call.params["message_id"])


def only(calls: Sequence[Call], method: str) -> Call:
    """The one successful call of `method`."""
    found = [c for c in calls if c.method == method and c.ok]
    assert len(found) == 1, f"expected one {method}, got {[(c.method, c.ok) for c in calls]}"
    return found[0]


def shown(call: Call) -> str:
    """The text (a photo's caption) as the user sees it (HTML parsed like Telegram does)."""
    text = str(call.params.get("caption") or "") if "caption" in call.params else call.text
    if (call.params.get("parse_mode") or "").upper() == "HTML":
        return parse_html(text)
    return text


@asynccontextmanager
async def running_bot(
    store_url: str,
    ids: dict[str, int],
    *,
    jobs: Sequence[PeriodicJob] = (),
    webhook: WebhookConfig | None = None,
    feeds: Sequence[FeedConfig] = (),
    links: LinksConfig | None = None,
    resolver: Resolver | None = None,
    api: FakeBotAPI | None = None,
    delivery: DeliveryConfig | None = None,
    deliver: bool = True,
    admins: tuple[int, ...] = (),
    admins_known: bool = True,
    clock: FakeClock | None = None,
    metrics: MetricsConfig | None = None,
    ingest: IngestConfig | None = None,
) -> AsyncIterator[Bot]:
    """The bot serving the store at `store_url` against a fresh fake Bot API (or `api`). Its
    feeds are *feeds* only: never the built-in public ones; `links` and `resolver` set how it
    fetches the links users send; `delivery` its sender's limits (`deliver=False`: no sender,
    the test runs its own); `clock` the one clock of the bot (a fresh `FakeClock` by
    default); `metrics` its `[metrics]` port (none by default). The `admins` have started the
    bot before (Telegram knows their chats) unless `admins_known` is false."""
    clock = clock or FakeClock()
    api = (api or FakeBotAPI()).start()
    if admins_known:
        for admin in admins:
            api.know_private_chat(admin)
    config = Config(
        telegram=TelegramConfig(token=api.token, api_base_url=api.base_url, admins=admins),
        store=StoreConfig(url=store_url),
        feeds=tuple(feeds),
        links=links or LinksConfig(),
        delivery=delivery or DeliveryConfig(),
        metrics=metrics or MetricsConfig(),
        ingest=ingest or IngestConfig(),
    )
    application = create_application(
        config, clock=clock, rate_limit=False, jobs=jobs, resolver=resolver, deliver=deliver
    )
    stop = asyncio.Event()
    ready = asyncio.Event()
    task = asyncio.create_task(
        serve(application, stop, webhook=webhook, poll_timeout=2, ready=lambda _: ready.set())
    )
    waiter = asyncio.create_task(ready.wait())
    await asyncio.wait({task, waiter}, timeout=15, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        api.stop()
        task.result()  # raises what made the bot fail to start
    bot = Bot(api, application, ids, clock)
    try:
        yield bot
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        api.stop()
    refused = [(c.method, c.error) for c in api.calls if not c.ok]
    assert len(refused) == bot.allowed_failures, f"the fake Bot API refused: {refused}"


def free_port() -> int:
    """A TCP port of 127.0.0.1 free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rows_of(call: Call) -> list[list[str]]:
    return [[b["text"] for b in row] for row in call.buttons]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`newsbot ARGV...` in this process: (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# Fast enough for tests, still through the limiter; the queue polled every 0.1 s.
QUICK = DeliveryConfig(
    messages_per_second=200, private_chat_per_second=50, group_per_minute=3000, poll_seconds=0.1
)


def sender_for(bot: Bot, **kw: object) -> Sender:
    """A sender on the bot's store and clock that the test drives (`drain`), for a bot run
    with `deliver=False`."""
    services = bot.application.bot_data.services
    assert services is not None and services.subscriptions is not None
    outbox = TelegramOutbox(
        bot.application.bot, services.articles, services.chats, services.subscriptions
    )
    store = services.subscriptions.store
    assert isinstance(store, SqlStore)
    return Sender(store, outbox, QUICK, clock=bot.clock, **kw)  # type: ignore[arg-type]
