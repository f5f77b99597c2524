"""The operator's port (`[metrics] listen`): a running bot (the real Application polling the
fake Bot API, a real store, a feed on loopback) is scraped before and after a user and the
ingest job do things, and every metric moves by what they did; `/healthz` answers 200 while
the store, the sender and the Bot API answer, 503 with the reason when one does not.

The metrics are process-wide counters (other tests' bots add to them too), so the tests compare
two scrapes of the same bot, never absolute values.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import socket
import sys
from collections import Counter as Tally
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import metrics
from bot.app import PeriodicJob, Runtime, create_application
from bot.chat.application import _retry_after
from bot.chat.handlers import update_command
from bot.cli.run import cmd_shell
from bot.config import (
    Config,
    ConfigError,
    FeedConfig,
    MetricsConfig,
    StoreConfig,
    TelegramConfig,
    WebhookConfig,
    load_config,
)
from bot.metrics.health import API_SILENCE_SECONDS, ApiWatch, check
from bot.models import NewArticle
from bot.store import SqlStore
from tests.feedserver import FeedServer
from tests.helpers import FR, FakeClock, free_port, queue_settled, running_bot, seed, until

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(base: str) -> Samples:
    """Every sample of `/metrics`, by name and labels."""
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{base}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[sample.name, frozenset(sample.labels.items())] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


async def healthz(base: str) -> tuple[int, str]:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{base}/healthz")
    return response.status_code, response.text


def teasers_feed(base: str, count: int) -> str:
    """An RSS feed of `count` complete articles (no page to fetch)."""
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


class IngestOnDemand:
    """The ingest job of a running bot, run when the test asks (not on a timer it races)."""

    def __init__(self) -> None:
        self.asked = asyncio.Event()
        self.done = asyncio.Event()

    async def __call__(self, runtime: Runtime) -> None:
        if self.asked.is_set():
            self.asked.clear()
            await runtime.ingest.run()
            self.done.set()

    async def run(self) -> None:
        self.done.clear()
        self.asked.set()
        await asyncio.wait_for(self.done.wait(), 20)


async def test_metrics_move_with_what_users_the_sender_and_ingest_did(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'metrics.db'}"
    ids = await seed(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    ingest = IngestOnDemand()
    job = PeriodicJob("ingest", timedelta(seconds=0.05), ingest)
    clock = FakeClock()
    with FeedServer() as server:
        server.add("/emploi.xml", teasers_feed(server.base, 3), content_type="application/rss+xml")
        feed = FeedConfig(server.url("/emploi.xml"), "Économie", "fr")
        async with running_bot(
            url,
            ids,
            jobs=[job],
            feeds=[feed],
            clock=clock,
            metrics=MetricsConfig(listen=f"127.0.0.1:{port}"),
        ) as bot:
            status, text = await healthz(base)
            assert status == 200, text
            assert text.startswith("ok\n")
            assert "store: answered in" in text
            assert "sender: running" in text
            assert "Bot API: answered" in text
            before = await scrape(base)

            # A reader: two commands, the same summary twice, a search, a typo.
            await bot.send("/latest")
            await bot.send(f"/summary {ids['eco0']}")
            await bot.send(f"/summary {ids['eco0']}")
            await bot.send("retraites")
            await bot.send("/lastest")
            await bot.send("/subscribe économie")
            # The user blocks the bot: the next answer is refused (403), an update failed.
            bot.api.block(FR.id)
            await bot.send("/latest")
            bot.api.unblock(FR.id)
            # Ingest stores 3 articles of Économie, pushed to the subscriber; Telegram's first
            # answer to the sender is a 429 asking to wait 1 s, which the test's clock skips.
            bot.api.fail_next(
                "sendMessage",
                "Too Many Requests: retry after 1",
                429,
                parameters={"retry_after": 1},
                chat_id=FR.id,
            )
            bot.allowed_failures = 2
            await ingest.run()
            clock.advance(seconds=1)
            await queue_settled(bot.store)
            after = await scrape(base)

    def count(name: str, **labels: str) -> float:
        return moved(before, after, name, **labels)

    for command in ("latest", "summary"):
        assert count("newsbot_updates_total", command=command) == 2
        assert count("newsbot_update_seconds_count", command=command) == 2
        assert count("newsbot_update_seconds_sum", command=command) > 0
    assert count("newsbot_updates_total", command="message") == 1
    assert count("newsbot_updates_total", command="unknown_command") == 1
    assert count("newsbot_updates_total", command="subscribe") == 1
    assert count("newsbot_update_errors_total", kind="blocked") == 1
    assert count("newsbot_update_errors_total", kind="error") == 0
    # The reader's first /summary is computed, the second is in memory; each pushed article's
    # summary was computed at ingest (read from the store); the post resent after the 429 is
    # the one the outbox drew before it, without looking its summary up again.
    assert count("newsbot_summary_lookups_total", result="computed") == 1
    assert count("newsbot_summary_lookups_total", result="store") == 3
    assert count("newsbot_summary_lookups_total", result="memory") == 1
    assert count("newsbot_feed_fetches_total", result="ok") == 1
    assert count("newsbot_feed_fetches_total", result="failed") == 0
    assert count("newsbot_articles_ingested_total", source="feed") == 3
    assert count("newsbot_deliveries_total", outcome="sent") == 3
    assert count("newsbot_deliveries_total", outcome="retry") == 1
    assert count("newsbot_bot_api_flood_waits_total") == 1
    assert count("newsbot_bot_api_flood_wait_seconds_total") == 1
    assert value(after, "newsbot_deliveries_queued", status="pending") == 0
    assert value(after, "newsbot_deliveries_queued", status="sending") == 0
    for kind in ("read", "write"):
        assert count("newsbot_store_query_seconds_count", kind=kind) > 0
    # The Bot API's last answer, on the bot's clock (which the test moved by a second).
    assert value(after, "newsbot_bot_api_last_answer_timestamp_seconds") >= (
        clock.now().timestamp() - 1
    )
    assert value(after, "process_resident_memory_bytes") > 0


async def test_healthz_says_when_the_bot_api_stops_answering(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'silence.db'}"
    ids = await seed(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    clock = FakeClock()
    async with running_bot(
        url, ids, clock=clock, metrics=MetricsConfig(listen=f"127.0.0.1:{port}")
    ) as bot:
        assert (await healthz(base))[0] == 200
        bot.api.outage()
        # The long poll in progress returned; from now on every answer is a 502.
        await until(lambda: bot.api.bad_gateways >= 1, what="a getUpdates during the outage")
        clock.advance(seconds=API_SILENCE_SECONDS - 10)
        status, text = await healthz(base)
        assert status == 200, text  # not five minutes yet
        clock.advance(seconds=70)
        status, text = await healthz(base)
        assert status == 503
        assert text.startswith("unhealthy\n")
        assert "Bot API: no answer for 3" in text
        assert "store: answered in" in text and "sender: running" in text
        bot.api.outage(False)

        async def healthy() -> bool:
            return (await healthz(base))[0] == 200

        await until(healthy, 15, "the bot to hear from the Bot API again")


async def test_an_idle_webhook_bot_asks_the_bot_api_before_saying_it_is_silent(
    tmp_path: Path,
) -> None:
    """A webhook bot receives updates without asking Telegram anything, and an idle one sends
    nothing: after a minute without an answer, the health check asks (getMe, once a minute)."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'hook.db'}"
    ids = await seed(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    hook = WebhookConfig(
        url="https://bot.example.org/hook", listen="127.0.0.1", port=free_port(), secret_token="s"
    )
    clock = FakeClock()
    async with running_bot(
        url, ids, webhook=hook, clock=clock, metrics=MetricsConfig(f"127.0.0.1:{port}")
    ) as bot:
        asked = bot.api.counts.get("getMe", 0)
        assert (await healthz(base))[0] == 200
        assert bot.api.counts.get("getMe", 0) == asked  # it heard from the API at start
        clock.advance(minutes=6)
        status, text = await healthz(base)
        assert status == 200, text
        assert "Bot API: answered 0 s ago" in text
        assert bot.api.counts.get("getMe", 0) == asked + 1
        await healthz(base)
        assert bot.api.counts.get("getMe", 0) == asked + 1  # not again within the minute
        bot.api.outage()
        clock.advance(minutes=6)
        status, text = await healthz(base)
        assert status == 503 and "Bot API: no answer for 360 s" in text, text
        bot.api.outage(False)


async def test_queue_gauges_and_a_store_that_does_not_answer(tmp_path: Path) -> None:
    """A process that runs no sender (`deliver=False`): the pending rows show in the gauge,
    the health check does not ask for a sender, and says so when the store stops answering."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'queue.db'}"
    ids = await seed(url)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    async with running_bot(
        url, ids, deliver=False, metrics=MetricsConfig(listen=f"127.0.0.1:{port}")
    ) as bot:
        await bot.send("/subscribe économie")
        article = NewArticle(
            title="Le déficit commercial se réduit",
            text="Les exportations progressent. Les importations reculent. Le solde s’améliore.",
            category="Économie",
            language="fr",
            published=bot.clock.now(),
        )
        await bot.store.add_articles([article])
        samples = await scrape(base)
        assert value(samples, "newsbot_deliveries_queued", status="pending") == 1
        status, text = await healthz(base)
        assert status == 200, text
        assert "sender: not run by this process" in text
        await bot.store.close()  # the store is gone from under the bot
        status, text = await healthz(base)
        assert status == 503
        assert "store: RuntimeError: cannot schedule new futures after shutdown" in text
        # /metrics still answers, with the last queue figures
        samples = await scrape(base)
        assert value(samples, "newsbot_deliveries_queued", status="pending") == 1


async def test_no_port_and_no_recording_without_the_setting(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'off.db'}"
    ids = await seed(url)
    metrics.record(False)
    async with running_bot(url, ids) as bot:
        await bot.send("/latest")
        assert not metrics.recording()


async def test_the_store_counts_the_live_queue(store: SqlStore, clock: FakeClock) -> None:
    """`queued_deliveries`, on SQLite and PostgreSQL: pending and sending rows, nothing else."""
    assert await store.queued_deliveries() == {"pending": 0, "sending": 0}
    first = NewArticle(title="Match nul", text="Aucun but.", category="Sport")
    await store.add_articles([first])  # the category exists from then on
    for chat_id in (1, 2, 3):
        await store.upsert_chat(chat_id)
        await store.subscribe(chat_id, "Sport")
    clock.advance(seconds=1)
    article = NewArticle(
        title="Victoire", text="Le club gagne.", category="Sport", published=clock.now()
    )
    await store.add_articles([article])
    assert await store.queued_deliveries() == {"pending": 3, "sending": 0}
    claimed = await store.claim_deliveries("worker", limit=1, lease_seconds=60)
    assert len(claimed) == 1
    assert await store.queued_deliveries() == {"pending": 2, "sending": 1}
    await store.finish_deliveries([claimed[0].id], "sent")
    assert await store.queued_deliveries() == {"pending": 2, "sending": 0}


def test_the_shell_leaves_the_port_to_the_bot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`newsbot shell` with the bot's config, while the bot holds the metrics port: it talks
    to no Telegram and opens no port (opening it would fail: the port is taken)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = Config(
            store=StoreConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'shell.db'}"),
            metrics=MetricsConfig(f"127.0.0.1:{port}"),
        )
        monkeypatch.setattr(sys, "stdin", io.StringIO("/help\n"))
        args = argparse.Namespace(language="en", sample=False)
        assert asyncio.run(cmd_shell(args, config, FakeClock())) == 0
    assert "/latest" in capsys.readouterr().out


async def test_a_taken_port_is_a_config_error(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'taken.db'}"
    ids = await seed(url)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        listen = f"127.0.0.1:{taken.getsockname()[1]}"
        with pytest.raises(ConfigError, match=rf"metrics\.listen: cannot listen on {listen}: "):
            async with running_bot(url, ids, metrics=MetricsConfig(listen)):
                pass


# -- the rule, the labels, the setting ----------------------------------------------------------


def test_the_health_rule() -> None:
    healthy = check(store_error=None, store_seconds=0.002, sender_alive=True, api_silence=12.0)
    assert healthy.healthy
    assert healthy.text() == (
        "ok\nstore: answered in 2.0 ms\nsender: running\nBot API: answered 12 s ago\n"
    )
    sick = check(store_error="OSError: gone", store_seconds=5, sender_alive=False, api_silence=None)
    assert not sick.healthy
    assert sick.lines == (
        "store: OSError: gone",
        "sender: not running",
        "Bot API: has not answered yet",
    )
    assert check(
        store_error=None, store_seconds=0, sender_alive=None, api_silence=API_SILENCE_SECONDS
    ).healthy
    late = check(
        store_error=None, store_seconds=0, sender_alive=None, api_silence=API_SILENCE_SECONDS + 1
    )
    assert not late.healthy and late.lines[0] == "Bot API: no answer for 301 s (more than 300)"


def test_the_api_watch_reads_the_programs_clock() -> None:
    clock = FakeClock()
    watch = ApiWatch(clock.monotonic, lambda: clock.now().timestamp())
    assert watch.silence() is None
    watch.answered()
    clock.advance(minutes=4)
    silence = watch.silence()
    assert silence is not None and 240 <= silence < 250


def test_updates_are_counted_by_a_bounded_set_of_names() -> None:
    from telegram import Update

    create_application(Config(telegram=TelegramConfig(token="1:x")), clock=FakeClock())

    def message(text: str) -> Update:
        return Update.de_json(
            {
                "update_id": 1,
                "message": {
                    "message_id": 1,
                    "date": 0,
                    "chat": {"id": 5, "type": "private"},
                    "text": text,
                },
            },
            None,
        )

    names = Tally(
        update_command(message(text))
        for text in ("/latest", "/LATEST@newsbot_test_bot 3", "/summary 4", "/", "/x" * 50, "hi")
    )
    assert names == {"latest": 2, "summary": 1, "unknown_command": 2, "message": 1}
    assert update_command(object()) == "other"


def test_retry_after_is_read_from_the_429_body() -> None:
    body = b'{"ok":false,"error_code":429,"parameters":{"retry_after": 17}}'
    assert _retry_after(body) == 17.0
    assert _retry_after(b"<html>Too Many Requests</html>") == 0.0


@pytest.mark.parametrize(
    ("listen", "message"),
    [
        ("9464", "expected host:port"),
        ("127.0.0.1:", "expected host:port"),
        ("127.0.0.1:99999", "expected a port from 1 to 65535"),
        ("127.0.0.1:0", "expected a port from 1 to 65535"),
        ("http://127.0.0.1:9464", "expected host:port"),
    ],
)
def test_a_wrong_listen_address_is_refused(tmp_path: Path, listen: str, message: str) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[metrics]\nlisten = "{listen}"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"metrics\.listen: {message}"):
        load_config(str(path), env={})


def test_listen_addresses() -> None:
    assert MetricsConfig().address is None
    assert MetricsConfig("127.0.0.1:9464").address == ("127.0.0.1", 9464)
    assert MetricsConfig("[::1]:9464").address == ("::1", 9464)
    assert MetricsConfig("localhost:80").address == ("localhost", 80)
