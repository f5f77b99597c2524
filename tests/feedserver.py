"""A small HTTP server on 127.0.0.1 serving feed and page fixtures, good and bad.

    with FeedServer() as server:
        server.add("/rss", body, content_type="application/rss+xml", etag='"v1"')
        server.add("/slow", body, delay=5)
        server.add("/bomb", gzip_bomb(50_000_000))
        fetch(server.url("/rss"))
        server.requests_to("/rss")[-1].headers["If-None-Match"]

Each route can answer with a status, headers, a body (optionally gzip-encoded), a delay, a
redirect, an endless stream or a slow trickle; the server honours If-None-Match and
If-Modified-Since for routes with validators (304, no body) and records every request so
tests can assert what the client sent. It runs in a thread (ThreadingHTTPServer) on a random
port and never listens anywhere but loopback.
"""

from __future__ import annotations

import gzip
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


@dataclass
class Route:
    """How to answer one path."""

    body: bytes = b""
    status: int = 200
    content_type: str = "application/xml"
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None
    last_modified: str | None = None
    gzip: bool = False
    # Already gzip-compressed body: sent as is with Content-Encoding: gzip (a bomb).
    gzipped: bool = False
    delay: float = 0.0
    redirect: str | None = None
    endless: bool = False
    trickle: float | None = None  # seconds between single bytes


@dataclass(frozen=True)
class Request:
    """A request the server received."""

    path: str
    headers: dict[str, str]


def gzip_bomb(decoded_size: int) -> bytes:
    """A gzip body of zeros: about a thousandth of *decoded_size* on the wire."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    chunk = bytes(1 << 20)
    parts = []
    remaining = decoded_size
    while remaining > 0:
        piece = chunk[: min(len(chunk), remaining)]
        parts.append(compressor.compress(piece))
        remaining -= len(piece)
    parts.append(compressor.flush())
    return b"".join(parts)


class FeedServer:
    """The server; start it with `with FeedServer() as server:`."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                server._handle(self)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        """http://127.0.0.1:PORT"""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def url(self, path: str) -> str:
        """The absolute URL of *path* on this server."""
        return self.base + path

    def add(self, path: str, body: bytes | str = b"", **options: object) -> Route:
        """Serve *body* at *path*; `{base}` in a text body becomes this server's base URL."""
        if isinstance(body, str):
            body = body.replace("{base}", self.base).encode("utf-8")
        elif b"{base}" in body:
            body = body.replace(b"{base}", self.base.encode())
        route = Route(body=body, **options)  # type: ignore[arg-type]
        self.routes[path] = route
        return route

    def requests_to(self, path: str) -> list[Request]:
        """The requests received for *path*, oldest first."""
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def __enter__(self) -> FeedServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    # -- answering ---------------------------------------------------------------------------

    def _wait(self, seconds: float) -> bool:
        """Sleep, but wake up when the server stops; False if it did."""
        return not self._stopping.wait(seconds)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.requests.append(Request(handler.path, dict(handler.headers.items())))
        route = self.routes.get(handler.path)
        if route is None:
            self._send(handler, 404, b"not found", {"Content-Type": "text/plain"})
            return
        if route.delay and not self._wait(route.delay):
            return
        if route.redirect is not None:
            target = route.redirect.replace("{base}", self.base)
            self._send(handler, 302, b"", {"Location": target})
            return
        if self._not_modified(handler, route):
            headers = {}
            if route.etag:
                headers["ETag"] = route.etag
            self._send(handler, 304, b"", headers)
            return
        headers = {"Content-Type": route.content_type, **route.headers}
        if route.etag:
            headers["ETag"] = route.etag
        if route.last_modified:
            headers["Last-Modified"] = route.last_modified
        body = route.body
        if route.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        if route.gzipped:
            headers["Content-Encoding"] = "gzip"
        if route.endless:
            self._stream_forever(handler, headers)
        elif route.trickle is not None:
            self._trickle(handler, body, headers, route.trickle)
        else:
            self._send(handler, route.status, body, headers)

    @staticmethod
    def _not_modified(handler: BaseHTTPRequestHandler, route: Route) -> bool:
        etag = handler.headers.get("If-None-Match")
        since = handler.headers.get("If-Modified-Since")
        if route.etag and etag:
            return etag == route.etag
        return bool(route.last_modified and since and since == route.last_modified)

    @staticmethod
    def _send(
        handler: BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]
    ) -> None:
        try:
            handler.send_response(status)
            for name, value in headers.items():
                handler.send_header(name, value)
            if status != 304:
                handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            if status != 304:
                handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _stream_forever(self, handler: BaseHTTPRequestHandler, headers: dict[str, str]) -> None:
        chunk = b"<item>" + b"x" * 65_536 + b"</item>\n"
        try:
            handler.send_response(200)
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("Transfer-Encoding", "chunked")
            handler.end_headers()
            sent = 0
            piece = b"<?xml version='1.0'?><rss><channel>"
            # Bounded anyway, so a client that never stops reading cannot keep a thread busy.
            while not self._stopping.is_set() and sent < 1 << 30:
                handler.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                sent += len(piece)
                piece = chunk
        except (BrokenPipeError, ConnectionResetError):
            pass
        handler.close_connection = True

    def _trickle(
        self, handler: BaseHTTPRequestHandler, body: bytes, headers: dict[str, str], pause: float
    ) -> None:
        try:
            handler.send_response(200)
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            for i in range(len(body)):
                if not self._wait(pause):
                    break
                handler.wfile.write(body[i : i + 1])
                handler.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        handler.close_connection = True
