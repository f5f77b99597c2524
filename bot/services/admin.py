"""What the bot's admins may ask: the state of the store, the deliveries queue and the feeds
that fail. `newsbot stats` and /stats (for `telegram.admins`) show the same `Status`; each
surface only lays it out (plain columns on a terminal, translated HTML in chat)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bot.store.contract import AdminStore


@dataclass(frozen=True, slots=True)
class FeedProblem:
    """A feed that failed at its last fetches, or that was disabled after too many."""

    url: str
    disabled: bool
    failures: int
    reason: str  # the last error, "" when none was recorded


@dataclass(frozen=True, slots=True)
class Status:
    """Counts across the store and the queue, and every feed with a problem."""

    articles: int
    categories: tuple[tuple[str, int], ...]  # (name, articles), by name
    uncategorized: int
    feeds: int
    feeds_failing: int
    problems: tuple[FeedProblem, ...]
    chats: int
    chats_deactivated: int  # chats that blocked or removed the bot
    subscriptions: int
    deliveries: Mapping[str, int]  # by delivery status; a status with none is absent

    def queued(self, state: str) -> int:
        """Deliveries in `state` ("pending", "sending", "sent", "failed")."""
        return self.deliveries.get(state, 0)


class AdminService:
    def __init__(self, store: AdminStore, admins: Iterable[int] = ()) -> None:
        self.store = store
        self.admins = frozenset(admins)

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.admins

    async def status(self) -> Status:
        """The counts and the feeds failing or disabled, in the store's feed order."""
        stats = await self.store.stats()
        problems = tuple(
            FeedProblem(f.url, not f.enabled, f.failures, f.last_error or "")
            for f in await self.store.list_feeds()
            if f.failures or not f.enabled
        )
        return Status(
            articles=stats.articles,
            categories=tuple(stats.articles_per_category),
            uncategorized=stats.uncategorized,
            feeds=stats.feeds,
            feeds_failing=stats.feeds_failing,
            problems=problems,
            chats=stats.chats,
            chats_deactivated=stats.chats_inactive,
            subscriptions=stats.subscriptions,
            deliveries=dict(stats.deliveries),
        )
