"""The operator's HTTP port (`[metrics] listen`): `GET /metrics` in Prometheus's text format and
`GET /healthz`, 200 or 503 with the reason.

Served by tornado (already a dependency: python-telegram-bot's webhook server) on the bot's own
event loop, not by `prometheus_client.start_http_server`'s thread: the health check and the
queue gauges are store reads, which are coroutines of that loop. A scrape that finds the store
failing still answers with every other metric (the failure is logged once per run of failures).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.web import Application, RequestHandler

from bot.metrics import REGISTRY
from bot.metrics.health import HealthReport

log = logging.getLogger(__name__)

Health = Callable[[], Awaitable[HealthReport]]
Refresh = Callable[[], Awaitable[None]]


class MetricsServer:
    """`/metrics` and `/healthz` on `host:port`, from `start()` to `stop()`.

    `health` gives the verdict of `/healthz`; `refresh` updates the gauges read from the store
    before a scrape (a failure keeps the last values)."""

    def __init__(self, host: str, port: int, *, health: Health, refresh: Refresh) -> None:
        self.host = host
        self.port = port
        self._health = health
        self._refresh = refresh
        self._server: HTTPServer | None = None
        self._refresh_failing = False

    async def start(self) -> str:
        """Listen; the base URL it answers on (the port chosen when `port` is 0)."""
        application = Application(
            [
                (r"/metrics", _MetricsHandler, {"server": self}),
                (r"/healthz", _HealthHandler, {"server": self}),
            ],
            # One access line per scrape (every 15 s) would drown the bot's own log.
            log_function=lambda handler: None,
            compress_response=True,
        )
        sockets = bind_sockets(self.port, self.host, family=socket.AF_UNSPEC)
        self._server = HTTPServer(application)
        self._server.add_sockets(sockets)
        port = sockets[0].getsockname()[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{port}"

    async def stop(self) -> None:
        """Stop listening and close the connections in progress."""
        server, self._server = self._server, None
        if server is not None:
            server.stop()
            await server.close_all_connections()

    async def metrics(self) -> bytes:
        """The registry in Prometheus's text format, its store gauges refreshed first."""
        try:
            await self._refresh()
            self._refresh_failing = False
        except Exception as exc:
            if not self._refresh_failing:
                log.warning("metrics: could not read the deliveries queue: %s", exc)
            self._refresh_failing = True
        return generate_latest(REGISTRY)

    async def health(self) -> HealthReport:
        return await self._health()


class _MetricsHandler(RequestHandler):
    def initialize(self, server: MetricsServer) -> None:
        self.server = server

    async def get(self) -> None:
        body = await self.server.metrics()
        self.set_header("Content-Type", CONTENT_TYPE_LATEST)
        self.finish(body)


class _HealthHandler(RequestHandler):
    def initialize(self, server: MetricsServer) -> None:
        self.server = server

    async def get(self) -> None:
        try:
            report = await self.server.health()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in a check must still say "unhealthy", and why
            log.exception("health check failed")
            report = HealthReport(False, (f"health check failed: {type(exc).__name__}",))
        self.set_status(200 if report.healthy else 503)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(report.text())
