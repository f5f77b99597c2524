"""The Fetcher's limits (bot.ingest.fetch), against httpx.MockTransport: nothing leaves the
process. The same limits against a real loopback server are in test_ingest_pipeline.py."""

from __future__ import annotations

import gzip
import socket
import tracemalloc
import zlib

import httpx
import pytest

from bot.config import IngestConfig
from bot.errors import FetchError
from bot.ingest.fetch import Fetcher, FetchResult
from tests.feedserver import gzip_bomb
from tests.helpers import FakeClock

CONFIG = IngestConfig(
    timeout_seconds=2.0, max_bytes=100_000, max_redirects=3, user_agent="newsbot-test/1.0"
)


async def public_dns(host: str, port: int) -> list[str]:
    """Every name is one public address, but for `.invalid` (RFC 2606), which never is."""
    if host.endswith(".invalid"):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return ["93.184.216.34"]


def fetcher(handler: object, config: IngestConfig = CONFIG) -> Fetcher:
    return Fetcher(
        config,
        clock=FakeClock(),
        resolver=public_dns,
        transport=httpx.MockTransport(handler),  # type: ignore[arg-type]
    )


async def test_sends_user_agent_and_validators_and_reads_a_304() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("if-none-match") == '"v1"':
            return httpx.Response(304, headers={"ETag": '"v1"'})
        return httpx.Response(
            200,
            content=b"<rss/>",
            headers={
                "ETag": '"v1"',
                "Last-Modified": "Tue, 10 Jun 2025 10:00:00 GMT",
                "Content-Type": "application/rss+xml; charset=ISO-8859-1",
            },
        )

    async with fetcher(handler) as client:
        first = await client.fetch("https://ex.org/rss")
        second = await client.fetch(
            "https://ex.org/rss", etag=first.etag, last_modified=first.last_modified
        )
    assert (first.status, first.content, first.charset) == (200, b"<rss/>", "ISO-8859-1")
    assert (first.etag, first.last_modified) == ('"v1"', "Tue, 10 Jun 2025 10:00:00 GMT")
    assert second.not_modified and second.content == b""
    assert seen[0].headers["user-agent"] == "newsbot-test/1.0"
    assert seen[0].headers["accept-encoding"] == "gzip, deflate"
    assert "if-none-match" not in seen[0].headers
    assert seen[1].headers["if-none-match"] == '"v1"'
    assert seen[1].headers["if-modified-since"] == "Tue, 10 Jun 2025 10:00:00 GMT"


def raw(status: int, body: bytes = b"", **headers: str) -> httpx.Response:
    """A response whose body httpx has not decoded yet, as from the network."""
    names = {name.replace("_", "-"): value for name, value in headers.items()}
    return httpx.Response(status, stream=httpx.ByteStream(body), headers=names)


@pytest.mark.parametrize(
    ("response", "reason", "retry_after"),
    [
        (raw(404), "HTTP 404 Not Found", None),
        (raw(500), "HTTP 500 Internal Server Error", None),
        (raw(503, Retry_After="120"), "HTTP 503", 120.0),
        # An HTTP date is counted from the fetcher's clock (tests.helpers.START, 12:00).
        (raw(503, Retry_After="Fri, 27 Nov 2026 12:02:00 GMT"), "HTTP 503", 120.0),
        (raw(429, Retry_After="soon"), "HTTP 429", None),
        (raw(200, Content_Length="200000"), "larger than 100000", None),
        (raw(200, b"x" * 100_001), "larger than 100000", None),
        (raw(200, b"x", Content_Encoding="br"), "unsupported Content-Encoding 'br'", None),
        (raw(200, b"not gzip", Content_Encoding="gzip"), "corrupt compressed body", None),
    ],
    ids=[
        "404",
        "500",
        "503-retry-after",
        "503-retry-at-date",
        "429-bad-retry-after",
        "content-length",
        "body",
        "brotli",
        "corrupt-gzip",
    ],
)
async def test_failures_have_a_reason(
    response: httpx.Response, reason: str, retry_after: float | None
) -> None:
    async with fetcher(lambda request: response) as client:
        with pytest.raises(FetchError, match=reason) as caught:
            await client.fetch("https://ex.org/rss")
    assert caught.value.retry_after == retry_after


async def test_gzip_bomb_stops_at_the_cap_without_inflating_it() -> None:
    bomb = gzip_bomb(200_000_000)  # 200 MB of zeros, ~200 KB on the wire
    assert len(bomb) < 300_000

    def handler(request: httpx.Request) -> httpx.Response:
        return raw(200, bomb, Content_Encoding="gzip")

    tracemalloc.start()
    try:
        async with fetcher(handler) as client:
            with pytest.raises(FetchError, match="larger than 100000 bytes"):
                await client.fetch("https://ex.org/bomb")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000  # the compressed body and a cap's worth, never the 200 MB


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),  # zlib-wrapped, as the RFC says
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw, as many servers send
        ("gzip", lambda data: gzip.compress(data[:5]) + gzip.compress(data[5:])),  # 2 members
    ],
    ids=["gzip", "deflate-zlib", "deflate-raw", "gzip-members"],
)
async def test_compressed_bodies_are_decoded(encoding: str, encode: object) -> None:
    body = "<rss>Économie</rss>".encode() * 100

    def handler(request: httpx.Request) -> httpx.Response:
        return raw(200, encode(body), Content_Encoding=encoding)  # type: ignore[operator]

    async with fetcher(handler) as client:
        assert (await client.fetch("https://ex.org/rss")).content == body


async def test_redirects_are_followed_and_bounded() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/loop":
            return httpx.Response(302, headers={"Location": "/loop"})
        if request.url.path == "/moved":
            return httpx.Response(301, headers={"Location": "https://new.example/rss"})
        return httpx.Response(200, content=b"<rss/>")

    async with fetcher(handler) as client:
        moved = await client.fetch("https://ex.org/moved")
        assert (moved.url, moved.content) == ("https://new.example/rss", b"<rss/>")
        with pytest.raises(FetchError, match="more than 3 redirects"):
            await client.fetch("https://ex.org/loop")


async def test_network_errors_and_bad_urls() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known", request=request)

    async with fetcher(handler) as client:
        with pytest.raises(FetchError, match=r"cannot connect: .*Name or service not known"):
            await client.fetch("https://ex.org/rss")
        with pytest.raises(FetchError, match=r"no-such-host.invalid: .*not known") as caught:
            await client.fetch("https://no-such-host.invalid/rss")
        assert caught.value.reason == "resolve"
        for url in ("ftp://ex.org/rss", "file:///etc/passwd", "not a url", "https:///x"):
            with pytest.raises(FetchError) as caught:
                await client.fetch(url)
            assert caught.value.reason == "not_http"


def test_fetch_result_charset() -> None:
    def result(content_type: str) -> FetchResult:
        return FetchResult("u", 200, b"", {"content-type": content_type})

    assert result('text/html; charset="UTF-8"').charset == "UTF-8"
    assert result("text/html;CHARSET=iso-8859-1").charset == "iso-8859-1"
    assert result("text/html").charset is None
    assert FetchResult("u", 200).charset is None
