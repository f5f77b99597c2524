"""Typed, frozen configuration, loaded once at start and validated in full.

Sources, first found wins: `--config FILE`, `$NEWSBOT_CONFIG`, `./config.toml`, built-in defaults
(so `newsbot` works with no file at all, on the embedded SQLite store). Then the environment
overrides `NEWSBOT_TOKEN` and `NEWSBOT_DATABASE_URL` apply.

Validation is by hand over the dataclasses' type hints rather than with a schema library: the
schema is small, and what we need is exactly one line per mistake naming the key
(`store.url: expected a string, got 42`), which generic validators do not print.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import re
import tomllib
import types
import typing
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bot.errors import ConfigError

DEFAULT_STORE_URL = "sqlite+aiosqlite:///newsbot.db"
DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
# Upper bounds of the numbers a file may set: far above any sensible value, low enough that
# every interval still makes a date, every count a database integer.
MAX_INTERVAL_MINUTES = 366 * 24 * 60
MAX_SECONDS = 86_400.0
MAX_COUNT = 2**31 - 1
# What a `newsbot run` process does (`--role`): everything, or only the updates (chat),
# fetching feeds (ingest) or delivering subscriptions (send).
ROLES = ("all", "chat", "ingest", "send")
# Retention periods: a hundred years is "forever" in all but name.
MAX_KEEP_DAYS = 36_500


@dataclass(frozen=True, slots=True)
class WebhookConfig:
    """Webhook mode for `newsbot run`; absent means long polling."""

    url: str
    listen: str = "0.0.0.0"
    port: int = 8443
    secret_token: str = field(default="", repr=False)


@dataclass(frozen=True, slots=True)
class TelegramConfig:
    """How to reach Telegram and who administers the bot."""

    token: str = field(default="", repr=False)
    api_base_url: str = DEFAULT_API_BASE_URL
    admins: tuple[int, ...] = ()
    webhook: WebhookConfig | None = None


@dataclass(frozen=True, slots=True)
class StoreConfig:
    """Where articles live: an SQLAlchemy URL, SQLite by default."""

    url: str = DEFAULT_STORE_URL
    # Retention (a daily job of `newsbot run`, and `newsbot prune`): deliveries sent or failed
    # longer ago than this many days are deleted (0: kept forever); articles dated longer ago
    # than `keep_articles_days`, with their summaries and deliveries, too (0, the default:
    # articles are kept forever). Nothing still to be sent is ever deleted.
    keep_deliveries_days: int = 30
    keep_articles_days: int = 0


@dataclass(frozen=True, slots=True)
class SummaryConfig:
    """Defaults for summaries; each chat can change length and algorithm."""

    algorithm: str = "default"
    sentences: int = 3
    language: str = "fr"


@dataclass(frozen=True, slots=True)
class IngestConfig:
    """Defaults of the ingest pipeline: how often, how long, how much."""

    interval_minutes: int = 30
    timeout_seconds: float = 20.0
    max_bytes: int = 5_000_000
    max_redirects: int = 5
    per_host_concurrency: int = 2
    max_failures: int = 10
    user_agent: str = "newsbot/0.1 (+https://github.com/newsbot/newsbot)"
    # Feeds processed at once. Each mostly waits on the network; `per_host_concurrency` is what
    # keeps any one site from being hammered.
    feed_concurrency: int = 8
    # Pages being fetched or extracted at once, over all feeds: bounds the HTML held in memory.
    page_concurrency: int = 8
    # How often `newsbot run` asks the store which feeds are due (seconds); the first tick is
    # 5 s after start. Each feed's own interval is `interval_minutes`.
    tick_seconds: int = 60


@dataclass(frozen=True, slots=True)
class DeliveryConfig:
    """[delivery]: how articles of subscribed categories are pushed to chats."""

    # Telegram's limits for bots: about 30 messages/s overall, 1/s to one private chat and
    # 20/min to one group or channel. Raise `messages_per_second` only with paid broadcasts.
    messages_per_second: float = 30.0
    private_chat_per_second: float = 1.0
    group_per_minute: int = 20
    # How often the queue is polled for deliveries queued by another process (seconds).
    poll_seconds: float = 2.0
    # Deliveries claimed from the queue at once by one sender.
    batch_size: int = 200
    # Attempts before a delivery is marked failed (network errors, timeouts, server errors).
    max_attempts: int = 5
    # Defaults for new chats: digest time (HH:MM) and time zone (IANA name).
    digest_time: str = "08:00"
    timezone: str = "Europe/Paris"
    # An article published longer ago than this is stored but not pushed (an archive).
    push_max_age_hours: int = 48


@dataclass(frozen=True, slots=True)
class LinksConfig:
    """[links]: summaries of web pages that users send, and inline mode."""

    enabled: bool = True
    # URL summaries one user may ask for per minute.
    per_user_per_minute: int = 10
    timeout_seconds: float = 15.0
    max_bytes: int = 3_000_000
    max_redirects: int = 5
    # Deprecated aliases of `[fetch] allowed_ports` and `allowed_networks` (they sat here when
    # only links were guarded); the loader keeps both tables equal (`Config.allowed_targets`).
    allowed_ports: tuple[int, ...] = (80, 443)
    allowed_networks: tuple[str, ...] = ()
    # Category of stored pages that carry no section of their own.
    category: str = "Shared"
    # A URL summarized less than this many hours ago is answered from the store; an older one
    # is fetched again and its article updated in place.
    refetch_after_hours: int = 24
    # How long Telegram may cache inline query results (seconds).
    inline_cache_seconds: int = 30


@dataclass(frozen=True, slots=True)
class FetchConfig:
    """[fetch]: where any request of the bot may go (feeds, their pages, links users send).

    A URL a user sent, and any host a feed's entries or redirects lead to, is fetched only on
    `allowed_ports` and only at public addresses or addresses in `allowed_networks`; a feed's
    own scheme, host and port (the operator or an admin chose it) are trusted.
    """

    # Ports a guarded request may use; anything else is refused.
    allowed_ports: tuple[int, ...] = (80, 443)
    # Networks (CIDR) exempt from the refusal of private, loopback and reserved addresses.
    # Empty by default: only public addresses are fetched. Tests set ["127.0.0.1/32"].
    allowed_networks: tuple[str, ...] = ()
    # An explicit HTTP(S) proxy for every request ("http://proxy:3128"); proxy variables of the
    # environment (HTTP_PROXY...) are ignored. Empty: connect directly.
    proxy: str = ""


_ALIASED = ("allowed_ports", "allowed_networks")


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    """[metrics]: the operator's HTTP port, `GET /metrics` (Prometheus) and `GET /healthz`.

    `listen` is "host:port" ("[::1]:9464" for IPv6); empty (the default) serves nothing.
    """

    listen: str = ""

    @property
    def address(self) -> tuple[str, int] | None:
        """(host, port) to listen on, None when off; `listen` was validated at load."""
        if not self.listen:
            return None
        host, _, port = self.listen.rpartition(":")
        return host.removeprefix("[").removesuffix("]"), int(port)


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """One feed to ingest; `interval_minutes` overrides `[ingest]`'s default."""

    url: str
    category: str = ""
    language: str = ""
    interval_minutes: int | None = None


# A few real public feeds, French first, so that `newsbot run` with only a token has articles to
# serve within minutes. A config file with its own [[feeds]] replaces this list entirely.
DEFAULT_FEEDS: tuple[FeedConfig, ...] = (
    FeedConfig("https://www.francetvinfo.fr/titres.rss", "France", "fr"),
    FeedConfig("https://www.lemonde.fr/international/rss_full.xml", "International", "fr"),
    FeedConfig("https://www.lemonde.fr/economie/rss_full.xml", "Économie", "fr"),
    FeedConfig("https://www.lemonde.fr/politique/rss_full.xml", "Politique", "fr"),
    FeedConfig("https://www.lemonde.fr/culture/rss_full.xml", "Culture", "fr"),
    FeedConfig("https://www.lemonde.fr/sciences/rss_full.xml", "Sciences", "fr"),
    FeedConfig("https://feeds.bbci.co.uk/news/world/rss.xml", "World", "en"),
    FeedConfig("https://feeds.bbci.co.uk/news/technology/rss.xml", "Technology", "en"),
    FeedConfig("https://feeds.bbci.co.uk/news/business/rss.xml", "Business", "en"),
)


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration. Build it with `load_config`; never mutate it."""

    telegram: TelegramConfig = TelegramConfig()
    store: StoreConfig = StoreConfig()
    summary: SummaryConfig = SummaryConfig()
    ingest: IngestConfig = IngestConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    links: LinksConfig = LinksConfig()
    fetch: FetchConfig = FetchConfig()
    metrics: MetricsConfig = MetricsConfig()
    feeds: tuple[FeedConfig, ...] = DEFAULT_FEEDS
    source: str = "built-in defaults"

    @property
    def allowed_targets(self) -> FetchConfig:
        """`[fetch]` with the deprecated `[links] allowed_*` aliases applied: a value set in
        `[fetch]` wins, else the one set in `[links]` (the loader keeps both equal)."""
        fetch = self.fetch
        for name in _ALIASED:
            if getattr(fetch, name) == getattr(FetchConfig(), name):
                fetch = dataclasses.replace(fetch, **{name: getattr(self.links, name)})
        return fetch

    def require_token(self) -> str:
        """The bot token, or a ConfigError saying where to put it (for `newsbot run`)."""
        if not self.telegram.token:
            raise ConfigError(
                "telegram.token: missing; set it in the config file's [telegram] table "
                "or in the NEWSBOT_TOKEN environment variable"
            )
        return self.telegram.token


def find_config_file(explicit: str | None, env: Mapping[str, str]) -> Path | None:
    """The file to read: `--config`, else `$NEWSBOT_CONFIG`, else `./config.toml` if present."""
    if explicit:
        return Path(explicit)
    if env.get("NEWSBOT_CONFIG"):
        return Path(env["NEWSBOT_CONFIG"])
    local = Path("config.toml")
    return local if local.is_file() else None


def load_config(explicit: str | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load, merge with defaults, apply environment overrides and validate.

    Raises ConfigError with one line naming the offending key.
    """
    env = os.environ if env is None else env
    path = find_config_file(explicit, env)
    data: dict[str, Any] = {}
    source = "built-in defaults"
    if path is not None:
        try:
            with path.open("rb") as fh:
                data = tomllib.load(fh)
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{path}: not UTF-8 (byte {exc.start}): save the file as UTF-8"
            ) from None
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
        source = str(path)
    try:
        data = _migrate(data)
        config = _build(Config, data, "")
        _check(config)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    config = dataclasses.replace(config, source=source)
    if env.get("NEWSBOT_TOKEN"):
        telegram = dataclasses.replace(config.telegram, token=env["NEWSBOT_TOKEN"])
        config = dataclasses.replace(config, telegram=telegram)
    if env.get("NEWSBOT_DATABASE_URL"):
        store = dataclasses.replace(config.store, url=env["NEWSBOT_DATABASE_URL"])
        config = dataclasses.replace(config, store=store)
        try:
            _check(config)
        except ConfigError as exc:
            raise ConfigError(f"NEWSBOT_DATABASE_URL: {exc}") from None
    return config


def _migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Apply the deprecated `[links] allowed_ports` / `allowed_networks` to `[fetch]`, where
    they now live (both tables end up with the one value); refuse two different values."""
    links, fetch = data.get("links", {}), data.get("fetch", {})
    if not isinstance(links, dict) or not isinstance(fetch, dict):
        return data  # `_build` says what is wrong with the table
    if not any(name in table for name in _ALIASED for table in (links, fetch)):
        return data
    links, fetch = dict(links), dict(fetch)
    for name in _ALIASED:
        if name in links and name in fetch and links[name] != fetch[name]:
            raise ConfigError(
                f"links.{name}: deprecated alias of fetch.{name}, which is set to another "
                f"value; keep only fetch.{name}"
            )
        if name in links or name in fetch:
            links[name] = fetch[name] = fetch.get(name, links.get(name))
    return {**data, "links": links, "fetch": fetch}


def _check(config: Config) -> None:
    """Checks across values that types alone do not express."""
    url = config.store.url
    if not url.startswith(("sqlite", "postgresql", "postgres")):
        raise ConfigError(
            "store.url: expected an sqlite:/// or postgresql:// URL, "
            f"got {_shown(url.split(':')[0], False)}"
        )
    try:
        urlsplit(url).port  # noqa: B018 - the property is the check
    except ValueError:
        raise ConfigError("store.url: the port is not a number from 0 to 65535") from None
    for name in ("keep_deliveries_days", "keep_articles_days"):
        if not 0 <= getattr(config.store, name) <= MAX_KEEP_DAYS:
            raise ConfigError(
                f"store.{name}: expected a number of days from 0 (keep forever) to {MAX_KEEP_DAYS}"
            )
    telegram = config.telegram
    if not re.fullmatch(r"https?://[^\s/?#]+(/\S*)?", telegram.api_base_url):
        raise ConfigError(
            f"telegram.api_base_url: expected an http:// or https:// URL, "
            f"got {_shown(telegram.api_base_url, False)}"
        )
    for i, admin in enumerate(telegram.admins):
        if not -(2**63) <= admin < 2**63:
            raise ConfigError(f"telegram.admins[{i}]: expected a Telegram user id")
    if not 1 <= config.summary.sentences <= 20:
        raise ConfigError("summary.sentences: expected an integer from 1 to 20")
    for name in ("max_bytes", "max_redirects", "per_host_concurrency", "max_failures"):
        low = 0 if name == "max_redirects" else 1
        if not low <= getattr(config.ingest, name) <= MAX_COUNT:
            raise ConfigError(f"ingest.{name}: expected an integer from {low} to {MAX_COUNT}")
    if not 1 <= config.ingest.interval_minutes <= MAX_INTERVAL_MINUTES:
        raise ConfigError(
            f"ingest.interval_minutes: expected an integer from 1 to {MAX_INTERVAL_MINUTES}"
        )
    if not 0 < config.ingest.timeout_seconds <= MAX_SECONDS:
        raise ConfigError(
            f"ingest.timeout_seconds: expected a positive number, at most {MAX_SECONDS:g}"
        )
    for name in ("feed_concurrency", "page_concurrency"):
        if not 1 <= getattr(config.ingest, name) <= 100:
            raise ConfigError(f"ingest.{name}: expected an integer from 1 to 100")
    if not 1 <= config.ingest.tick_seconds <= 3600:
        raise ConfigError("ingest.tick_seconds: expected an integer from 1 to 3600")
    for i, feed in enumerate(config.feeds):
        if not feed.url.startswith(("http://", "https://")):
            raise ConfigError(
                f"feeds[{i}].url: expected an http(s) URL, got {_shown(feed.url, False)}"
            )
        if feed.interval_minutes is not None and not (
            1 <= feed.interval_minutes <= MAX_INTERVAL_MINUTES
        ):
            raise ConfigError(
                f"feeds[{i}].interval_minutes: expected an integer from 1 to {MAX_INTERVAL_MINUTES}"
            )
    delivery = config.delivery
    for name in ("messages_per_second", "private_chat_per_second", "poll_seconds"):
        if not 0 < getattr(delivery, name) <= MAX_SECONDS:
            raise ConfigError(
                f"delivery.{name}: expected a positive number, at most {MAX_SECONDS:g}"
            )
    for name in ("group_per_minute", "batch_size", "max_attempts"):
        if not 1 <= getattr(delivery, name) <= MAX_COUNT:
            raise ConfigError(f"delivery.{name}: expected an integer from 1 to {MAX_COUNT}")
    if not 1 <= delivery.push_max_age_hours <= 24 * 366:
        raise ConfigError("delivery.push_max_age_hours: expected an integer from 1 to 8784")
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", delivery.digest_time):
        raise ConfigError(
            f"delivery.digest_time: expected HH:MM, got {_shown(delivery.digest_time, False)}"
        )
    try:
        zoneinfo.ZoneInfo(delivery.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise ConfigError(
            f"delivery.timezone: unknown time zone {_shown(delivery.timezone, False)}"
        ) from None
    links = config.links
    for name in ("per_user_per_minute", "max_bytes", "max_redirects", "inline_cache_seconds"):
        low = 0 if name in ("max_redirects", "inline_cache_seconds") else 1
        if not low <= getattr(links, name) <= MAX_COUNT:
            raise ConfigError(f"links.{name}: expected an integer from {low} to {MAX_COUNT}")
    if not 1 <= links.refetch_after_hours <= MAX_INTERVAL_MINUTES // 60:
        raise ConfigError(
            f"links.refetch_after_hours: expected an integer from 1 to {MAX_INTERVAL_MINUTES // 60}"
        )
    if not 0 < links.timeout_seconds <= MAX_SECONDS:
        raise ConfigError(
            f"links.timeout_seconds: expected a positive number, at most {MAX_SECONDS:g}"
        )
    fetch = config.allowed_targets
    for i, port in enumerate(fetch.allowed_ports):
        if not 1 <= port <= 65535:
            raise ConfigError(f"fetch.allowed_ports[{i}]: expected a port from 1 to 65535")
    for i, network in enumerate(fetch.allowed_networks):
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ConfigError(
                f"fetch.allowed_networks[{i}]: expected a network like 10.0.0.0/8, "
                f"got {_shown(network, False)}"
            ) from None
    if fetch.proxy and not fetch.proxy.startswith(("http://", "https://")):
        raise ConfigError(f"fetch.proxy: expected an http:// or https:// URL, got {fetch.proxy!r}")
    listen = config.metrics.listen
    if listen and not re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}", listen):
        raise ConfigError(
            f"metrics.listen: expected host:port like 127.0.0.1:9464, got {_shown(listen, False)}"
        )
    if listen and not 1 <= int(listen.rpartition(":")[2]) <= 65535:
        raise ConfigError("metrics.listen: expected a port from 1 to 65535")
    hook = config.telegram.webhook
    if hook is not None:
        if not hook.url.startswith("https://"):
            raise ConfigError("telegram.webhook.url: expected an https:// URL")
        if not 1 <= hook.port <= 65535:
            raise ConfigError("telegram.webhook.port: expected a port from 1 to 65535")
        # Telegram's rule for setWebhook's secret_token. The value itself is never shown.
        if hook.secret_token and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", hook.secret_token):
            raise ConfigError(
                "telegram.webhook.secret_token: expected 1 to 256 characters among "
                "A-Z a-z 0-9 _ - (Telegram's rule)"
            )


# Fields of Config that are bookkeeping, not settings a file may set.
_INTERNAL = frozenset({"source"})

_TYPE_WORDS = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _describe(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if tp in _TYPE_WORDS:
        return _TYPE_WORDS[tp]
    if origin is tuple:
        return (
            f"a list of {_describe(typing.get_args(tp)[0]).removeprefix('a ').removeprefix('an ')}s"
        )
    if dataclasses.is_dataclass(tp):
        return "a table"
    if origin in (types.UnionType, typing.Union):
        return " or ".join(_describe(a) for a in typing.get_args(tp) if a is not type(None))
    return str(tp)


def _build(cls: Any, data: Any, where: str) -> Any:
    """Turn a TOML table into the dataclass *cls*, rejecting unknown keys and wrong types."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'top level'}: expected a table, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name not in _INTERNAL}
    known = sorted(fields)
    values: dict[str, Any] = {}
    for key, raw in data.items():
        shown = key if re.fullmatch(r"[A-Za-z0-9_-]{1,40}", key) else _shown(key, False)
        path = f"{where}.{shown}" if where else shown
        if key not in fields:
            raise ConfigError(f"{path}: unknown key (expected one of: {', '.join(known)})")
        values[key] = _convert(hints[key], raw, path, secret=not fields[key].repr)
    try:
        return cls(**values)
    except TypeError:
        missing = [
            f.name
            for f in dataclasses.fields(cls)
            if f.name not in values
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        raise ConfigError(
            f"{where}.{missing[0]}: missing, expected {_describe(hints[missing[0]])}"
        ) from None


def _shown(raw: Any, secret: bool) -> str:
    """A wrong value as an error message quotes it: never a secret's, never more than a line."""
    if secret:
        return f"a {type(raw).__name__} (not shown: it is a secret)"
    text = repr(raw)
    if len(text) <= 60:
        return text
    # A cut string keeps its closing quote, so the message still reads as one quoted value.
    return text[:58] + "…" + text[0] if text[0] in "'\"" else text[:59] + "…"


def _convert(tp: Any, raw: Any, path: str, *, secret: bool = False) -> Any:
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(inner[0], raw, path, secret=secret)
    if dataclasses.is_dataclass(tp):
        return _build(tp, raw, path)
    if origin is tuple:
        item_type = typing.get_args(tp)[0]
        if not isinstance(raw, list):
            raise ConfigError(f"{path}: expected {_describe(tp)}, got {_shown(raw, secret)}")
        return tuple(_convert(item_type, item, f"{path}[{i}]") for i, item in enumerate(raw))
    if tp is float and isinstance(raw, int) and not isinstance(raw, bool):
        return float(raw)
    if tp is float and isinstance(raw, float) and not math.isfinite(raw):  # TOML has nan, inf
        raise ConfigError(f"{path}: expected a finite number, got {raw!r}")
    if tp in (int, float, str) and (isinstance(raw, bool) or not isinstance(raw, tp)):
        raise ConfigError(f"{path}: expected {_describe(tp)}, got {_shown(raw, secret)}")
    if tp is bool and not isinstance(raw, bool):
        raise ConfigError(f"{path}: expected {_describe(tp)}, got {_shown(raw, secret)}")
    if tp is str and not secret and not _printable(raw):
        raise ConfigError(f"{path}: control characters are not allowed, got {_shown(raw, secret)}")
    return raw


def _printable(text: str) -> bool:
    """No control characters (tab excepted) and no lone surrogates, which no setting needs."""
    return not any(
        (ord(c) < 32 and c != "\t") or 0x7F <= ord(c) < 0xA0 or 0xD800 <= ord(c) < 0xE000
        for c in text
    )
