"""Building the PTB Application and running it, inside an event loop someone else owns.

`serve()` is what `Application.run_polling()` / `run_webhook()` do, as a coroutine: the CLI runs
every command under `asyncio.run`, and tests run the bot next to a fake Bot API in their own
loop. The order of the steps is PTB's: initialize and post_init; start fetching updates; start
processing; on stop, stop fetching, then let the updates already fetched finish (`stop()` waits
for them); shutdown and post_shutdown. So a signal never cuts a handler in the middle of an
answer, and each store write being one transaction, nothing is left half-written.

Updates of different chats are processed concurrently (one reader's summary does not wait for
another's), updates of the same chat in order (`PerChatUpdateProcessor`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, TelegramError
from telegram.ext import AIORateLimiter, ApplicationBuilder, BaseUpdateProcessor, ExtBot, JobQueue
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from bot import metrics
from bot.chat.context import CONTEXT_TYPES, BotData, NewsApplication, NewsContext, Updates
from bot.chat.handlers import UPDATE_TYPES, update_command
from bot.config import TelegramConfig, WebhookConfig
from bot.errors import ConfigError, NewsbotError
from bot.services import impatient

log = logging.getLogger(__name__)

# The updates the bot handles; others are not even fetched.
# What the bot asks Telegram for: the update types its handlers handle.
ALLOWED_UPDATES = UPDATE_TYPES
# Updates processed at once, across chats. A handler mostly waits for Telegram: with a 50 ms
# round trip, two in flight answer ~30 updates/s, about what Telegram lets a bot send, while
# more in a burst only make each handler wait for the others' CPU (bench/chat.py). A bot far
# from Telegram's servers can raise it with `newsbot run --concurrency`.
DEFAULT_CONCURRENCY = 2
# How long a chat's write waits for the store's write lock held by another process (an import,
# a second bot) before the user is told the bot is busy; batch work waits longer.
CHAT_BUSY_SECONDS = 2.0
# A token-shaped placeholder for an application that never talks to Telegram (the shell).
OFFLINE_TOKEN = "0:offline"

Lifecycle = Callable[[NewsApplication], Coroutine[Any, Any, None]]
# The HTTP layer an application talks to the Bot API through, named here so that code outside
# `bot.chat` can pass one along without importing Telegram.
Request = BaseRequest


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Run updates of different chats concurrently and updates of one chat in arrival order.

    A reader who presses "More" twice, or changes a setting and then asks for a summary, must
    see the effects in order; PTB's concurrent mode alone does not promise that. An update first
    waits for the previous ones of its chat, and only then for one of the `concurrency` slots:
    PTB's own semaphore is taken before `do_process_update` runs, so with it as the limit a chat
    sending many updates at once would fill every slot with updates waiting for each other and
    stall all other chats. PTB's semaphore is therefore only a bound on updates held in memory.
    Chat locks are created on demand and dropped with the last update that holds them.
    """

    def __init__(
        self,
        concurrency: int,
        max_pending: int = 256,
        *,
        timer: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(max(max_pending, concurrency))
        self.concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)
        self._locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        # The program's monotonic clock, for the handler latency metric (none: not measured).
        self._timer = timer

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Await `coroutine` once the previous updates of the same chat are done and a slot
        is free."""
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            async with self._slots:
                await self._handle(update, coroutine)
            return
        lock = self._locks.get(chat.id)
        if lock is None:
            lock = self._locks[chat.id] = asyncio.Lock()
        async with lock, self._slots:
            await self._handle(update, coroutine)

    async def _handle(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Handle an update: a store write waits at most CHAT_BUSY_SECONDS for a write lock
        another process holds, then the user is told the bot is busy (`StoreBusy`). Counted
        by command, with the time it took, when metrics are recorded (from the time a slot is
        free: waiting for the chat's previous updates is not the handler's latency)."""
        with impatient(CHAT_BUSY_SECONDS):
            timer = self._timer
            if timer is None or not metrics.recording():
                await coroutine
                return
            start = timer()
            try:
                await coroutine
            finally:
                metrics.update_handled(update_command(update), timer() - start)

    async def initialize(self) -> None:
        """Nothing to allocate: locks are created per chat as updates arrive."""

    async def shutdown(self) -> None:
        """Nothing to release: the locks go with the updates that hold them."""


_RETRY_AFTER = re.compile(rb'"retry_after"\s*:\s*(\d{1,9}(?:\.\d{1,9})?)')


class WatchedRequest(HTTPXRequest):
    """PTB's HTTP layer, telling `on_answer` of every answer of the Bot API (a status below 500:
    a refusal is still an answer; a 5xx is a proxy or an outage) and counting its 429s with
    the time they ask to wait (`bot.metrics`), for `/healthz` and `/metrics`."""

    def __init__(self, on_answer: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_answer = on_answer

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
        code, payload = await super().do_request(
            url,
            method,
            request_data,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
        )
        watch_answer(self._on_answer, code, payload)
        return code, payload


def watch_answer(on_answer: Callable[[], None] | None, code: int, payload: bytes) -> None:
    """Tell `on_answer` of an answer of the Bot API (a status below 500: a refusal is still an
    answer; a 5xx is a proxy or an outage), and count a 429 with the time it asks to wait."""
    if code < 500 and on_answer is not None:
        on_answer()
    if code == 429:
        metrics.flood_wait(_retry_after(payload))


def _retry_after(payload: bytes) -> float:
    """The `retry_after` of a 429's body, 0 when it has none (read with a pattern: PTB decodes
    the body again to raise its RetryAfter, and a body that is not JSON is its to report)."""
    found = _RETRY_AFTER.search(payload)
    return float(found[1]) if found else 0.0


def file_url(api_base_url: str) -> str:
    """The Bot API's file URL next to its method URL: ".../bot" -> ".../file/bot"."""
    base = api_base_url.rstrip("/")
    if base.endswith("/bot"):
        return base[: -len("/bot")] + "/file/bot"
    return base + "/file"


def build_application(
    telegram: TelegramConfig,
    *,
    post_init: Lifecycle,
    post_shutdown: Lifecycle,
    post_stop: Lifecycle | None = None,
    request: Request | None = None,
    rate_limit: bool = True,
    updater: bool = True,
    concurrency: int = DEFAULT_CONCURRENCY,
    max_rate: float = 30.0,
    group_per_minute: int = 20,
    timer: Callable[[], float] | None = None,
    on_answer: Callable[[], None] | None = None,
) -> NewsApplication:
    """A PTB Application for `telegram`'s token and API URL, with no handlers yet.

    `request` replaces the HTTP layer (the shell's local one); `rate_limit` keeps the bot under
    Telegram's flood limits (off where there is no Telegram to protect: shell, tests, benches);
    without `updater` the application only processes updates it is handed. `max_rate` (messages
    per second) and `group_per_minute` are the limits the rate limiter keeps. `timer` (the
    program's monotonic clock) times the handlers for the metrics; `on_answer` is told of every
    answer of the Bot API (`WatchedRequest`, for the health check).
    """
    builder: ApplicationBuilder[
        ExtBot[Any], NewsContext, dict[Any, Any], dict[Any, Any], BotData, JobQueue[Any]
    ] = (
        ApplicationBuilder()
        .token(telegram.token or OFFLINE_TOKEN)
        .base_url(telegram.api_base_url)
        .base_file_url(file_url(telegram.api_base_url))
        .context_types(CONTEXT_TYPES)
        .concurrent_updates(PerChatUpdateProcessor(concurrency, timer=timer))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
    )
    if post_stop is not None:
        builder = builder.post_stop(post_stop)
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    elif on_answer is not None:  # PTB's own pool sizes: 256 connections, 1 for getUpdates
        builder = builder.request(WatchedRequest(on_answer, connection_pool_size=256))
        builder = builder.get_updates_request(WatchedRequest(on_answer, connection_pool_size=1))
    if rate_limit:
        builder = builder.rate_limiter(
            AIORateLimiter(
                overall_max_rate=max_rate, group_max_rate=group_per_minute, max_retries=3
            )
        )
    if not updater:
        builder = builder.updater(None)
    return builder.build()


@asynccontextmanager
async def running(application: NewsApplication) -> AsyncIterator[NewsApplication]:
    """Initialize the application and run post_init; on exit, post_stop (while the bot can
    still send: the sender finishes its messages in flight), shutdown and post_shutdown.

    Also on failure: a post_init that opened the store and then failed still gets it closed.
    """
    await application.initialize()
    try:
        if application.post_init:
            await application.post_init(application)
        yield application
    finally:
        try:
            if application.post_stop:
                await application.post_stop(application)
            await application.shutdown()
        finally:
            if application.post_shutdown:
                await application.post_shutdown(application)


async def serve(
    application: NewsApplication,
    stop: asyncio.Event,
    *,
    webhook: WebhookConfig | None = None,
    poll_timeout: float = 30.0,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Receive and handle updates (long polling, or webhook when configured) until `stop` is
    set, then shut down gracefully. `ready` is told how the bot listens once it does.

    Raises ConfigError when the Bot API refuses the token, NewsbotError when it cannot be
    reached: Telegram's own exceptions do not leave the chat package.
    """
    try:
        await _serve(application, stop, webhook, poll_timeout, ready)
    except InvalidToken:
        # PTB's message quotes the token: say what it means instead. Telegram answers 401 to a
        # revoked token; a proxy or a self-hosted Bot API answers 404 to a path it lacks.
        raise ConfigError(
            f"telegram.token: refused by the Bot API at {_api_base(application)} "
            "(a revoked token, or telegram.api_base_url is not a Bot API)"
        ) from None
    except NetworkError as exc:
        where = _api_base(application)
        raise NewsbotError(f"cannot reach the Bot API at {where}: {exc.message}") from None


def _api_base(application: NewsApplication) -> str:
    """The Bot API's base URL as configured: the bot's own ends with the token, never shown."""
    return application.bot.base_url.removesuffix(application.bot.token)


async def _serve(
    application: NewsApplication,
    stop: asyncio.Event,
    webhook: WebhookConfig | None,
    poll_timeout: float,
    ready: Callable[[str], None] | None,
) -> None:
    async with running(application):
        updater = application.updater
        if updater is None:
            raise RuntimeError("serve() needs an application built with an updater")
        updates = application.bot_data.updates
        if not updates.take:
            await application.start()
            if ready is not None:
                ready(f"@{application.bot.username} takes no updates (its role)")
            try:
                await stop.wait()
            finally:
                await application.stop()
            return
        if webhook is None and updates.lease is not None:
            await _serve_polling_by_lease(application, stop, updates, poll_timeout, ready)
            return
        if webhook is not None:
            await updater.start_webhook(
                listen=webhook.listen,
                port=webhook.port,
                url_path=urlsplit(webhook.url).path.lstrip("/"),
                webhook_url=webhook.url,
                secret_token=webhook.secret_token or None,
                allowed_updates=ALLOWED_UPDATES,
            )
            how = f"webhook on {webhook.listen}:{webhook.port} for {webhook.url}"
        else:
            await updater.start_polling(
                timeout=timedelta(seconds=poll_timeout),
                allowed_updates=ALLOWED_UPDATES,
                error_callback=_PollingErrors(),
            )
            how = "long polling"
        try:
            await application.start()
            if ready is not None:
                ready(f"@{application.bot.username} is receiving updates by {how}")
            try:
                await stop.wait()
            finally:
                log.info("stopping: finishing the updates in flight")
                await updater.stop()
                await application.stop()
        finally:
            if updater.running:
                await updater.stop()


class _PollingErrors:
    """PTB's error callback for getUpdates: a 409 Conflict (another process polls with this
    token, or a webhook is set) is said once, not once per retry, and PTB goes on retrying
    with back-off, so this process takes the updates as soon as the other one stops. Other
    errors are logged as PTB does."""

    def __init__(self) -> None:
        self.conflicts = 0

    def __call__(self, exc: TelegramError) -> None:
        if isinstance(exc, Conflict):
            self.conflicts += 1
            if self.conflicts == 1:
                log.warning(
                    "getUpdates: 409 Conflict (%s): another process takes this bot's updates; "
                    "this one goes on with its other work and retries, taking the updates "
                    "when the other stops (said once)",
                    exc.message,
                )
            return
        log.error("polling for updates failed: %s", exc, exc_info=exc)


async def _serve_polling_by_lease(
    application: NewsApplication,
    stop: asyncio.Event,
    updates: Updates,
    poll_timeout: float,
    ready: Callable[[str], None] | None,
) -> None:
    """Long polling by whichever process holds the "updates" lease: Telegram lets one
    consumer call getUpdates per token. This process polls while it holds the lease (renewed
    every `renew_seconds`), waits while another does (said once in the log), and takes over
    when that one stops or dies (its lease then runs out)."""
    updater = application.updater
    assert updater is not None and updates.lease is not None
    errors = _PollingErrors()
    username = application.bot.username
    await application.start()
    said_standby = False
    try:
        while not stop.is_set():
            try:
                held = await updates.lease()
            except Exception as exc:  # the store is down: keep doing what we did
                log.warning("cannot take or renew the updates lease: %s", exc)
                held = updater.running
            if held and not updater.running:
                await updater.start_polling(
                    timeout=timedelta(seconds=poll_timeout),
                    allowed_updates=ALLOWED_UPDATES,
                    error_callback=errors,
                )
                if said_standby:
                    log.warning("this process takes the updates now (the other one stopped)")
                if ready is not None:
                    ready(f"@{username} is receiving updates by long polling")
                    ready = None
            elif not held and updater.running:
                log.warning("another process took the updates lease; this one stops polling")
                await updater.stop()
            if not held and not said_standby:
                said_standby = True
                log.warning(
                    "another process takes this bot's updates (long polling allows one); this "
                    "one goes on with its other work and takes the updates when that one stops"
                )
                if ready is not None:
                    ready(f"@{username} waits for the updates another process takes")
                    ready = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), updates.renew_seconds)
    finally:
        log.info("stopping: finishing the updates in flight")
        if updater.running:
            await updater.stop()
        await application.stop()
        if updates.release is not None:
            await updates.release()


def schedule(
    application: NewsApplication,
    name: str,
    interval: timedelta,
    run: Callable[[], Awaitable[object]],
    first: timedelta = timedelta(0),
) -> None:
    """Run `run()` every `interval` while the application runs (PTB's JobQueue); a failure is
    logged by the error handler and the job runs again at the next interval."""
    job_queue = application.job_queue
    if job_queue is None:
        raise RuntimeError("the JobQueue is missing: install python-telegram-bot[job-queue]")

    async def callback(context: NewsContext) -> None:
        await run()

    job_queue.run_repeating(callback, interval=interval, first=first, name=name)
