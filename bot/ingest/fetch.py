"""Polite, bounded HTTP for feeds and article pages: bytes plus what caching needs.

One `Fetcher` (one shared `httpx.AsyncClient`, so connections are reused) serves a whole run,
or the whole life of the bot. Every request is bounded:

- in time: `ingest.timeout_seconds` for the whole request, connect to last byte, so a server
  that trickles one byte a second cannot hold a slot forever (httpx's own timeouts are per
  socket operation and would never fire);
- in size: at most `ingest.max_bytes` decoded bytes are read; a larger body, an endless one or
  a gzip bomb (a few KB that inflate to gigabytes) fails at the cap without ever holding more;
- in hops: at most `ingest.max_redirects` redirects, so a loop ends;
- in parallelism: at most `ingest.per_host_concurrency` requests in flight per host, so a run
  over fifty pages of one site does not hammer it.

It sends the configured User-Agent and conditional-GET validators (If-None-Match,
If-Modified-Since), so an unchanged feed costs a 304 and no body. Failures raise
`bot.errors.FetchError` with a one-line reason; nothing else escapes.
"""

from __future__ import annotations

import asyncio
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from urllib.parse import urlsplit

import httpx

from bot.clock import Clock
from bot.config import IngestConfig
from bot.errors import FetchError

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9, "
    "text/xml;q=0.9, */*;q=0.5"
)
PAGE_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"

# Response headers worth keeping: feedparser reads the charset from Content-Type and resolves
# relative links against Content-Location; the validators come back on the next request.
_KEPT_HEADERS = ("content-type", "content-language", "etag", "last-modified")


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A response: the final URL (after redirects), status, decoded body and a few headers
    (lower-case names). A 304 has an empty body; see `not_modified`."""

    url: str
    status: int
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def not_modified(self) -> bool:
        """True for a 304: the validators we sent still match, nothing to parse."""
        return self.status == 304

    @property
    def etag(self) -> str | None:
        """The ETag to send as If-None-Match next time."""
        return self.headers.get("etag") or None

    @property
    def last_modified(self) -> str | None:
        """The Last-Modified to send as If-Modified-Since next time."""
        return self.headers.get("last-modified") or None

    @property
    def charset(self) -> str | None:
        """The charset the Content-Type header declares, if any."""
        return charset_of(self.headers.get("content-type", ""))


def charset_of(content_type: str) -> str | None:
    """The charset a Content-Type value declares, if any."""
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None


class Fetcher:
    """GET with the limits of `IngestConfig`; use as an async context manager or `aclose()`.

    `transport` replaces the network (tests pass `httpx.MockTransport`); `trust_env=False`
    ignores proxy variables (tests that must only talk to 127.0.0.1).
    """

    def __init__(
        self,
        config: IngestConfig,
        *,
        clock: Clock,
        transport: httpx.AsyncBaseTransport | None = None,
        trust_env: bool = True,
    ) -> None:
        self.config = config
        self.clock = clock
        self.max_bytes = config.max_bytes
        self.timeout = config.timeout_seconds
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(config.timeout_seconds),
            follow_redirects=True,
            max_redirects=config.max_redirects,
            # Only the encodings `_Decoder` can inflate with a size bound.
            headers={"User-Agent": config.user_agent, "Accept-Encoding": "gzip, deflate"},
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            transport=transport,
            trust_env=trust_env,
        )
        self._hosts: dict[str, asyncio.Semaphore] = {}

    async def __aenter__(self) -> Fetcher:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections; the fetcher is unusable afterwards."""
        await self._client.aclose()

    @asynccontextmanager
    async def _host_slot(self, host: str) -> AsyncIterator[None]:
        slot = self._hosts.get(host)
        if slot is None:
            slot = self._hosts[host] = asyncio.Semaphore(self.config.per_host_concurrency)
        async with slot:
            yield

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = FEED_ACCEPT,
    ) -> FetchResult:
        """GET *url*; a 304 comes back as a result (`not_modified`), anything but 2xx/304
        raises FetchError."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"not an http(s) URL: {url!r}")
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        async with self._host_slot(parts.hostname):
            try:
                async with asyncio.timeout(self.timeout):
                    return await self._get(url, headers)
            except TimeoutError:
                raise FetchError(f"timed out after {self.timeout:g}s") from None
            except httpx.TimeoutException:
                raise FetchError(f"timed out after {self.timeout:g}s") from None
            except httpx.TooManyRedirects:
                raise FetchError(f"more than {self.config.max_redirects} redirects") from None
            except httpx.ConnectError as exc:
                raise FetchError(f"cannot connect: {_reason(exc)}") from None
            except httpx.HTTPError as exc:
                raise FetchError(f"{type(exc).__name__}: {_reason(exc)}") from None

    async def _get(self, url: str, headers: dict[str, str]) -> FetchResult:
        request = self._client.build_request("GET", url, headers=headers)
        response = await self._client.send(request, stream=True)
        try:
            kept = {
                name: response.headers[name] for name in _KEPT_HEADERS if name in response.headers
            }
            final = str(response.url)
            if response.status_code == 304:
                return FetchResult(final, 304, b"", kept)
            if not 200 <= response.status_code < 300:
                phrase = response.reason_phrase or ""
                raise FetchError(
                    f"HTTP {response.status_code} {phrase}".strip(),
                    retry_after=_retry_after(response.headers.get("retry-after"), self.clock.now()),
                )
            content = await self._read_capped(response)
            return FetchResult(final, response.status_code, content, kept)
        finally:
            await response.aclose()

    async def _read_capped(self, response: httpx.Response) -> bytes:
        return await read_capped(
            response,
            self.max_bytes,
            lambda: FetchError(f"body larger than {self.max_bytes} bytes"),
        )


async def read_capped(
    response: httpx.Response, limit: int, too_large: Callable[[], Exception]
) -> bytes:
    """The body of *response* decoded, raising `too_large()` past *limit* bytes (a gzip bomb
    or an endless body stops there) and FetchError for a corrupt compressed body."""
    if response.is_stream_consumed:
        # Already in memory, decoded (an httpx.MockTransport response built with
        # `content=`): only the cap is left to check.
        if len(response.content) > limit:
            raise too_large()
        return response.content
    encoding = response.headers.get("content-encoding", "").strip().lower()
    length = response.headers.get("content-length", "")
    if encoding in ("", "identity") and length.isdigit() and int(length) > limit:
        raise too_large()  # say no before reading anything
    decoder = _Decoder(encoding)
    body = bytearray()
    # Raw bytes, inflated here rather than by httpx: httpx inflates each network chunk in
    # full, and 64 KB of a gzip bomb is 64 MB decoded before anyone can count it.
    async for chunk in response.aiter_raw():
        body += decoder.decode(chunk, limit - len(body) + 1)
        if len(body) > limit:
            raise too_large()
    return bytes(body)


class _Decoder:
    """Content-Encoding decoding that never produces more than asked for.

    zlib's `max_length` bounds each call; since the caller stops at the cap, output beyond it
    is never produced, whatever the compression ratio.
    """

    def __init__(self, encoding: str) -> None:
        if encoding in ("", "identity"):
            self._wbits: int | None = None
        elif encoding in ("gzip", "x-gzip"):
            self._wbits = zlib.MAX_WBITS | 16
        elif encoding == "deflate":
            self._wbits = zlib.MAX_WBITS
        else:
            raise FetchError(f"unsupported Content-Encoding {encoding!r}")
        self._raw_fallback = encoding == "deflate"
        self._members = 0
        self._inflater = zlib.decompressobj(self._wbits) if self._wbits is not None else None

    def decode(self, data: bytes, limit: int) -> bytes:
        if self._inflater is None:
            return data[:limit]
        out = bytearray()
        while data and len(out) < limit:
            try:
                out += self._inflater.decompress(data, limit - len(out))
            except zlib.error:
                if self._raw_fallback and not out and not self._members:
                    # "deflate" is often sent as a raw stream without the zlib header.
                    self._raw_fallback = False
                    self._wbits = -zlib.MAX_WBITS
                    self._inflater = zlib.decompressobj(self._wbits)
                    continue
                if self._members:
                    return bytes(out)  # padding after a complete gzip member: ignore it
                raise FetchError("corrupt compressed body") from None
            if self._inflater.eof:
                # Another gzip member may follow (concatenated gzip is valid).
                self._members += 1
                data = self._inflater.unused_data
                self._inflater = zlib.decompressobj(self._wbits or zlib.MAX_WBITS)
            else:
                data = self._inflater.unconsumed_tail
        return bytes(out)


def _reason(exc: Exception) -> str:
    return str(exc).strip() or type(exc).__name__


def _retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date) at *now*."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())
