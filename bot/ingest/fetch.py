"""The one HTTP fetcher of newsbot: feeds, their pages and the links users send, all guarded.

One `Fetcher` (one shared connection pool) serves a whole run, or the whole life of the bot.
Each request says who chose its URL (`Trust`), and that decides what it may reach:

- a URL a user sent (`USER`, the default) is fully guarded against server-side request forgery
  by `bot.ingest.guard.FetchPolicy`: http(s) on the allowed ports only, the name resolved here
  once, *every* address it resolves to checked, the connection made to the checked address (the
  `Host` header, TLS SNI and the certificate check carry the name, so a second DNS answer is
  never asked for), and such connections are not reused;
- a feed URL the operator configured or an admin added is trusted for its own scheme, host and
  port (`Trust.feed(url)`): a feed served by a local bridge (RSSHub on 127.0.0.1:1200) works,
  and so do entry pages and redirects on that same origin. A hop to any other origin goes
  through the guard like a user's link, and trust once left is not regained in that chain.

Redirects are followed here, one hop at a time, each judged like the first (httpx never follows
them itself). Proxy variables of the environment are ignored; `fetch.proxy` sets one
explicitly (a guarded hop is then checked here as ever, and the proxy connects to it by name).
Every request is bounded:

- in time: `timeout_seconds` for the whole request, DNS and connect to last byte, so a server
  that trickles one byte a second cannot hold a slot forever (httpx's own timeouts are per
  socket operation and would never fire);
- in size: at most `max_bytes` decoded bytes are read; a larger body, an endless one or a gzip
  bomb (a few KB that inflate to gigabytes) fails at the cap without ever holding more;
- in hops: at most `max_redirects` redirects, so a loop ends;
- in parallelism: at most `ingest.per_host_concurrency` requests in flight per host, so a run
  over fifty pages of one site does not hammer it.

The limits are `[ingest]`'s unless a call passes its own (links pass `[links]`'s). It sends the
configured User-Agent and conditional-GET validators (If-None-Match, If-Modified-Since), so an
unchanged feed costs a 304 and no body. Failures and refusals raise `bot.errors.FetchError`
with a one-line message and a `reason` (one of `LINK_REASONS`); nothing else escapes, whatever
httpx raises while building or sending a request.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any

import httpx

from bot.clock import Clock
from bot.config import Config, IngestConfig
from bot.errors import FetchError, LinkError
from bot.ingest.guard import FetchPolicy, Resolver, system_resolver

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


# What the WHATWG MIME sniffing standard takes for the start of an HTML document (after
# whitespace), each followed by a space or ">"; see `sniff_html`.
_HTML_STARTS = tuple(
    tag.encode()
    for tag in (
        "<!doctype html", "<html", "<head", "<script", "<iframe", "<h1", "<div", "<font",
        "<table", "<a", "<style", "<title", "<b", "<body", "<br", "<p", "<!--",
    )
)  # fmt: skip
_BINARY = frozenset(b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0e\x0f") | frozenset(
    range(0x10, 0x20)
) - frozenset(b"\x1b")


def sniff_html(content: bytes) -> bool:
    """True when a body that came without a Content-Type is HTML text, by the rules browsers
    use (WHATWG MIME sniffing): no binary bytes in the first 1,024, and after a byte-order mark
    and whitespace, an HTML tag (`<!DOCTYPE html`, `<html`, `<p`...) or a comment."""
    head = content[:1024]
    if any(byte in _BINARY for byte in head):
        return False
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip(b"\t\n\x0c\r ").lower()
    for start in _HTML_STARTS:
        if head.startswith(start):
            after = head[len(start) : len(start) + 1]
            if start == b"<!--" or after in (b" ", b">", b"\t", b"\n", b"\r", b"\x0c"):
                return True
    return False


def media_type(result: FetchResult) -> str | None:
    """The media type of a response ("text/html"): the one its Content-Type declares, else
    "text/html" for a body that sniffs as HTML, else None (unknown: not to be extracted)."""
    declared = result.headers.get("content-type", "").split(";")[0].strip().lower()
    if declared:
        return declared
    return "text/html" if sniff_html(result.content) else None


def charset_of(content_type: str) -> str | None:
    """The charset a Content-Type value declares, if any."""
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None


@dataclass(frozen=True, slots=True)
class Trust:
    """Who chose a URL, hence what it may reach without the guard: nothing (`USER`: a user's
    link), or the scheme, host and port of a feed the operator or an admin chose
    (`Trust.feed`)."""

    origin: tuple[str, str, int] | None = None

    @staticmethod
    def feed(url: str) -> Trust:
        """The trust of a feed's URL, shared by every URL on the same origin."""
        return _feed_trust(url)

    def covers(self, url: str | httpx.URL) -> bool:
        """True when `url` is on the trusted origin."""
        return self.origin is not None and _origin(url) == self.origin


USER = Trust()


@functools.lru_cache(maxsize=1024)
def _feed_trust(url: str) -> Trust:
    # Cached: every page of a run asks for its feed's trust.
    origin = _origin(url)
    return Trust(origin) if origin is not None else USER


_REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Addresses of one name tried in turn when a connection is refused (all of them are checked).
_MAX_ADDRESSES_TRIED = 4


def _origin(url: str | httpx.URL) -> tuple[str, str, int] | None:
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url.strip())
        host = parsed.raw_host.decode("ascii").lower()
    except (httpx.InvalidURL, UnicodeError, ValueError):
        return None
    if parsed.scheme not in ("http", "https") or not host:
        return None
    return parsed.scheme, host, parsed.port or (443 if parsed.scheme == "https" else 80)


# What httpx may raise while a request is built or sent, beyond its HTTPError tree.
_HTTPX_ERRORS = (httpx.HTTPError, httpx.InvalidURL, httpx.CookieConflict, httpx.StreamError)


class Fetcher:
    """GET with `[ingest]`'s limits and `[fetch]`'s guard; use as an async context manager or
    `aclose()`. Build it with `from_config` (or pass a `FetchPolicy`; the default refuses
    every non-public address).

    `resolver` replaces DNS (tests answer names with the addresses they want to see refused);
    `transport` replaces the network (tests pass `httpx.MockTransport`, which then sees every
    request as it would leave: a guarded one addressed to the checked IP).
    """

    def __init__(
        self,
        config: IngestConfig,
        *,
        clock: Clock,
        policy: FetchPolicy | None = None,
        resolver: Resolver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        proxy: str | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.policy = policy or FetchPolicy()
        self.resolver: Resolver = resolver or system_resolver
        self.max_bytes = config.max_bytes
        self.timeout = config.timeout_seconds
        common: dict[str, Any] = {
            "timeout": httpx.Timeout(config.timeout_seconds),
            "follow_redirects": False,
            # Only the encodings `_Decoder` can inflate with a size bound.
            "headers": {"User-Agent": config.user_agent, "Accept-Encoding": "gzip, deflate"},
            "transport": transport,
            "trust_env": False,
            "proxy": proxy or None,
        }
        # Trusted origins (the operator's feeds): connections by name, kept and reused.
        self._trusted = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32), **common
        )
        # Guarded hops: connections to a checked address, never reused (a pooled connection
        # is keyed by address alone, and would carry one name's TLS session to another name).
        self._guarded = httpx.AsyncClient(
            verify=ssl.create_default_context(),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=0),
            **common,
        )
        self._proxied = bool(proxy)
        self._hosts: dict[str, asyncio.Semaphore] = {}

    @classmethod
    def from_config(
        cls,
        config: Config,
        *,
        clock: Clock,
        resolver: Resolver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> Fetcher:
        """The fetcher `[ingest]` and `[fetch]` describe."""
        return cls(
            config.ingest,
            clock=clock,
            policy=FetchPolicy.from_config(config.allowed_targets),
            resolver=resolver,
            transport=transport,
            proxy=config.fetch.proxy,
        )

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
        await self._trusted.aclose()
        await self._guarded.aclose()

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
        trust: Trust = USER,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = FEED_ACCEPT,
        timeout: float | None = None,
        max_bytes: int | None = None,
        max_redirects: int | None = None,
    ) -> FetchResult:
        """GET *url* as *trust* allows, following redirects; a 304 comes back as a result
        (`not_modified`), anything but 2xx/304 and any refusal raises FetchError."""
        timeout = self.timeout if timeout is None else timeout
        limits = _Limits(
            self.max_bytes if max_bytes is None else max_bytes,
            self.config.max_redirects if max_redirects is None else max_redirects,
        )
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        origin = _origin(url)
        async with self._host_slot(origin[1] if origin else url):
            try:
                async with asyncio.timeout(timeout):
                    return await self._follow(url, origin, trust, headers, limits)
            except FetchError:
                raise
            except LinkError as exc:  # the guard's refusal
                raise FetchError(str(exc), reason=exc.reason, status=exc.status) from None
            except (TimeoutError, httpx.TimeoutException):
                raise FetchError(f"timed out after {timeout:g}s", reason="timeout") from None
            except httpx.ConnectError as exc:
                raise FetchError(f"cannot connect: {_reason(exc)}", reason="connect") from None
            except httpx.InvalidURL as exc:
                raise FetchError(f"invalid URL: {_reason(exc)}", reason="not_http") from None
            except _HTTPX_ERRORS as exc:
                raise FetchError(f"{type(exc).__name__}: {_reason(exc)}") from None

    async def _follow(
        self,
        url: str,
        origin: tuple[str, str, int] | None,
        trust: Trust,
        headers: dict[str, str],
        limits: _Limits,
    ) -> FetchResult:
        current: str | httpx.URL = url
        trusted = trust.origin is not None and origin == trust.origin
        for hop in range(limits.max_redirects + 1):
            # Trust holds only while every hop stays on the trusted origin.
            trusted = trusted and (hop == 0 or trust.covers(current))
            if trusted:
                final, response = await self._send_trusted(current, headers)
            else:
                final, response = await self._send_guarded(current, headers)
            try:
                if response.status_code in _REDIRECTS:
                    current = _next_hop(final, response)
                    continue
                return await self._result(final, response, limits)
            finally:
                await response.aclose()
        raise FetchError(f"more than {limits.max_redirects} redirects", reason="redirects")

    async def _send_trusted(
        self, url: str | httpx.URL, headers: dict[str, str]
    ) -> tuple[httpx.URL, httpx.Response]:
        request = self._trusted.build_request("GET", url, headers=headers)
        return request.url, await self._trusted.send(request, stream=True)

    async def _send_guarded(
        self, url: str | httpx.URL, headers: dict[str, str]
    ) -> tuple[httpx.URL, httpx.Response]:
        """Send to the first checked address of the hop's host that accepts a connection."""
        target = self.policy.target(url)
        addresses = await self.policy.addresses(target, self.resolver)
        if self._proxied:
            # The proxy connects, by name (TLS through its tunnel checks the name, which an
            # address in the URL would break): the check above is all we can do here.
            request = self._guarded.build_request("GET", target.url, headers=headers)
            return target.url, await self._guarded.send(request, stream=True)
        extensions = {}
        if target.url.scheme == "https" and target.literal is None:
            # TLS for the name (SNI and certificate check) on a connection to the address.
            extensions["sni_hostname"] = target.host
        hop_headers = {**headers, "Host": target.url.netloc.decode("ascii")}
        last: Exception | None = None
        for address in addresses[:_MAX_ADDRESSES_TRIED]:
            request = self._guarded.build_request(
                "GET",
                target.url.copy_with(host=str(address)),
                headers=hop_headers,
                extensions=extensions,
            )
            try:
                return target.url, await self._guarded.send(request, stream=True)
            except httpx.ConnectError as exc:
                last = exc
        raise FetchError(f"cannot connect: {target.host}: {last}", reason="connect")

    async def _result(
        self, url: httpx.URL, response: httpx.Response, limits: _Limits
    ) -> FetchResult:
        kept = {name: response.headers[name] for name in _KEPT_HEADERS if name in response.headers}
        final = str(url)
        if response.status_code == 304:
            return FetchResult(final, 304, b"", kept)
        if not 200 <= response.status_code < 300:
            phrase = response.reason_phrase or ""
            raise FetchError(
                f"HTTP {response.status_code} {phrase}".strip(),
                reason="status",
                status=response.status_code,
                retry_after=_retry_after(response.headers.get("retry-after"), self.clock.now()),
            )
        content = await read_capped(
            response,
            limits.max_bytes,
            lambda: FetchError(f"body larger than {limits.max_bytes} bytes", reason="too_large"),
        )
        return FetchResult(final, response.status_code, content, kept)


@dataclass(frozen=True, slots=True)
class _Limits:
    max_bytes: int
    max_redirects: int


def _next_hop(url: httpx.URL, response: httpx.Response) -> httpx.URL:
    """Where a redirect leads; FetchError for a missing or malformed Location."""
    location = response.headers.get("location", "").strip()
    if not location:
        raise FetchError("redirect without Location")
    try:
        hop = url.join(location)
        hop.raw_host.decode("ascii")
    except (httpx.InvalidURL, UnicodeError, ValueError) as exc:
        raise FetchError(f"redirect to {location!r}: {_reason(exc)}", reason="not_http") from None
    if hop.scheme not in ("http", "https") or not hop.host:
        raise FetchError(f"redirect to {location!r}: not an http(s) URL", reason="not_http")
    return hop


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
