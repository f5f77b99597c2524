"""Ingest under the SSRF guard (issue 13, parts 1 and 3, and a page without a Content-Type).

A feed the operator configured is trusted for its own scheme, host and port; what its entries
or redirects point at elsewhere is fetched like a link a user sent, or refused. The feed here
lives on a public name (`news.example`), answered by an injected resolver and served by an
`httpx.MockTransport` that records every request as it would leave: a forbidden target must
never appear in it. A second test runs a loopback feed (an operator's local bridge, like RSSHub
on 127.0.0.1:1200) against real servers: its own pages are fetched, and a second loopback
listener it links or redirects to sees no connection at all.
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from bot.config import Config, FeedConfig, IngestConfig, LinksConfig, StoreConfig
from bot.errors import FetchError, LinkError
from bot.ingest.fetch import USER, Fetcher, FetchResult, Trust, media_type, sniff_html
from bot.ingest.pipeline import OK, IngestPipeline
from bot.ingest.safefetch import SafeFetcher
from bot.store import SqlStore
from tests.feedserver import FeedServer
from tests.helpers import FakeClock

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"


def render_page(path: str) -> bytes:
    """An article page of the ingest fixtures (as test_ingest_pipeline.py serves them)."""
    data = json.loads((FIXTURES / "pages.json").read_text(encoding="utf-8"))[path]
    html = (FIXTURES / "page.html").read_text(encoding="utf-8")
    paragraphs = "\n".join(f"<p>{p}</p>" for p in data["paragraphs"])
    for key, value in {**data, "paragraphs": paragraphs, "lang": "fr"}.items():
        html = html.replace("{" + key + "}", value)
    return html.encode("utf-8")


INGEST = IngestConfig(timeout_seconds=2.0, max_bytes=200_000, max_redirects=3)
FEED = "http://news.example/feed.xml"
PUBLIC = {"news.example": ["93.184.216.34"], "other.example": ["93.184.216.35"]}
# Names whose every address is one the guard must refuse.
PRIVATE_NAMES = {"intranet.example": ["10.0.0.5"], "sneaky.example": ["93.184.216.36", "::1"]}
FORBIDDEN_HOSTS = {"127.0.0.1", "169.254.169.254", "10.0.0.5", "::1", "2130706433"}

# Entry links the feed's author chose, each at a forbidden target (directly, by a name that
# resolves to one, on another port of the feed's own host, or through a redirect on the
# feed's own host, which is trusted, to one).
FORBIDDEN_LINKS = {
    "http://127.0.0.1/admin": "address",
    "http://169.254.169.254/latest/meta-data/": "address",
    "http://10.0.0.5/internal": "address",
    "http://127.0.0.1:5432/": "port",
    "http://[::1]/": "address",
    "http://2130706433/": "address",
    "http://intranet.example/wiki": "address",
    "http://sneaky.example/page": "address",
    "http://news.example:8080/admin": "port",
    "http://news.example/jump-metadata": "address",
    "http://news.example/jump-postgres": "port",
    "http://news.example/jump-ipv6": "address",
    "http://news.example/jump-via-other": "address",
}
GOOD_LINKS = ("http://news.example/article", "http://other.example/story")
REDIRECTS = {
    "/jump-metadata": "http://169.254.169.254/latest/meta-data/iam/",
    "/jump-postgres": "http://127.0.0.1:5432/",
    "/jump-ipv6": "http://[::1]:80/",
    # Off the trusted origin, then back to a loopback address: trust is not regained.
    "/jump-via-other": "http://other.example/bounce",
}
TEASER = "Une phrase seulement."


async def resolve(host: str, port: int) -> list[str]:
    answers = {**PUBLIC, **PRIVATE_NAMES}
    if host not in answers:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return answers[host]


def rss(links: list[str]) -> bytes:
    items = "".join(
        f"<item><title>Entrée {i}</title><link>{link}</link><guid>{link}</guid>"
        f"<description>{TEASER}</description></item>"
        for i, link in enumerate(links)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>'
        f"<link>http://news.example/</link><description>d</description>{items}</channel></rss>"
    ).encode()


class Network:
    """The internet as the MockTransport shows it: who was asked for what."""

    def __init__(self, links: list[str]) -> None:
        self.feed = rss(links)
        self.seen: list[tuple[str, str, str]] = []  # (address or name, Host, path)
        self.page = render_page("/articles/gazole")
        self.other_page = render_page("/sciences/comete")

    def forbidden(self) -> list[tuple[str, str, str]]:
        return [s for s in self.seen if s[0] in FORBIDDEN_HOSTS or s[1].startswith("127.")]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        self.seen.append((host, request.headers.get("host", ""), request.url.path))
        name = request.headers.get("host", host).split(":")[0]
        path = request.url.path
        if host in FORBIDDEN_HOSTS:
            return httpx.Response(
                200, content=b"<p>secret</p>", headers={"content-type": "text/html"}
            )
        if name == "news.example" and path == "/feed.xml":
            return httpx.Response(200, content=self.feed, headers={"content-type": "text/xml"})
        if name == "news.example" and path in REDIRECTS:
            return httpx.Response(302, headers={"location": REDIRECTS[path]})
        if name == "other.example" and path == "/bounce":
            return httpx.Response(301, headers={"location": "http://127.0.0.1/x"})
        if name in ("news.example", "other.example"):
            html = {"content-type": "text/html; charset=utf-8"}
            page = self.page if name == "news.example" else self.other_page
            return httpx.Response(200, content=page, headers=html)
        return httpx.Response(404)


def guarded_fetcher(network: Callable[[httpx.Request], httpx.Response]) -> Fetcher:
    return Fetcher(
        INGEST, clock=FakeClock(), resolver=resolve, transport=httpx.MockTransport(network)
    )


# -- the fetcher alone --------------------------------------------------------------------------


@pytest.mark.parametrize("url, reason", sorted(FORBIDDEN_LINKS.items()))
async def test_an_entry_link_to_a_forbidden_target_is_refused_without_a_request(
    url: str, reason: str
) -> None:
    network = Network([])
    async with guarded_fetcher(network) as fetcher:
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch(url, trust=Trust.feed(FEED))
    assert caught.value.reason == reason and caught.value.refused
    assert network.forbidden() == []


async def test_the_feed_and_its_own_pages_are_trusted_other_hosts_guarded() -> None:
    network = Network([])
    trust = Trust.feed(FEED)
    async with guarded_fetcher(network) as fetcher:
        feed = await fetcher.fetch(FEED, trust=trust)
        own = await fetcher.fetch("http://news.example/article", trust=trust)
        other = await fetcher.fetch("http://other.example/story", trust=trust)
    assert feed.content == network.feed
    assert own.content == network.page and other.content == network.other_page
    assert other.url == "http://other.example/story"  # the name, not the address
    # The trusted origin is asked by name; the other host at its checked address, by name.
    assert network.seen == [
        ("news.example", "news.example", "/feed.xml"),
        ("news.example", "news.example", "/article"),
        ("93.184.216.35", "other.example", "/story"),
    ]


async def test_without_trust_the_feed_host_is_guarded_too() -> None:
    """A user's link to the same URL is resolved and checked: the operator's trust is not
    the user's."""
    network = Network([])
    async with guarded_fetcher(network) as fetcher:
        await fetcher.fetch("http://news.example/article", trust=USER)
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch("http://news.example/jump-metadata", trust=USER)
    assert caught.value.reason == "address"
    assert network.seen[0] == ("93.184.216.34", "news.example", "/article")
    assert network.forbidden() == []


async def test_trust_once_left_is_not_regained() -> None:
    """A loopback feed's entry on another host that redirects back to the loopback origin is
    refused there: the host that redirected was not the operator's choice."""
    bridge = "http://127.0.0.1:1200"

    def network(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.headers["host"] == "other.example":
            return httpx.Response(302, headers={"location": f"{bridge}/secret"})
        return httpx.Response(200, content=b"<p>bridge</p>", headers={"content-type": "text/html"})

    seen: list[str] = []
    trust = Trust.feed(f"{bridge}/telegram/channel/x")
    async with guarded_fetcher(network) as fetcher:
        assert (await fetcher.fetch(f"{bridge}/own", trust=trust)).content == b"<p>bridge</p>"
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch("http://other.example/back", trust=trust)
    assert caught.value.reason == "port" and caught.value.refused
    assert seen == [f"{bridge}/own", "http://93.184.216.35/back"]


def test_trust_covers_only_the_same_scheme_host_and_port() -> None:
    trust = Trust.feed("http://127.0.0.1:1200/telegram/channel/x")
    assert trust.covers("http://127.0.0.1:1200/other")
    assert trust.covers("HTTP://127.0.0.1:1200/")
    for url in (
        "https://127.0.0.1:1200/",
        "http://127.0.0.1:1201/",
        "http://127.0.0.1/",
        "http://localhost:1200/",
        "http://127.0.0.2:1200/",
        "ftp://127.0.0.1:1200/",
        "not a url",
    ):
        assert not trust.covers(url), url
    assert Trust.feed("https://news.example/rss").covers("https://news.example:443/a")
    assert not USER.covers("https://news.example/")
    assert Trust.feed("not a url") == USER


# -- part 3: a malformed redirect, and whatever httpx raises --------------------------------


@pytest.mark.parametrize("trust", [USER, Trust.feed("https://news.example/feed.xml")])
@pytest.mark.parametrize(
    "location", ["http:127.0.0.1/x", "http://[::1", "ftp://news.example/x", "https:///x", ""]
)
async def test_a_malformed_redirect_is_the_fetchers_own_error(trust: Trust, location: str) -> None:
    def network(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": location} if location else {})

    async with guarded_fetcher(network) as fetcher:
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch("https://news.example/r", trust=trust)
    # ("https:///x" is the relative "/x" to httpx: a loop here)
    assert caught.value.reason in ("not_http", "bad_response", "redirects")
    assert str(caught.value)  # a one-line reason for the log


async def test_a_malformed_redirect_is_a_link_error_for_a_user() -> None:
    def network(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": "http:127.0.0.1/x"})

    fetcher = SafeFetcher(LinksConfig(), resolver=resolve, transport=httpx.MockTransport(network))
    with pytest.raises(LinkError) as caught:
        await fetcher.fetch("https://news.example/r")
    await fetcher.aclose()
    assert caught.value.reason == "not_http"


HTTPX_ERRORS = sorted(
    (
        cls
        for cls in (getattr(httpx, name) for name in httpx.__all__)
        if isinstance(cls, type) and issubclass(cls, Exception)
    ),
    key=lambda cls: cls.__name__,
)


def _instance(cls: type[Exception], request: httpx.Request) -> Exception:
    if issubclass(cls, httpx.HTTPStatusError):
        return cls("status", request=request, response=httpx.Response(500, request=request))
    if issubclass(cls, httpx.RequestError):
        return cls("broken", request=request)
    if cls in (httpx.HTTPError, httpx.InvalidURL, httpx.CookieConflict, httpx.StreamError):
        return cls("broken")
    return cls()  # StreamConsumed and its kind take no message


@pytest.mark.parametrize("trust", [USER, Trust.feed("https://news.example/feed.xml")])
@pytest.mark.parametrize("error", HTTPX_ERRORS, ids=lambda cls: cls.__name__)
async def test_every_httpx_exception_becomes_a_fetch_error(
    trust: Trust, error: type[Exception]
) -> None:
    def network(request: httpx.Request) -> httpx.Response:
        raise _instance(error, request)

    async with guarded_fetcher(network) as fetcher:
        with pytest.raises(FetchError) as caught:
            await fetcher.fetch("https://news.example/page", trust=trust)
    assert caught.value.reason in ("connect", "timeout", "not_http", "bad_response")


# -- the pipeline: refused pages keep their teaser, the feed does not fail ---------------------


async def test_a_public_feed_whose_entries_aim_at_forbidden_targets(
    store: SqlStore, store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    links = [*FORBIDDEN_LINKS, *GOOD_LINKS]
    network = Network(links)
    config = Config(ingest=INGEST, feeds=(FeedConfig(FEED, "Monde"),), store=StoreConfig(store_url))
    caplog.set_level(logging.WARNING, logger="bot.ingest.pipeline")
    async with (
        guarded_fetcher(network) as fetcher,
        IngestPipeline(store, config, clock=store.clock, fetcher=fetcher) as pipeline,
    ):
        report = await pipeline.run()
        (feed,) = report.feeds
        assert feed.status == OK and feed.failures == 0 and feed.error is None
        assert feed.new == len(links)
        assert feed.pages == len(GOOD_LINKS)
        assert feed.pages_failed == len(FORBIDDEN_LINKS)

        # Not one request reached a forbidden target.
        assert network.forbidden() == []
        # The ordinary articles, on the feed's host and on another, are fetched in full.
        for url, words in zip(
            GOOD_LINKS, ("Le prix du gazole a encore", "queue de poussière"), strict=True
        ):
            article = await store.find_article_by_url(url)
            assert article is not None and words in article.text
        # Each refused entry is stored from what the feed gave, marked as a teaser.
        pending = {p.url: p for p in await store.pending_pages()}
        for url, reason in FORBIDDEN_LINKS.items():
            stored = await store.find_article_by_url(url)
            assert stored is not None and stored.text == TEASER, url
            assert stored.title.startswith("Entrée ")
            key = next(k for k in pending if k.rstrip("/") == url.rstrip("/") or k == url)
            assert (pending[key].last_error or "").startswith(f"{reason}: "), url
        refusals = [r for r in caplog.records if "refused" in r.getMessage()]
        assert len(refusals) == len(FORBIDDEN_LINKS)

        # The next run retries nothing it was refused: given up, no request, no new log line.
        again = await pipeline.run(include_not_due=True)
        (feed,) = again.feeds
        assert feed.status == OK and feed.failures == 0
        assert feed.pages_given_up == len(FORBIDDEN_LINKS)
        assert await store.pending_pages() == []
        assert network.forbidden() == []
        assert len([r for r in caplog.records if "refused" in r.getMessage()]) == len(refusals)
    stored_feed = await store.find_feed(FEED)
    assert stored_feed is not None and stored_feed.failures == 0 and stored_feed.last_error is None


# -- a loopback feed, against real listeners ---------------------------------------------------


@pytest.fixture
def listeners() -> Iterator[tuple[FeedServer, FeedServer]]:
    with FeedServer() as bridge, FeedServer() as database:
        database.add("/", b"<p>secret</p>", content_type="text/html")
        yield bridge, database


async def test_a_loopback_feed_reads_its_own_pages_and_nothing_else_on_loopback(
    store: SqlStore, store_url: str, listeners: tuple[FeedServer, FeedServer]
) -> None:
    bridge, database = listeners
    own = [bridge.url("/article"), bridge.url("/moved")]
    elsewhere = [
        database.url("/"),
        bridge.url("/to-database"),
        f"http://localhost:{bridge.base.rsplit(':', 1)[1]}/article",
    ]
    bridge.add("/feed.xml", rss(own + elsewhere), content_type="application/rss+xml")
    bridge.add("/article", render_page("/articles/gazole"), content_type="text/html")
    bridge.add("/comete", render_page("/sciences/comete"), content_type="text/html")
    bridge.add("/moved", redirect=bridge.url("/comete"))
    bridge.add("/to-database", redirect=database.url("/"))
    feed_url = bridge.url("/feed.xml")
    config = Config(
        ingest=INGEST, feeds=(FeedConfig(feed_url, "Local"),), store=StoreConfig(store_url)
    )
    async with IngestPipeline(store, config, clock=store.clock) as pipeline:
        report = await pipeline.run()
    (feed,) = report.feeds
    assert feed.status == OK and feed.failures == 0
    assert feed.pages == 2 and feed.pages_failed == 3
    assert database.requests == []  # the other listener saw no request at all
    for url, words in zip(own, ("Le prix du gazole a encore", "queue de poussière"), strict=True):
        article = await store.find_article_by_url(url)
        assert article is not None and words in article.text
    # `localhost` is another name, not the trusted origin: resolved, and refused.
    pending = {p.url: p.last_error for p in await store.pending_pages()}
    assert all((pending[url] or "").startswith(("address: ", "port: ")) for url in elsewhere)


# -- a page without a Content-Type -----------------------------------------------------------


def test_sniffing_a_body_without_content_type() -> None:
    for html in (b"<!DOCTYPE html><html>", b"\xef\xbb\xbf\n  <HTML lang=fr>", b"<p>Un", b"<!-- x"):
        assert sniff_html(html), html
    for other in (b"Just text", b"%PDF-1.4", b"\x89PNG\r\n\x1a\n<p>", b"<?xml version='1.0'?>",
                  b"{\"a\": 1}", b"<abbr>", b"\x00<html>"):  # fmt: skip
        assert not sniff_html(other), other

    def result(content: bytes, content_type: str | None) -> FetchResult:
        headers = {"content-type": content_type} if content_type else {}
        return FetchResult("u", 200, content, headers)

    assert media_type(result(b"%PDF", "Application/PDF; x=y")) == "application/pdf"
    assert media_type(result(b"<html>", None)) == "text/html"
    assert media_type(result(b"%PDF-1.4", None)) is None


async def test_a_page_without_content_type_is_extracted_only_when_it_is_html(
    store: SqlStore, store_url: str
) -> None:
    page = render_page("/articles/gazole")
    bodies = {"/html": page, "/pdf": b"%PDF-1.4 " + page, "/text": b"Le prix du gazole " * 50}

    def network(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/feed.xml":
            links = [f"http://news.example{path}" for path in bodies]
            return httpx.Response(200, content=rss(links))
        return httpx.Response(200, content=bodies[request.url.path])  # no Content-Type

    config = Config(ingest=INGEST, feeds=(FeedConfig(FEED, "Monde"),), store=StoreConfig(store_url))
    async with (
        guarded_fetcher(network) as fetcher,
        IngestPipeline(store, config, clock=store.clock, fetcher=fetcher) as pipeline,
    ):
        report = await pipeline.run()
    (feed,) = report.feeds
    assert feed.status == OK and feed.pages == 1 and feed.pages_failed == 2
    html = await store.find_article_by_url("http://news.example/html")
    assert html is not None and "Le prix du gazole a encore baissé" in html.text
    for path in ("/pdf", "/text"):
        teaser = await store.find_article_by_url(f"http://news.example{path}")
        assert teaser is not None and teaser.text == TEASER
    pending = {p.url: p.last_error for p in await store.pending_pages()}
    assert pending["http://news.example/pdf"] == "not an HTML page (no Content-Type, and not HTML)"
