"""Fetching a page a user sent: the shared `Fetcher`, fully guarded, with `[links]`'s limits.

A feed URL comes from the operator; a link in a chat comes from anyone. `SafeFetcher` asks the
one fetcher of the package (`bot.ingest.fetch.Fetcher`) for the page with no trust at all, so
every hop goes through the SSRF guard (`bot.ingest.guard`: only http(s) without credentials on
`fetch.allowed_ports`; the name resolved once and every address checked; the connection made
to the checked address; redirects followed here, each hop checked like the first; proxy
variables ignored), within `links.timeout_seconds`, `links.max_bytes` (gzip bombs included) and
`links.max_redirects`, and accepts only HTML and plain text.

A refusal or failure raises `bot.errors.LinkError`, whose `reason` (one of `LINK_REASONS`) is
what the user is told; its message, with addresses, is for the logs only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

from bot.clock import Clock, SystemClock
from bot.config import IngestConfig, LinksConfig
from bot.errors import FetchError, LinkError
from bot.ingest.fetch import PAGE_ACCEPT, USER, Fetcher, charset_of
from bot.ingest.guard import (
    BLOCKED_NETWORKS,
    Address,
    FetchPolicy,
    Resolver,
    Target,
    embedded_ipv4,
    refusal,
    system_resolver,
)

__all__ = [
    "BLOCKED_NETWORKS",
    "CONTENT_TYPES",
    "Address",
    "FetchPolicy",
    "Page",
    "Resolver",
    "SafeFetcher",
    "Target",
    "embedded_ipv4",
    "refusal",
    "system_resolver",
]

log = logging.getLogger(__name__)

CONTENT_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain"})


@dataclass(frozen=True, slots=True)
class Page:
    """A fetched page: the final URL (after redirects), the decoded body, its media type
    ("text/html") and the charset the server declared, if any."""

    url: str
    content: bytes
    media_type: str
    charset: str | None = None


def _check_content_type(value: str) -> tuple[str, str | None]:
    """(media type, charset) of an acceptable Content-Type; LinkError otherwise."""
    media = value.split(";")[0].strip().lower()
    if media not in CONTENT_TYPES:
        raise LinkError("content_type", f"Content-Type {value!r}")
    return media, charset_of(value)


class SafeFetcher:
    """GET a user's URL under `LinksConfig`'s limits; see the module docstring.

    `fetcher` is the shared fetcher (the bot passes the one ingest uses); without one, a
    fetcher of its own is made from `policy` (the `[fetch]` rules; by default those of
    `config`'s deprecated `allowed_*` keys), `resolver` (tests answer names with the addresses
    they want to see refused, without any traffic) and `transport` (tests use
    `httpx.MockTransport` to see the requests as they would leave).
    """

    def __init__(
        self,
        config: LinksConfig,
        *,
        fetcher: Fetcher | None = None,
        policy: FetchPolicy | None = None,
        user_agent: str = "newsbot",
        resolver: Resolver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        if fetcher is None:
            fetcher = Fetcher(
                IngestConfig(
                    user_agent=user_agent,
                    timeout_seconds=config.timeout_seconds,
                    max_bytes=config.max_bytes,
                    max_redirects=config.max_redirects,
                    # A user's link is one request at a time; the rate limit is per user.
                    per_host_concurrency=64,
                ),
                clock=clock or SystemClock(),
                policy=policy or FetchPolicy.from_config(config),
                resolver=resolver,
                transport=transport,
            )
        self.fetcher = fetcher
        self.policy = fetcher.policy

    async def aclose(self) -> None:
        """Close the fetcher's connections (the shared one is closed by its owner instead)."""
        await self.fetcher.aclose()

    async def fetch(self, url: str) -> Page:
        """The page at `url`, following redirects; LinkError when refused or failed."""
        try:
            result = await self.fetcher.fetch(
                url,
                trust=USER,
                accept=PAGE_ACCEPT,
                timeout=self.config.timeout_seconds,
                max_bytes=self.config.max_bytes,
                max_redirects=self.config.max_redirects,
            )
        except FetchError as exc:
            detail = str(exc).removeprefix(f"{exc.reason}: ")  # a refusal's own LinkError text
            raise LinkError(exc.reason, detail, status=exc.status) from None
        media, charset = _check_content_type(result.headers.get("content-type", ""))
        return Page(result.url, result.content, media, charset)
