"""`newsbot feeds ...` and `newsbot ingest` (bot.cli.ingest), the feed service behind them
(bot.services.feeds) and OPML (bot.ingest.opml)."""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.cli.ingest import add_feeds_arguments, add_ingest_arguments, cmd_feeds, cmd_ingest
from bot.config import Config, FeedConfig, IngestConfig, StoreConfig
from bot.deliver.rules import PushRules
from bot.errors import FeedError, ImportFormatError, NotFound
from bot.ingest.opml import OpmlFeed, parse_opml, render_opml
from bot.models import Feed
from bot.services.feeds import FeedService
from bot.store import open_store
from tests.feedserver import FeedServer
from tests.helpers import FakeClock

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
INGEST = IngestConfig(timeout_seconds=1.0, max_failures=3, per_host_concurrency=4)


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI builds its own HTTP client: make sure it talks to 127.0.0.1 directly."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(
        store=StoreConfig(url=f"sqlite+aiosqlite:///{tmp_path / 'news.db'}"),
        ingest=INGEST,
        feeds=(
            FeedConfig("https://config.example/rss", "Économie", "fr", 15),
            FeedConfig("https://config.example/world", "World", "en"),
        ),
        source="test.toml",
    )


def parse(add: Any, *argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add(parser)
    return parser.parse_args(list(argv))


async def feeds(config: Config, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = await cmd_feeds(parse(add_feeds_arguments, *argv), config, FakeClock())
    return code, capsys.readouterr().out


async def test_feeds_list_add_remove_enable(
    config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = await feeds(config, capsys, "list")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == [
        "ID", "STATE", "CATEGORY", "LANG", "EVERY", "LAST", "FETCHED", "FROM", "URL"
    ]  # fmt: skip
    assert lines[1].split() == ["1", "new", "Économie", "fr", "15m", "-", "config",
                                "https://config.example/rss"]  # fmt: skip
    assert lines[2].split()[4] == "30m"  # the [ingest] default

    code, out = await feeds(
        config, capsys, "add", "https://ex.org/sport.xml", "Sport", "--language", "fr"
    )
    assert (code, out.strip()) == (0, "added feed 3: https://ex.org/sport.xml (Sport)")
    code, out = await feeds(config, capsys, "add", "https://ex.org/sport.xml", "Sports")
    assert out.strip() == "updated feed 3: https://ex.org/sport.xml (Sports)"
    with pytest.raises(FeedError, match=r"comes from the config \(test.toml\)"):
        await feeds(config, capsys, "add", "https://config.example/rss", "Autre")
    with pytest.raises(FeedError, match="not an http"):
        await feeds(config, capsys, "add", "ftp://ex.org/x", "X")
    with pytest.raises(FeedError, match="language"):
        await feeds(config, capsys, "add", "https://ex.org/y", "X", "--language", "français!")

    store = await open_store(config.store.url, clock=FakeClock(), rules=PushRules())
    try:
        from bot.models import FeedState

        await store.save_feed_state(
            3,
            FeedState(
                store.clock.now(),
                store.clock.now(),
                failures=3,
                last_error="HTTP 410 Gone",
                enabled=False,
            ),
        )
    finally:
        await store.close()
    code, out = await feeds(config, capsys, "list")
    assert "disabled" in out and "└ HTTP 410 Gone" in out
    code, out = await feeds(config, capsys, "list", "--json")
    records = json.loads(out)
    assert [r["state"] for r in records] == ["new", "new", "disabled"]
    assert records[2]["last_error"] == "HTTP 410 Gone" and records[0]["origin"] == "config"

    code, out = await feeds(config, capsys, "enable", "3")
    assert out.strip() == "enabled feed 3: https://ex.org/sport.xml; it is fetched at the next run"
    code, out = await feeds(config, capsys, "add", "https://ex.org/sport.xml", "Sport")
    assert out.startswith("updated")
    with pytest.raises(FeedError, match="change or remove it there"):
        await feeds(config, capsys, "remove", "1")
    code, out = await feeds(config, capsys, "remove", "3")
    assert out.strip() == "removed feed 3: https://ex.org/sport.xml (its articles stay)"
    with pytest.raises(NotFound):
        await feeds(config, capsys, "remove", "3")


async def test_adding_a_disabled_feed_again_re_enables_it(config: Config) -> None:
    store = await open_store(config.store.url, clock=FakeClock(), rules=PushRules())
    try:
        service = FeedService(store, config, clock=store.clock)
        change = await service.add("https://ex.org/a", "A")
        from bot.models import FeedState

        await store.save_feed_state(
            change.feed.id,
            FeedState(store.clock.now(), store.clock.now(), failures=9, enabled=False),
        )
        again = await service.add("https://ex.org/a", "A")
        assert again.action == "re-enabled" and again.feed.enabled and again.feed.failures == 0
    finally:
        await store.close()


async def test_opml_import_and_export_round_trip(
    config: Config, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = await cmd_feeds(
        parse(add_feeds_arguments, "import", str(FIXTURES / "subscriptions.opml")),
        config,
        FakeClock(),
    )
    captured = capsys.readouterr()
    assert code == 0
    assert captured.out.strip() == "imported 5 new feed(s), updated 0, skipped 1"
    assert "skipped ftp://example.org/bad.xml: not an http(s) URL" in captured.err

    out_file = tmp_path / "feeds.opml"
    await cmd_feeds(parse(add_feeds_arguments, "export", "-o", str(out_file)), config, FakeClock())
    exported = {feed.url: feed for feed in parse_opml(out_file.read_bytes())}
    assert {url: (f.category, f.language) for url, f in exported.items()} == {
        "https://config.example/rss": ("Économie", "fr"),
        "https://config.example/world": ("World", "en"),
        "https://www.lemonde.fr/economie/rss_full.xml": ("Économie", None),
        "https://services.lesechos.fr/rss/les-echos-economie.xml": ("Économie", None),
        "https://feeds.arstechnica.com/arstechnica/index": ("Technologie", "en"),
        "https://example.org/deep.xml": ("Nested folder", None),
        "https://example.org/top.xml": (None, None),
    }
    # importing the export again changes nothing but says so
    code = await cmd_feeds(parse(add_feeds_arguments, "import", str(out_file)), config, FakeClock())
    captured = capsys.readouterr()
    assert captured.out.strip() == "imported 0 new feed(s), updated 5, skipped 2"


def test_parse_opml_categories_and_errors() -> None:
    feeds = parse_opml((FIXTURES / "subscriptions.opml").read_bytes())
    assert feeds[0] == OpmlFeed(
        "https://www.lemonde.fr/economie/rss_full.xml", "Le Monde Économie", "Économie"
    )
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><opml><body/></opml>'
    for data, reason in (
        (bomb, "DTDs and entity declarations are not allowed"),
        (b"<opml><body>", "not valid XML"),
        (b"<rss/>", "not an OPML document"),
        (b"<opml/>", "without a <body>"),
    ):
        with pytest.raises(ImportFormatError, match=reason):
            parse_opml(data, "x.opml")


def test_render_opml_groups_by_category() -> None:
    feeds = [
        Feed(1, "https://a/1", "Économie", "fr", None, title="Un & deux"),
        Feed(2, "https://a/2", None, None, None),
        Feed(3, "https://a/3", "Économie", None, None),
    ]
    document = render_opml(feeds, title="t")
    assert document.startswith("<?xml")
    assert document.count('text="Économie"') == 1
    assert "Un &amp; deux" in document
    assert [(f.url, f.category) for f in parse_opml(document.encode())] == [
        ("https://a/1", "Économie"),
        ("https://a/3", "Économie"),
        ("https://a/2", None),
    ]


@pytest.fixture
def site() -> Iterator[FeedServer]:
    with FeedServer() as server:
        body = (FIXTURES / "rss20.xml").read_bytes()
        server.add("/rss", body, content_type="application/rss+xml", etag='"1"')
        server.add("/gone", b"", status=410)
        server.add("/articles/gazole", b"<html><body>no article here</body></html>",
                   content_type="text/html")  # fmt: skip
        yield server


async def test_ingest_once_prints_what_happened_per_feed(
    config: Config, site: FeedServer, capsys: pytest.CaptureFixture[str]
) -> None:
    config = dataclasses.replace(
        config,
        feeds=(FeedConfig(site.url("/rss"), "Économie", "fr"), FeedConfig(site.url("/gone"))),
    )
    code = await cmd_ingest(parse(add_ingest_arguments, "--once"), config, FakeClock())
    lines = capsys.readouterr().out.splitlines()
    assert code == 0
    assert lines[:2] == [
        f"config: added feed {site.url('/rss')}",
        f"config: added feed {site.url('/gone')}",
    ]
    assert lines[2] == (
        f"feed 1 {site.url('/rss')}: 2 new, 0 duplicate(s), "
        "1 page(s) failed (teaser kept, retried later)"
    )
    assert lines[3].startswith(f"feed 2 {site.url('/gone')}: failed (1 in a row, next try ")
    assert lines[3].endswith("): HTTP 410 Gone")
    assert lines[4].startswith("2 new article(s) from 2 feed(s) (1 failed, 0 not modified) in ")

    code = await cmd_ingest(parse(add_ingest_arguments, "--once"), config, FakeClock())
    assert capsys.readouterr().out.strip() == "no feed is due (--all fetches every feed now)"
    code = await cmd_ingest(
        parse(add_ingest_arguments, "--once", "--feed", "1"), config, FakeClock()
    )
    out = capsys.readouterr().out.splitlines()
    assert out[0] == (
        f"feed 1 {site.url('/rss')}: not modified, 1 page(s) failed (teaser kept, retried later)"
    )
    code = await cmd_ingest(
        parse(add_ingest_arguments, "--once", "--feed", "2"), config, FakeClock()
    )
    assert code == 1  # every feed of the run failed
