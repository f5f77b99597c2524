"""Ingest end to end over real HTTP: a loopback server (tests/feedserver.py) serves good and
bad feeds and pages; the pipeline stores into a real store, on SQLite and PostgreSQL.

Every good feed is ingested, every bad one is reported and backed off, nothing crashes, a
second run stores nothing new, teasers get their page, a failing page leaves the teaser marked
and the next run completes it. Timeouts are short (1 s) so the slow cases stay quick.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from bot.config import Config, FeedConfig, IngestConfig, StoreConfig
from bot.deliver.rules import PushRules
from bot.ingest.fetch import Fetcher
from bot.ingest.parse import ParsedFeed, parse_feed
from bot.ingest.pipeline import (
    FAILED,
    NOT_MODIFIED,
    OK,
    FeedReport,
    IngestPipeline,
    IngestReport,
)
from bot.models import NewArticle
from bot.store import SqlStore
from tests.feedserver import FeedServer, gzip_bomb

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
INGEST = IngestConfig(
    interval_minutes=30,
    # Short enough for the slow feeds below to fail fast, long enough for a local page on a
    # loaded 2-core machine (a page timing out here would be fetched again by the next run).
    timeout_seconds=2.5,
    max_bytes=200_000,
    max_redirects=3,
    per_host_concurrency=4,
    max_failures=3,
    user_agent="newsbot-test/1.0 (+https://example.org/bot)",
)
LAST_MODIFIED = "Thu, 12 Jun 2025 10:00:00 GMT"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def render_page(path: str) -> bytes:
    data = json.loads((FIXTURES / "pages.json").read_text(encoding="utf-8"))[path]
    html = (FIXTURES / "page.html").read_text(encoding="utf-8")
    paragraphs = "\n".join(f"<p>{p}</p>" for p in data["paragraphs"])
    for key, value in {**data, "paragraphs": paragraphs, "lang": "fr"}.items():
        html = html.replace("{" + key + "}", value)
    return html.encode("utf-8")


def closed_port() -> int:
    """A loopback port nothing listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


GOOD = {
    "/rss20.xml": "Économie",
    "/rss20-copy.xml": "Économie",  # the same stories in a second feed of the site
    "/rss10.rdf": "Sciences",
    "/atom.xml": "",  # no configured category: the entries' tags, else the page's section
    "/latin1.xml": "Société",
    "/truncated.xml": "Divers",
}
BAD = {
    "/html": "not a feed: got an HTML page",
    "/huge": "body larger than 200000 bytes",
    "/bomb": "body larger than 200000 bytes",
    "/endless": "body larger than 200000 bytes",
    "/slow": "timed out after 2.5s",
    "/trickle": "timed out after 2.5s",
    "/loop": "more than 3 redirects",
    "/missing": "HTTP 404 Not Found",
    "/error": "HTTP 500 Internal Server Error",
    "/empty": "feed has no entries",
    "refused": "cannot connect",
}


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as srv:
        srv.add("/rss20.xml", fixture("rss20.xml"), content_type="application/rss+xml",
                etag='"rss20-v1"')  # fmt: skip
        srv.add("/rss20-copy.xml", fixture("rss20.xml"), content_type="application/rss+xml")
        srv.add("/rss10.rdf", fixture("rss10.rdf"), content_type="application/rdf+xml")
        srv.add("/atom.xml", fixture("atom.xml"), content_type="application/atom+xml",
                last_modified=LAST_MODIFIED, gzip=True)  # fmt: skip
        srv.add("/latin1.xml", fixture("latin1.xml"), content_type="text/xml")  # no charset
        srv.add("/truncated.xml", fixture("truncated.xml"))
        for path in ("/articles/gazole", "/sciences/comete", "/world/summit", "/articles/ete"):
            srv.add(path, render_page(path), content_type="text/html; charset=utf-8")
        srv.add("/world/floods", b"oops", status=503, content_type="text/plain")
        srv.add("/cut/1", render_page("/articles/gazole").replace(b"gazole", b"fioul"),
                content_type="text/html")  # fmt: skip
        srv.add("/html", fixture("not-a-feed.html"), content_type="text/html")
        srv.add("/huge", b"<rss>" + b"x" * 300_000 + b"</rss>")
        srv.add("/bomb", gzip_bomb(50_000_000), gzipped=True)
        srv.add("/endless", endless=True)
        srv.add("/slow", fixture("rss20.xml"), delay=6)
        srv.add("/trickle", fixture("rss20.xml"), trickle=0.2)
        srv.add("/loop", redirect="{base}/loop")
        srv.add("/error", b"boom", status=500, content_type="text/plain")
        srv.add(
            "/empty",
            b'<?xml version="1.0"?><rss version="2.0"><channel><title>Vide</title>'
            b"<link>http://x/</link><description>x</description></channel></rss>",
        )
        yield srv


def feed_url(server: FeedServer, path: str) -> str:
    return f"http://127.0.0.1:{closed_port()}/rss" if path == "refused" else server.url(path)


def make_config(server: FeedServer, store_url: str, paths: Mapping[str, str]) -> Config:
    feeds = tuple(
        FeedConfig(feed_url(server, path), category, "fr" if category else "")
        for path, category in paths.items()
    )
    return Config(ingest=INGEST, feeds=feeds, store=StoreConfig(url=store_url))


@pytest.fixture
async def pipeline(
    server: FeedServer, store: SqlStore, store_url: str
) -> AsyncIterator[IngestPipeline]:
    config = make_config(server, store_url, {**GOOD, **dict.fromkeys(BAD, "")})
    fetcher = Fetcher(config.ingest, clock=store.clock)
    async with fetcher, IngestPipeline(store, config, clock=store.clock, fetcher=fetcher) as pipe:
        yield pipe


def by_path(server: FeedServer, report: IngestReport) -> dict[str, FeedReport]:
    found: dict[str, FeedReport] = {}
    for feed in report.feeds:
        path = feed.url.removeprefix(server.base)
        found["refused" if "127.0.0.1" in path else path] = feed
    return found


# The fixtures are dated 2025: let them count as news, so they are queued for delivery.
@pytest.mark.parametrize("rules", [PushRules(push_max_age=timedelta(days=100_000))], ids=["news"])
async def test_good_feeds_are_ingested_bad_ones_reported_and_backed_off(
    server: FeedServer, store: SqlStore, pipeline: IngestPipeline
) -> None:
    await store.add_articles([NewArticle(title="Seed", text="Seed.", category="Économie")])
    await store.upsert_chat(42)
    await store.subscribe(42, "economie")

    started = time.monotonic()
    report = await pipeline.run()
    elapsed = time.monotonic() - started
    assert elapsed < 6  # the slow feed cost its timeout, never its server's 6 s
    assert report.sync is not None and len(report.sync.added) == len(GOOD) + len(BAD)
    feeds = by_path(server, report)
    assert set(feeds) == set(GOOD) | set(BAD)

    for path, reason in BAD.items():
        feed = feeds[path]
        assert feed.status == FAILED and reason in (feed.error or ""), (path, feed)
    for path in GOOD:
        assert feeds[path].status == OK, (path, feeds[path])

    economie = feeds["/rss20.xml"], feeds["/rss20-copy.xml"]
    assert sorted((f.new, f.duplicates) for f in economie) == [(0, 2), (2, 0)]
    assert feeds["/truncated.xml"].malformed
    assert report.new == 2 + 1 + 2 + 1 + 2  # rss20, rss10, atom, latin1, truncated

    # Teasers got their page; the full content:encoded entry did not need one.
    articles = {a.title: a async for a in store.iter_articles()}
    gazole = articles["Le prix du gazole recule pour la troisième semaine"]  # the page's title
    assert gazole.text.startswith("Le prix du gazole a encore baissé")
    assert gazole.author == "Paul Durand" and gazole.category == "Économie"
    assert gazole.published is not None and gazole.published.hour == 16  # the feed's time
    assert articles["La croissance repart au troisième trimestre"].text.count("\n\n") == 3
    summit = articles["Summit ends without agreement"]
    assert summit.category == "Diplomacy" and summit.language is None  # the entry's tag
    assert "two days of talks" in summit.text
    assert "Météo-France" in articles["L'été sera chaud selon Météo-France"].text
    comet = articles["Une comète visible à l'œil nu cette semaine"]
    assert comet.category == "Sciences" and "queue de poussière" in comet.text

    # The page that failed left its teaser, marked for the next run.
    floods = articles["Floods hit the coast"]
    assert floods.text == "Heavy rain flooded several coastal towns overnight."
    pending = {p.url: p for p in await store.pending_pages()}
    assert pending[server.url("/world/floods")].last_error == "HTTP 503 Service Unavailable"
    assert server.url("/cut/2") in pending and server.url("/cut/1") not in pending

    # Summaries and deliveries came with the articles.
    for article in articles.values():
        if article.title != "Seed":
            assert await store.get_summary(article.id, "default", "3w"), article.title
    queued = {d.article_id for d in await store.list_deliveries(chat_id=42)}
    assert queued == {a.id for a in articles.values() if a.category == "Économie"} - {1}

    # Bad feeds are backed off; good ones scheduled after their interval.
    now = store.clock.now()
    for row in await store.list_feeds():
        path = row.url.removeprefix(server.base)
        if path in GOOD:
            assert row.failures == 0 and row.last_error is None and row.enabled
        else:
            assert row.failures == 1 and row.enabled and row.last_error
        assert row.next_fetch is not None and row.next_fetch > now
    rss20 = await store.find_feed(server.url("/rss20.xml"))
    assert rss20 is not None and rss20.etag == '"rss20-v1"'
    assert rss20.title == "Le Quotidien — Économie"
    for request in server.requests:
        assert request.headers["User-Agent"] == INGEST.user_agent

    # Nothing is due now: a run fetches nothing.
    idle = await pipeline.run()
    assert idle.feeds == []


async def test_second_run_stores_nothing_new_and_completes_teasers(
    server: FeedServer, store: SqlStore, pipeline: IngestPipeline
) -> None:
    first = await pipeline.run()
    count = await store.count_articles()
    (teaser,) = [a async for a in store.iter_articles() if a.url == server.url("/world/floods")]
    teaser_summary = await store.get_summary(teaser.id, "default", "3w")
    assert teaser_summary == ["Heavy rain flooded several coastal towns overnight."]
    server.add("/world/floods", render_page("/world/floods"), content_type="text/html")

    second = await pipeline.run(include_not_due=True)
    feeds = by_path(server, second)
    assert second.new == 0 and await store.count_articles() == count
    # Conditional GET: validators sent, 304 answered, nothing parsed or stored.
    assert feeds["/rss20.xml"].status == NOT_MODIFIED
    assert server.requests_to("/rss20.xml")[-1].headers["If-None-Match"] == '"rss20-v1"'
    assert feeds["/atom.xml"].status == NOT_MODIFIED
    assert server.requests_to("/atom.xml")[-1].headers["If-Modified-Since"] == LAST_MODIFIED
    assert "If-None-Match" not in server.requests_to("/rss10.rdf")[-1].headers
    assert feeds["/rss10.rdf"].duplicates == 1
    # Pages of stored entries are not fetched again.
    assert len(server.requests_to("/sciences/comete")) == 1
    # The failed page is retried and the teaser completed; one still failing stays marked.
    assert feeds["/atom.xml"].pages_completed == 1
    assert feeds["/truncated.xml"].pages_failed == 1
    floods = [a async for a in store.iter_articles() if a.url == server.url("/world/floods")]
    assert "Emergency services rescued" in floods[0].text
    assert server.url("/world/floods") not in {p.url for p in await store.pending_pages()}
    summary = await store.get_summary(floods[0].id, "default", "3w")
    assert summary and summary != teaser_summary  # recomputed on the full text

    # The third failure disables a bad feed, with its reason kept.
    third = await pipeline.run(include_not_due=True)
    assert third.new == 0
    missing = by_path(server, third)["/missing"]
    assert missing.disabled and missing.failures == 3
    assert "disabled after 3 failures" in missing.describe()
    stored = await store.find_feed(server.url("/missing"))
    assert stored is not None and not stored.enabled and stored.last_error == "HTTP 404 Not Found"
    # /cut/2 failed its third attempt: given up, the teaser stays.
    assert by_path(server, third)["/truncated.xml"].pages_given_up == 1
    assert server.url("/cut/2") not in {p.url for p in await store.pending_pages()}
    assert first.new == (await store.count_articles())
    # Disabled feeds are never due again.
    fourth = await pipeline.run(include_not_due=True)
    assert server.url("/missing") not in {f.url for f in fourth.feeds}


async def test_a_crashing_parser_costs_its_feed_only(store: SqlStore, store_url: str) -> None:
    """Dependency injection: a fake transport and a parser that blows up on one feed."""

    def transport(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=fixture("rss20.xml").replace(b"{base}", b"http://a.test")
        )

    def parser(content: bytes, *, url: str, headers: Mapping[str, str] | None = None,
               base: str | None = None) -> ParsedFeed:  # fmt: skip
        if "boom" in url:
            raise RuntimeError("parser bug")
        return parse_feed(content, url=url, headers=headers, base=base)

    config = Config(
        ingest=INGEST,
        feeds=(FeedConfig("http://a.test/boom", "X"), FeedConfig("http://a.test/ok", "X")),
    )
    fetcher = Fetcher(INGEST, clock=store.clock, transport=httpx.MockTransport(transport))
    pages_off = IngestPipeline(
        store,
        config,
        clock=store.clock,
        fetcher=fetcher,
        parser=parser,
        summarizer=lambda *a: ("Résumé.",),
    )
    async with fetcher, pages_off:
        report = await pages_off.run()
    boom, ok = sorted(report.feeds, key=lambda f: f.url)
    assert boom.status == FAILED and boom.error == "internal error: RuntimeError: parser bug"
    assert ok.status == OK and ok.new == 2
    article = (await store.latest(1))[0]
    assert await store.get_summary(article.id, "default", "3w") == ["Résumé."]


async def test_two_processes_never_fetch_the_same_feed_at_once(
    server: FeedServer, store: SqlStore, store_url: str
) -> None:
    """Two pipelines (as two bot processes) run together on one store: each feed is fetched
    by one of them, its articles stored once; a held lease keeps the feed from the other."""
    config = make_config(server, store_url, GOOD)
    fetchers = [Fetcher(config.ingest, clock=store.clock) for _ in range(2)]
    async with fetchers[0], fetchers[1]:
        one = IngestPipeline(store, config, clock=store.clock, fetcher=fetchers[0])
        two = IngestPipeline(
            store, config, clock=store.clock, fetcher=fetchers[1], sync_config=False
        )
        await one.sync_feeds()
        reports = await asyncio.gather(one.run(), two.run())
        fetched = [f.url for report in reports for f in report.feeds]
        assert sorted(fetched) == sorted({f.url for f in config.feeds})
        for path in GOOD:
            assert len(server.requests_to(path)) == 1, path
        # A lease held by a third owner keeps the feed from both.
        feeds = await store.list_feeds()
        held = await store.lease_feeds([feeds[0].id], "elsewhere", lease_seconds=60)
        assert held == [feeds[0].id]
        again = await one.run(include_not_due=True)
        assert feeds[0].url not in {f.url for f in again.feeds}
        assert len(again.feeds) == len(feeds) - 1
        await store.release_feeds(held, "elsewhere")
        await one.aclose()
        await two.aclose()


async def test_concurrency_comes_from_the_config_unless_given(store: SqlStore) -> None:
    config = Config(ingest=IngestConfig(feed_concurrency=3, page_concurrency=2), feeds=())
    async with IngestPipeline(store, config, clock=store.clock) as configured:
        assert configured.feed_concurrency == 3 and configured._pages._value == 2
    async with IngestPipeline(
        store, config, clock=store.clock, feed_concurrency=1, page_concurrency=1
    ) as given:
        assert given.feed_concurrency == 1 and given._pages._value == 1
    async with IngestPipeline(store, Config(feeds=()), clock=store.clock) as default:
        assert default.feed_concurrency == 8 and default._pages._value == 8
