"""What a running bot counts, for Prometheus: the registry, the metric objects, and one small
function per thing counted, which the code calls at its existing seams.

    chat      updates handled (by command) and their handler latency; errors by kind
              (`bot.chat.application`'s update processor, `bot.chat.handlers.on_error`)
    Bot API   429s and the seconds Telegram asked to wait; when it last answered
              (the request layer of `bot.chat.application`)
    deliver   every message the sender sent, by outcome (`bot.deliver.sender`); the queue's
              pending and sending rows, read from the store when scraped (`bot.app`)
    ingest    feed fetches by result, articles stored by feeds and users' links
              (`bot.ingest.pipeline`, `bot.services.links`)
    services  summary lookups: from the process's cache, from the store's, or computed
              (`bot.services.articles`)
    store     the latency of every store method, reads and writes (`bot.store.base._run`)

Nothing is recorded until `record(True)`: `newsbot run` turns recording on when `[metrics]
listen` is set, so a bot without metrics (and every other command) pays one flag test per
seam and nothing else; `bench/chat.py --metrics` measures the cost of recording against that.
Metrics are per process (several `newsbot run` processes each serve their own); the queue
gauges are the shared queue's, the same in every process.

This module and `bot.metrics.server` are the only ones that import `prometheus_client`; the
callers only see the functions below, so the metrics' names and labels live here alone.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

# The `*_created` series carry the machine's wall time, not the program's clock, and no
# dashboard of ours needs them.
disable_created_metrics()

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

# Handler latency: most answers take milliseconds; a summary computed on request or a link
# fetched takes up to seconds.
_UPDATE_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Store methods: a primary-key read is tens of microseconds on SQLite, an import batch more.
_STORE_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5)

UPDATES = Counter(
    "newsbot_updates",
    "Telegram updates handled, by command (button, message, inline_query... for the others).",
    ["command"],
    registry=REGISTRY,
)
UPDATE_SECONDS = Histogram(
    "newsbot_update_seconds",
    "Time to handle an update (store, caches, rendering, the answer), by command.",
    ["command"],
    buckets=_UPDATE_BUCKETS,
    registry=REGISTRY,
)
UPDATE_ERRORS = Counter(
    "newsbot_update_errors",
    "Updates whose handling failed: busy (store locked, user told to retry), blocked (the "
    "user blocked the bot), error (a bug, logged).",
    ["kind"],
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "newsbot_deliveries",
    "Messages the sender sent to subscribed chats (articles, digests), by outcome: sent, "
    "unconfirmed, retry, failed, gone, moved, error.",
    ["outcome"],
    registry=REGISTRY,
)
QUEUED = Gauge(
    "newsbot_deliveries_queued",
    "Deliveries in the shared queue (every process's), by status: pending, sending.",
    ["status"],
    registry=REGISTRY,
)
FLOOD_WAITS = Counter(
    "newsbot_bot_api_flood_waits",
    "429 Too Many Requests answers from the Bot API.",
    registry=REGISTRY,
)
FLOOD_WAIT_SECONDS = Counter(
    "newsbot_bot_api_flood_wait_seconds",
    "Seconds the Bot API's 429 answers asked to wait (retry_after), summed.",
    registry=REGISTRY,
)
API_ANSWERED = Gauge(
    "newsbot_bot_api_last_answer_timestamp_seconds",
    "When the Bot API last answered a request of this process (Unix time).",
    registry=REGISTRY,
)
FEED_FETCHES = Counter(
    "newsbot_feed_fetches",
    "Feed fetches, by result: ok, not_modified, failed.",
    ["result"],
    registry=REGISTRY,
)
ARTICLES = Counter(
    "newsbot_articles_ingested",
    "New articles stored, by source: feed, link (a page a user sent).",
    ["source"],
    registry=REGISTRY,
)
SUMMARIES = Counter(
    "newsbot_summary_lookups",
    "Summaries readers asked for, by where they came from: memory (this process's cache), "
    "store (the summaries table), computed (a miss of both).",
    ["result"],
    registry=REGISTRY,
)
STORE_SECONDS = Histogram(
    "newsbot_store_query_seconds",
    "Time of each store method (all its statements on one connection), reads and writes.",
    ["kind"],
    buckets=_STORE_BUCKETS,
    registry=REGISTRY,
)

# Series that exist from the start at 0, so that a rate() sees their first increase.
for _command in ("message", "button", "inline_query"):
    UPDATES.labels(_command)
for _kind in ("busy", "blocked", "error"):
    UPDATE_ERRORS.labels(_kind)
for _outcome in ("sent", "unconfirmed", "retry", "failed", "gone", "moved", "error"):
    DELIVERIES.labels(_outcome)
for _status in ("pending", "sending"):
    QUEUED.labels(_status)
for _result in ("ok", "not_modified", "failed"):
    FEED_FETCHES.labels(_result)
for _source in ("feed", "link"):
    ARTICLES.labels(_source)
for _result in ("memory", "store", "computed"):
    SUMMARIES.labels(_result)

_STORE_READ = STORE_SECONDS.labels("read")
_STORE_WRITE = STORE_SECONDS.labels("write")

_recording = False


def record(on: bool = True) -> None:
    """Start (or stop) recording. Off by default: see the module docstring."""
    global _recording
    _recording = on


def recording() -> bool:
    """Whether the functions below record anything."""
    return _recording


# The children of labelled metrics, looked up once per label value rather than per event.
_update_series: dict[str, tuple[Counter, Histogram]] = {}


def update_handled(command: str, seconds: float) -> None:
    """An update was handled (`command`: a bot command's name, or the kind of update)."""
    if not _recording:
        return
    series = _update_series.get(command)
    if series is None:
        series = _update_series[command] = (
            UPDATES.labels(command),
            UPDATE_SECONDS.labels(command),
        )
    series[0].inc()
    series[1].observe(seconds)


def update_failed(kind: str) -> None:
    """Handling an update failed: "busy", "blocked" or "error"."""
    if _recording:
        UPDATE_ERRORS.labels(kind).inc()


def store_query(write: bool, seconds: float) -> None:
    """A store method ran for `seconds`."""
    if _recording:
        (_STORE_WRITE if write else _STORE_READ).observe(seconds)


def delivery(outcome: str) -> None:
    """The sender sent a message and this is what became of it (`Outcome.kind`)."""
    if _recording:
        DELIVERIES.labels(outcome).inc()


def queued(counts: Mapping[str, int]) -> None:
    """The queue's rows by status, as the store counted them just now."""
    for status in ("pending", "sending"):
        QUEUED.labels(status).set(counts.get(status, 0))


def flood_wait(seconds: float) -> None:
    """The Bot API answered 429 and asked to wait `seconds`."""
    if _recording:
        FLOOD_WAITS.inc()
        FLOOD_WAIT_SECONDS.inc(seconds)


def api_answered(unix_time: float) -> None:
    """The Bot API answered a request at `unix_time` (the program's clock)."""
    if _recording:
        API_ANSWERED.set(unix_time)


def feed_fetched(result: str) -> None:
    """A feed was fetched: "ok", "not modified" or "failed" (the pipeline's statuses)."""
    if _recording:
        FEED_FETCHES.labels(result.replace(" ", "_")).inc()


def articles_ingested(source: str, count: int) -> None:
    """`count` new articles were stored from `source` ("feed", "link")."""
    if _recording and count:
        ARTICLES.labels(source).inc(count)


def summary_lookup(result: str) -> None:
    """A reader's summary came from "memory", the "store", or was "computed"."""
    if _recording:
        SUMMARIES.labels(result).inc()
