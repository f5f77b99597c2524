"""Composition root: the one place that knows both the Telegram side and the rest.

`create_application(config)` builds the PTB Application (`bot.chat`), registers the handlers
and the periodic jobs, and ties the services' lifetime to the application's: `post_init` opens
the store (migrating its schema), creates the services and starts the sender of
subscriptions (`bot.deliver`, through the Telegram outbox of `bot.chat.outbox`);
`post_shutdown` stops the sender, then closes the store. Handlers reach the services through
`context.services` (`bot.chat.context.NewsContext`), typed, never by casting entries of
`bot_data`.

With `[metrics] listen` set, `post_init` also starts the operator's HTTP port
(`bot.metrics.server`: `/metrics`, `/healthz`) and turns recording on; the health check's facts
(the store answers, the sender runs, the Bot API answered lately) are gathered here, the one
place that holds all three.

Periodic work (feed ingestion, the daily retention prune) joins as a `PeriodicJob` of
`default_jobs(config)`: it receives the `Runtime` (store, summaries, config) and never sees
Telegram. The sender is not a periodic
job but a loop of its own: it polls the queue every `delivery.poll_seconds` (deliveries queued
by another process) and wakes at once when this process's ingestion queued some.

A process has a role (`ROLES`): `all` takes updates, ingests and sends; `chat` only takes
updates, `ingest` only ingests, `send` only sends. On PostgreSQL several processes act as one
bot: each records itself in the store (`processes`, for the start line), the senders share the
overall rate (`bot.deliver.limiter.SharedSlots`) and are woken by LISTEN/NOTIFY when any
process queues deliveries, and in polling mode one process at a time holds the "updates" lease
and calls getUpdates (`bot.chat.application.serve`). On SQLite (one process) none of that runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import DBAPIError

from bot import metrics
from bot.chat.application import (
    DEFAULT_CONCURRENCY,
    Request,
    build_application,
    schedule,
)
from bot.chat.context import NewsApplication, Services, Updates
from bot.chat.handlers import publish_commands, register
from bot.chat.outbox import TelegramOutbox, open_outbox, paid_broadcast
from bot.clock import Clock
from bot.config import ROLES, Config
from bot.deliver.limiter import SendLimiter, SharedSlots
from bot.deliver.rules import PushRules
from bot.deliver.sender import Sender
from bot.errors import ConfigError
from bot.ingest.fetch import Fetcher
from bot.ingest.guard import Resolver
from bot.ingest.pipeline import IngestPipeline
from bot.ingest.safefetch import SafeFetcher
from bot.metrics.health import API_PROBE_AFTER_SECONDS, ApiWatch, HealthReport, check
from bot.metrics.server import MetricsServer
from bot.services.admin import AdminService
from bot.services.articles import ArticleService
from bot.services.chats import ChatService
from bot.services.feeds import FeedService
from bot.services.links import LinkService
from bot.services.publishing import FormatService
from bot.services.retention import describe as describe_prune
from bot.services.retention import prune
from bot.services.sharing import SharingService
from bot.services.subscriptions import SubscriptionService
from bot.services.summaries import SummaryService
from bot.store import PruneResult, SqlStore, lease_owner, open_store, redact
from bot.store.cluster import DeliveryListener, ProcessSeen

log = logging.getLogger(__name__)

# A process not seen for this long is taken for dead (it records itself every HEARTBEAT).
ALIVE_SECONDS = 30.0
HEARTBEAT_SECONDS = 10.0
# How long the "updates" lease lasts unless renewed (a third of it): a killed poller's
# successor takes over the updates within that.
UPDATES_LEASE_SECONDS = 10.0


def takes_updates(role: str) -> bool:
    return role in ("all", "chat")


def ingests(role: str) -> bool:
    return role in ("all", "ingest")


def sends(role: str) -> bool:
    return role in ("all", "send")


# How long the health check waits for the store (and for the Bot API's getMe) before it says
# that one does not answer.
HEALTH_STORE_SECONDS = 5.0


class Runtime:
    """The long-lived resources of a running bot, opened in post_init, closed in post_shutdown."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock,
        resolver: Resolver | None = None,
        role: str = "all",
    ) -> None:
        self.config = config
        self.clock = clock
        self.role = role
        # This process, as the store's processes table and leases know it.
        self.worker = lease_owner()
        self.seen: list[ProcessSeen] = []
        self._presence: asyncio.Task[None] | None = None
        self._listener: DeliveryListener | None = None
        # DNS for the guarded requests (links users send, pages off a feed's own host); tests
        # answer names themselves (see Fetcher).
        self.resolver = resolver
        self._fetcher: Fetcher | None = None
        self._store: SqlStore | None = None
        self._ingest: IngestPipeline | None = None
        self.sender: Sender | None = None
        self._outbox: TelegramOutbox | None = None
        # When the Bot API last answered (told by the request layers when [metrics] is on).
        self.api_watch = ApiWatch(clock.monotonic, lambda: clock.now().timestamp())
        self._metrics: MetricsServer | None = None
        self.metrics_url: str | None = None
        # Asks the Bot API something (getMe), for a health check that has not heard from it
        # lately: set in post_init to the application's bot.
        self.api_probe: Callable[[], Awaitable[object]] | None = None
        self._probed_at: float | None = None
        self.feeds: FeedService | None = None

    @property
    def watch_api(self) -> Callable[[], None] | None:
        """What the Bot API's request layers tell of each answer: only with metrics on."""
        return self.api_watch.answered if self.config.metrics.address else None

    @property
    def store(self) -> SqlStore:
        """The open store; RuntimeError before `open()` (a job scheduled too early)."""
        if self._store is None:
            raise RuntimeError("the store is not open yet")
        return self._store

    @property
    def fetcher(self) -> Fetcher:
        """The one HTTP fetcher (feeds, pages, users' links), built when first asked for."""
        if self._fetcher is None:
            self._fetcher = Fetcher.from_config(
                self.config, clock=self.clock, resolver=self.resolver
            )
        return self._fetcher

    @property
    def ingest(self) -> IngestPipeline:
        """The feed ingestion pipeline over the open store (it uses the shared fetcher and owns
        a worker thread), built when first asked for: the shell, with no ingest job, never
        does."""
        if self._ingest is None:
            self._ingest = IngestPipeline(
                self.store, self.config, clock=self.clock, fetcher=self.fetcher
            )
        return self._ingest

    async def open(self) -> Services:
        """Open (and migrate) the store and build the services the handlers use."""
        clock = self.clock
        self._store = await open_store(
            self.config.store.url,
            clock=clock,
            rules=PushRules.from_config(self.config.delivery),
        )
        articles = ArticleService(
            self._store, SummaryService(self._store, self.config.summary), clock=clock
        )
        links = self.config.links
        fetcher = SafeFetcher(links, fetcher=self.fetcher)
        # Behind a webhook, several processes on one PostgreSQL take a chat's updates in turn:
        # its preferences are read from the store each time, never from a copy another
        # process's write has made stale.
        several = (
            self._store.dialect == "postgresql"
            and self.config.telegram.webhook is not None
            and takes_updates(self.role)
        )
        chats = ChatService(
            self._store, self.config.summary, clock=self.clock, cache_ttl=0 if several else 30.0
        )
        self.feeds = FeedService(
            self._store, self.config, clock=clock, pipeline=lambda: self.ingest
        )
        return Services(
            articles=articles,
            chats=chats,
            subscriptions=SubscriptionService(self._store, articles, chats, self.config.delivery),
            admin=AdminService(self._store, self.config.telegram.admins),
            publishing=FormatService(self._store, chats),
            feeds=self.feeds,
            links=LinkService(self._store, links, fetcher, clock=clock),
            sharing=SharingService(
                articles,
                clock=clock,
                algorithm=self.config.summary.algorithm,
                sentences=self.config.summary.sentences,
                ttl=links.inline_cache_seconds,
            ),
        )

    @property
    def clustered(self) -> bool:
        """Whether processes coordinate through the store (PostgreSQL; SQLite runs one)."""
        return self.store.dialect == "postgresql"

    async def start_sender(self, services: Services) -> Sender:
        """Start draining the deliveries queue into Telegram, on a Bot of the sender's own;
        on PostgreSQL within the rate all processes share, woken by any process's queueing."""
        assert services.subscriptions is not None
        self._outbox = await open_outbox(
            self.config.telegram,
            services.articles,
            services.chats,
            services.subscriptions,
            on_answer=self.watch_api,
            paid_broadcast=paid_broadcast(self.config.delivery.messages_per_second),
        )
        delivery = self.config.delivery
        limiter = None
        if self.clustered:
            limiter = SendLimiter(
                delivery.messages_per_second,
                private_interval=1.0 / delivery.private_chat_per_second,
                group_interval=60.0 / delivery.group_per_minute,
                clock=self.clock.monotonic,
                shared=SharedSlots(self.store, delivery.messages_per_second, clock=self.clock),
            )
        self.sender = Sender(self.store, self._outbox, delivery, clock=self.clock, limiter=limiter)
        self.sender.start()
        self._listener = await self.store.listen_deliveries(
            self.sender.wake, retry=delivery.poll_seconds
        )
        return self.sender

    async def tell_feed_alerts(self) -> int:
        """Tell the bot's admins of the feeds disabled after repeated failures and of those
        working again, once each (`FeedService.alerts`); how many alerts. Nothing while no
        sender (hence no outbox) runs, or when the config names no admin."""
        admins = self.config.telegram.admins
        if self.feeds is None or self._outbox is None or not admins:
            return 0
        alerts = await self.feeds.alerts()
        if alerts:
            await self._outbox.tell_admins(admins, alerts)
        return len(alerts)

    async def stop_sender(self) -> None:
        """Stop the sender: messages in flight finish, what it claimed goes back to the queue."""
        sender, self.sender = self.sender, None
        outbox, self._outbox = self._outbox, None
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.close()
        if sender is not None:
            await sender.stop()
            shared = sender.limiter.shared
            if shared is not None:
                log.info(
                    "shared send rate: %d slots given up (woken too late), %d taken unused "
                    "for late answers (%d of them too late)",
                    shared.given_up,
                    shared.late_paid,
                    shared.paid_too_late,
                )
        if outbox is not None:
            await outbox.close()

    # -- several processes -------------------------------------------------------------------

    async def join(self) -> str:
        """Record this process in the store (PostgreSQL: and keep doing so while it runs);
        the start line: role, store URL without password, processes seen, rate share."""
        if self.clustered:
            started = self.clock.now()
            self.seen = await self.store.see_process(
                self.worker, self.role, started, alive_seconds=ALIVE_SECONDS
            )
            self._presence = asyncio.create_task(self._keep_seen(started), name="newsbot-seen")
        return start_line(self.role, self.config, self.seen, clustered=self.clustered)

    async def _keep_seen(self, started: datetime) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            try:
                self.seen = await self.store.see_process(
                    self.worker, self.role, started, alive_seconds=ALIVE_SECONDS
                )
            except Exception as exc:
                log.warning("cannot record this process in the store: %s", exc)

    async def take_updates(self) -> bool:
        """Take or renew the "updates" lease: whether this process may call getUpdates."""
        return await self.store.take_lease("updates", self.worker, UPDATES_LEASE_SECONDS)

    async def release_updates(self) -> None:
        """Give the "updates" lease up (stopping), so another process takes over at once."""
        if self._store is None or not self.clustered:
            return
        with contextlib.suppress(Exception):
            await self.store.release_lease("updates", self.worker)

    async def leave(self) -> None:
        """Stop recording this process; the others stop counting it at once."""
        presence, self._presence = self._presence, None
        if presence is None:
            return
        presence.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await presence
        with contextlib.suppress(Exception):
            await self.store.forget_process(self.worker)

    async def start_metrics(self, *, sender: bool) -> str | None:
        """Serve `/metrics` and `/healthz` when `[metrics] listen` says where, and record the
        metrics from now on; the base URL, None when off. `sender`: this process runs one,
        so the health check requires it alive."""
        address = self.config.metrics.address
        if address is None:
            return None
        server = MetricsServer(
            *address,
            health=lambda: self.health(sender=sender),
            refresh=self._count_queue,
        )
        try:
            self.metrics_url = await server.start()
        except OSError as exc:  # taken, or not an address of this machine: the setting's fault
            raise ConfigError(
                f"metrics.listen: cannot listen on {self.config.metrics.listen}: "
                f"{exc.strerror or exc}"
            ) from None
        self._metrics = server
        metrics.record(True)
        log.info("metrics on %s/metrics, health on %s/healthz", *[self.metrics_url] * 2)
        return self.metrics_url

    async def stop_metrics(self) -> None:
        server, self._metrics = self._metrics, None
        if server is not None:
            metrics.record(False)
            await server.stop()

    async def _count_queue(self) -> None:
        metrics.queued(await self.store.queued_deliveries())

    async def health(self, *, sender: bool) -> HealthReport:
        """`/healthz`: the store answers (the queue gauges' read, within
        HEALTH_STORE_SECONDS), the sender runs (if this process has one), the Bot API answered
        in the last five minutes (`bot.metrics.health`)."""
        start = self.clock.monotonic()
        error = None
        try:
            await asyncio.wait_for(self._count_queue(), HEALTH_STORE_SECONDS)
        except TimeoutError:
            error = f"no answer in {HEALTH_STORE_SECONDS:g} s"
        except Exception as exc:  # whatever it is, the store did not answer: say what
            reason = exc.orig if isinstance(exc, DBAPIError) else exc
            error = f"{type(reason).__name__}: {str(reason).strip().splitlines()[0][:200]}"
        store_seconds = self.clock.monotonic() - start
        return check(
            store_error=error,
            store_seconds=store_seconds,
            sender_alive=(self.sender is not None and self.sender.alive) if sender else None,
            api_silence=await self._api_silence(),
        )

    async def _api_silence(self) -> float | None:
        """Seconds since the Bot API last answered. A process that has not heard from it for
        a minute (a webhook bot with nothing to send, a process that neither polls nor sends)
        asks it once (getMe, at most once a minute), so that the silence means Telegram is
        unreachable, not that the bot was idle."""
        silence = self.api_watch.silence()
        now = self.clock.monotonic()
        quiet = silence is None or silence > API_PROBE_AFTER_SECONDS
        due = self._probed_at is None or now - self._probed_at > API_PROBE_AFTER_SECONDS
        if self.api_probe is not None and quiet and due:
            self._probed_at = now
            try:  # an answer, even a refusal, reaches the watch through the request layer
                await asyncio.wait_for(self.api_probe(), HEALTH_STORE_SECONDS)
            except Exception as exc:  # the reason is the silence the check reports
                log.info("health: the Bot API did not answer getMe: %s", exc)
            silence = self.api_watch.silence()
        return silence

    async def close(self) -> None:
        """Stop the metrics port and the sender (what it claimed goes back to the queue) and
        close the store if it was opened; safe to call twice."""
        await self.stop_metrics()
        await self.stop_sender()
        if self._store is not None:
            await self.leave()
        store, self._store = self._store, None
        ingest, self._ingest = self._ingest, None
        if ingest is not None:
            await ingest.aclose()
        fetcher, self._fetcher = self._fetcher, None
        if fetcher is not None:
            await fetcher.aclose()
        if store is not None:
            await store.close()


def start_line(role: str, config: Config, seen: Sequence[ProcessSeen], *, clustered: bool) -> str:
    """What a process says at start: its role, the store (URL without password), the
    processes seen on it and this one's share of the overall send rate."""
    rate = config.delivery.messages_per_second
    parts = [f"role {role}", f"store {redact(config.store.url)}"]
    if not clustered:
        parts.append("processes seen: this one (SQLite: one process)")
        share = f"{rate:g} messages/s, all of it" if sends(role) else "none (sends nothing)"
    else:
        roles = ", ".join(f"{n} {r}" for r in ROLES if (n := sum(1 for p in seen if p.role == r)))
        parts.append(f"processes seen: {len(seen)} ({roles})")
        senders = max(1, sum(1 for p in seen if sends(p.role)))
        if not sends(role):
            share = "none (sends nothing)"
        elif senders == 1:
            share = f"{rate:g} messages/s, all of it (shared through the store)"
        else:
            share = (
                f"{rate:g} messages/s shared by {senders} senders through the store: "
                f"{rate / senders:.3g}/s each while all send, more while others idle"
            )
    parts.append(f"rate share: {share}")
    return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class PeriodicJob:
    """Work run every `interval` while the bot runs, independent of Telegram."""

    name: str
    interval: timedelta
    run: Callable[[Runtime], Awaitable[object]]
    first: timedelta = timedelta(seconds=0)


async def _ingest_due(runtime: Runtime) -> object:
    report = await runtime.ingest.run()
    if report.new and runtime.sender is not None:
        runtime.sender.wake()  # queued in this process: no need to wait for the next poll
    try:  # including what another process's ingest (`newsbot ingest`) changed
        await runtime.tell_feed_alerts()
    except Exception:
        log.exception("telling the admins of feed changes failed; tried again next tick")
    return report


async def _prune(runtime: Runtime) -> PruneResult:
    result = await prune(runtime.store, runtime.config.store, runtime.clock)
    log.info("retention: %s", describe_prune(result))
    return result


# The retention job runs once a day, the first time a few minutes after start (not at once:
# a bot restarted in a loop would otherwise prune at every start, before serving anyone).
PRUNE_INTERVAL = timedelta(days=1)
PRUNE_FIRST = timedelta(minutes=3)


async def _tell_feed_alerts(runtime: Runtime) -> object:
    return await runtime.tell_feed_alerts()


def default_jobs(config: Config, role: str = "all") -> tuple[PeriodicJob, ...]:
    """The jobs `newsbot run` schedules. Ingestion ticks every `ingest.tick_seconds` (a minute
    by default) and asks the store which feeds are due: intervals, back-off and Retry-After
    live there, survive restarts and cover feeds added while the bot runs; a tick that finds
    the previous run still going skips. Retention (`[store] keep_*_days`) runs daily, in the
    processes that ingest. A process that sends but does not ingest (`--role send`) tells the
    admins of the feed changes the ingesting processes recorded, at the same tick (each alert
    goes out once, whichever process takes it)."""
    tick = timedelta(seconds=config.ingest.tick_seconds)
    first = min(tick, timedelta(seconds=5))
    if ingests(role):
        return (
            PeriodicJob("ingest", tick, _ingest_due, first=first),
            PeriodicJob("prune", PRUNE_INTERVAL, _prune, first=PRUNE_FIRST),
        )
    if sends(role):
        return (PeriodicJob("feed-alerts", tick, _tell_feed_alerts, first=first),)
    return ()


def create_application(
    config: Config,
    *,
    clock: Clock,
    request: Request | None = None,
    rate_limit: bool = True,
    updater: bool = True,
    jobs: Sequence[PeriodicJob] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    resolver: Resolver | None = None,
    deliver: bool = True,
    role: str = "all",
    announce: Callable[[str], None] | None = None,
) -> NewsApplication:
    """The bot, ready for `bot.chat.application.serve` (or the shell).

    `request` replaces the HTTP layer (the shell answers locally); `rate_limit` respects
    Telegram's flood limits and is for real Telegram only; `updater` is needed to poll or
    receive webhooks; `resolver` replaces DNS for the links users send (tests); `deliver` runs
    the sender of subscriptions (not in the shell, whose screen is no chat of the store's);
    `jobs` replaces `default_jobs(config)`. `clock` is the program's one clock, handed to the
    store, the services, ingest and sender. `role` (one of `ROLES`) says what this process
    does; `announce`, when given, records the process in the store and is told the start line
    (`start_line`).
    """
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}")
    runtime = Runtime(config, clock=clock, resolver=resolver, role=role)
    deliver = deliver and sends(role)
    if jobs is None:
        jobs = default_jobs(config, role)

    async def lease() -> bool:
        # On SQLite the one process polls, as it always did.
        return await runtime.take_updates() if runtime.clustered else True

    async def post_init(application: NewsApplication) -> None:
        services = await runtime.open()
        application.bot_data.services = services
        application.bot_data.updates = Updates(
            take=takes_updates(role),
            lease=lease,
            release=runtime.release_updates,
            renew_seconds=UPDATES_LEASE_SECONDS / 3,
        )
        if takes_updates(role):
            await publish_commands(application, config.telegram.admins)
        if deliver:
            await runtime.start_sender(services)
        if updater:  # not the shell: it talks to no Telegram, and the bot beside it has the port
            runtime.api_probe = application.bot.get_me
            await runtime.start_metrics(sender=deliver)
        if announce is not None:
            announce(await runtime.join())

    async def post_stop(application: NewsApplication) -> None:
        await runtime.stop_sender()  # while the bot can still send

    async def post_shutdown(application: NewsApplication) -> None:
        application.bot_data.services = None
        await runtime.close()

    application = build_application(
        config.telegram,
        post_init=post_init,
        post_shutdown=post_shutdown,
        post_stop=post_stop,
        request=request,
        rate_limit=rate_limit,
        updater=updater,
        concurrency=concurrency,
        max_rate=config.delivery.messages_per_second,
        group_per_minute=config.delivery.group_per_minute,
        timer=clock.monotonic,
        on_answer=runtime.watch_api,
    )
    register(application)
    for job in jobs:
        schedule(application, job.name, job.interval, _bind(job, runtime), job.first)
    return application


def _bind(job: PeriodicJob, runtime: Runtime) -> Callable[[], Awaitable[object]]:
    def run() -> Awaitable[object]:
        return job.run(runtime)

    return run
