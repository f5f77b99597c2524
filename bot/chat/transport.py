"""The sender's HTTP layer to the Bot API: HTTP/1.1 keep-alive connections on the event loop,
answers parsed by httptools (llhttp, Node.js's parser, in C), behind PTB's `BaseRequest`.

Written here rather than taken from PTB's `HTTPXRequest` because, at paid-broadcast rates,
httpx's connection pool was the sender's limit (bench/broadcast.py): before each request it
rescans every pooled connection and asks each socket whether the server closed it, a
`getpeername` and a `poll` per pooled socket per request (26 of each a message with 32
connections), and every request goes through anyio's streams and httpcore's bookkeeping. Here a
connection the server closed is known from the event loop's own callback (`connection_lost`),
a free connection is taken off a list, and a request is one `write` of its head and JSON body
(Telegram takes JSON for every method without a file; the form encoding of `HTTPXRequest` quotes
every byte of a caption). The request's head is a few fixed lines written here; the answer
(status, headers, Content-Length or chunked body, keep-alive or close) is httptools' to parse:
h11, pure Python, took a fifth of the sender's time per message.

What PTB does above `do_request` is unchanged: its error handling turns the status and body into
`RetryAfter`, `ChatMigrated`, `Forbidden`, `BadRequest`..., and a failure here is its
`NetworkError`, or `TimedOut`; a `TimedOut` is caused by a `TimeoutError` only when the request
was written and no answer came (Telegram may have acted on it), so that the outbox records the
message as unconfirmed instead of sending it twice; one before the request left has no cause.
A request with files to upload (the sender never sends one) goes through `HTTPXRequest`.

A request whose JSON body its caller encoded already (`PreparedJSON`: the sender's posts, see
`bot.chat.outbox.SenderBot.push`) goes as it is, still through PTB's `BaseRequest.post`, so
its answer is checked and its errors raised exactly as for any other request.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import certifi
import httptools
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from bot.chat.application import watch_answer

# PTB's `HTTPXRequest` defaults, in seconds.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 5.0
WRITE_TIMEOUT = 5.0
POOL_TIMEOUT = 1.0


# What must not be in a request line: whitespace and control characters.
_UNSAFE = re.compile(r"[\x00-\x20\x7f]")


class PreparedJSON(RequestData):  # type: ignore[misc]  # final for PTB's users, not a rule
    """A request's parameters as the JSON body that goes out, encoded by the caller: for
    `BotAPIRequest` only (PTB's own requests would find no parameters in it). It has no files,
    so `BaseRequest.post` and its error handling take it as any other request."""

    __slots__ = ("body",)

    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.body = body


class _Connection(asyncio.Protocol):
    """One keep-alive connection: one request at a time, its answer as (status, body)."""

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self._answer: asyncio.Future[tuple[int, bytes]] | None = None
        self._body: list[bytes] = []
        self._keep_alive = False

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(ConnectionError(f"the Bot API's answer is not HTTP/1.1: {exc}"))
            self.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(ConnectionError(f"the server closed the connection ({exc or 'EOF'})"))

    # -- httptools' callbacks --------------------------------------------------------------

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        self._keep_alive = self.parser.should_keep_alive()
        answer = self._answer
        if answer is not None and not answer.done():
            answer.set_result((self.parser.get_status_code(), b"".join(self._body)))

    # -- one request -----------------------------------------------------------------------

    def send(self, head: bytes, body: bytes) -> asyncio.Future[tuple[int, bytes]]:
        """Write the request at once; the future of its answer."""
        assert self.transport is not None
        self._answer = asyncio.get_running_loop().create_future()
        self._body, self._keep_alive = [], False
        self.transport.write(head + body)
        return self._answer

    def reusable(self) -> bool:
        """Ready for the next request: answered in full, and the server keeps it open."""
        return self._keep_alive and not self.closed

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: Exception) -> None:
        answer = self._answer
        if answer is not None and not answer.done():
            answer.set_exception(exc)


class _Origin:
    """The connections to one scheme://host:port, at most `size` of them at once."""

    def __init__(self, url: str, size: int) -> None:
        parts = urlsplit(url)
        self.https = parts.scheme == "https"
        self.host = parts.hostname or ""
        default = 443 if self.https else 80
        self.port = parts.port or default
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 address
        authority = host if self.port == default else f"{host}:{self.port}"
        self.authority = authority.encode()
        self._ssl = ssl.create_default_context(cafile=certifi.where()) if self.https else None
        self._idle: list[_Connection] = []  # the most recently used last: still warm
        self._slots = asyncio.Semaphore(size)

    async def request(
        self, method: str, target: str, headers: bytes, body: bytes,
        timeouts: tuple[float | None, float | None, float | None],
    ) -> tuple[int, bytes]:  # fmt: skip
        """One request; *headers* are lines of `Name: value\\r\\n` (Host and Content-Length
        are added)."""
        connect_timeout, read_timeout, pool_timeout = timeouts
        if not self._slots.locked():
            await self._slots.acquire()  # at once: no timer to set
        else:
            try:
                async with asyncio.timeout(pool_timeout):
                    await self._slots.acquire()
            except TimeoutError:
                raise TimedOut(
                    "Pool timeout: every connection is in use; the request was not sent"
                ) from None
        connection: _Connection | None = None
        try:
            connection = await self._connection(connect_timeout)
            head = b"%s %s HTTP/1.1\r\nHost: %s\r\n%sContent-Length: %d\r\n\r\n" % (
                method.encode(),
                target.encode(),
                self.authority,
                headers,
                len(body),
            )
            answer = connection.send(head, body)
            try:
                async with asyncio.timeout(read_timeout):
                    status, payload = await answer
            except TimeoutError as exc:  # written: the one TimedOut caused by a TimeoutError
                raise TimedOut("no answer from the Bot API in time") from exc
            except ConnectionError as exc:
                raise NetworkError(f"{type(exc).__name__}: {exc}") from exc
            if connection.reusable():
                self._idle.append(connection)
                connection = None
            return status, payload
        finally:
            if connection is not None:
                connection.close()
            self._slots.release()

    async def _connection(self, timeout: float | None) -> _Connection:
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed:
                return connection
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout):
                _, connection = await loop.create_connection(
                    _Connection,
                    self.host,
                    self.port,
                    ssl=self._ssl,
                    server_hostname=self.host if self._ssl else None,
                )
        except TimeoutError:
            raise TimedOut("connecting to the Bot API timed out") from None
        except OSError as exc:
            raise NetworkError(f"cannot connect to the Bot API: {exc}") from exc
        return connection

    def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()


class BotAPIRequest(BaseRequest):
    """PTB's HTTP layer for the sender's Bot (see the module docstring). `on_answer` is told of
    every answer of the Bot API and 429s are counted, as `WatchedRequest` does."""

    def __init__(
        self,
        connection_pool_size: int,
        *,
        on_answer: Callable[[], None] | None = None,
        read_timeout: float = READ_TIMEOUT,
    ) -> None:
        self._size = connection_pool_size
        self._read_timeout = read_timeout
        self._on_answer = on_answer
        self._origins: dict[str, _Origin] = {}
        self._headers = b"User-Agent: %s\r\nContent-Type: application/json\r\n" % (
            self.USER_AGENT.encode()
        )
        self._uploads = HTTPXRequest(connection_pool_size=1, media_write_timeout=20.0)
        self._ready = False

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        await self._uploads.initialize()
        self._ready = True

    async def shutdown(self) -> None:
        self._ready = False
        for origin in self._origins.values():
            origin.close()
        self._origins.clear()
        await self._uploads.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        if not self._ready:
            raise RuntimeError("This BotAPIRequest is not initialized!")
        if request_data is not None and request_data.contains_files:
            status, payload = await self._uploads.do_request(
                url, method, request_data, read_timeout, write_timeout, connect_timeout,
                pool_timeout,
            )  # fmt: skip
        else:
            status, payload = await self._request(
                url, method, request_data, read_timeout, connect_timeout, pool_timeout
            )
        watch_answer(self._on_answer, status, payload)
        return status, payload

    async def _request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None,
        read_timeout: Any,
        connect_timeout: Any,
        pool_timeout: Any,
    ) -> tuple[int, bytes]:
        scheme, rest = url.split("://", 1)
        host, slash, path = rest.partition("/")
        if _UNSAFE.search(path):  # it goes in the request line as it is
            raise NetworkError(f"not a URL path the Bot API has: {path!r}")
        key = f"{scheme}://{host}"
        origin = self._origins.get(key)
        if origin is None:
            origin = self._origins[key] = _Origin(key, self._size)
        if isinstance(request_data, PreparedJSON):
            body = request_data.body
        elif request_data is not None:
            body = json.dumps(request_data.parameters, ensure_ascii=False).encode()
        else:
            body = b""
        timeouts = (
            _seconds(connect_timeout, CONNECT_TIMEOUT),
            _seconds(read_timeout, self._read_timeout),
            _seconds(pool_timeout, POOL_TIMEOUT),
        )
        return await origin.request(method, slash + path, self._headers, body, timeouts)


def _seconds(value: Any, default: float) -> float | None:
    """A timeout PTB passed, or ours when it passed its DEFAULT_NONE."""
    if isinstance(value, int | float) or value is None:
        return value
    return default
