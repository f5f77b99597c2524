"""What the bot's admins (`telegram.admins`) may ask in chat: the state of the store, the
deliveries queue and the feeds that fail."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bot.models import Feed, StoreStats
from bot.store.contract import AdminStore

# Failing feeds listed in /stats; `newsbot stats` lists them all.
MAX_FAILING_FEEDS = 10


@dataclass(frozen=True, slots=True)
class Status:
    stats: StoreStats
    failing: tuple[Feed, ...]


class AdminService:
    def __init__(self, store: AdminStore, admins: Iterable[int]) -> None:
        self.store = store
        self.admins = frozenset(admins)

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.admins

    async def status(self) -> Status:
        """Counts across the store and the queue, and the feeds failing or disabled."""
        stats = await self.store.stats()
        failing = [f for f in await self.store.list_feeds() if f.failures or not f.enabled]
        return Status(stats, tuple(failing[:MAX_FAILING_FEEDS]))
