"""The feeds of `SqlStore`: their settings, their fetch state, and the ingestion leases that
keep two processes from fetching one feed at once."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    Row,
    case,
    func,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.engine import Connection

from bot.errors import NotFound
from bot.models import (
    Feed,
    FeedSettings,
    FeedState,
    FeedSyncResult,
)
from bot.store.base import StoreBase, _all, _execute, _first
from bot.store.schema import (
    articles,
    feeds,
)

ORIGIN_CONFIG = "config"


def _to_feed(row: Row[Any]) -> Feed:
    return Feed(
        id=row.id,
        url=row.url,
        category=row.category,
        language=row.language,
        interval_minutes=row.interval_minutes,
        enabled=row.enabled,
        etag=row.etag,
        last_modified=row.last_modified,
        last_fetched=row.last_fetched,
        next_fetch=row.next_fetch,
        failures=row.failures,
        last_error=row.last_error,
        title=row.title,
        origin=row.origin,
        alert=row.alert,
        alert_at=row.alert_at,
    )


class FeedsMixin(StoreBase):
    async def upsert_feed(
        self,
        url: str,
        *,
        category: str | None = None,
        language: str | None = None,
        interval_minutes: int | None = None,
    ) -> Feed:
        settings = {
            "category": category or None,
            "language": language or None,
            "interval_minutes": interval_minutes,
        }
        statement = self._insert(feeds).values(
            url=url, enabled=True, failures=0, created_at=self.clock.now(), **settings
        )
        statement = statement.on_conflict_do_update(index_elements=["url"], set_=settings)

        def run(conn: Connection) -> Row[Any]:
            conn.execute(statement)
            return conn.execute(select(feeds).where(feeds.c.url == url)).one()

        return _to_feed(await self._write(run))

    async def list_feeds(self) -> list[Feed]:
        rows = await self._read(_all, select(feeds).order_by(feeds.c.id))
        return [_to_feed(row) for row in rows]

    async def get_feed(self, feed_id: int) -> Feed:
        _check_feed_id(feed_id)
        row = await self._read(_first, select(feeds).where(feeds.c.id == feed_id))
        if row is None:
            raise NotFound(f"no feed {feed_id}")
        return _to_feed(row)

    async def find_feed(self, url: str) -> Feed | None:
        row = await self._read(_first, select(feeds).where(feeds.c.url == url))
        return _to_feed(row) if row else None

    async def remove_feed(self, feed_id: int) -> Feed:
        _check_feed_id(feed_id)

        def run(conn: Connection) -> Row[Any]:
            row = conn.execute(select(feeds).where(feeds.c.id == feed_id)).first()
            if row is None:
                raise NotFound(f"no feed {feed_id}")
            conn.execute(feeds.delete().where(feeds.c.id == feed_id))
            return row

        return _to_feed(await self._write(run))

    async def enable_feed(self, feed_id: int) -> Feed:
        _check_feed_id(feed_id)

        def run(conn: Connection) -> Row[Any]:
            done = conn.execute(
                feeds.update()
                .where(feeds.c.id == feed_id)
                .values(
                    enabled=True,
                    failures=0,
                    last_error=None,
                    next_fetch=None,
                    # Told to the admins once its next fetch works (or fails for good again).
                    alert=case((feeds.c.alert.is_(None), None), else_="enabled"),
                    alert_at=self.clock.now(),
                )
            )
            if not done.rowcount:
                raise NotFound(f"no feed {feed_id}")
            return conn.execute(select(feeds).where(feeds.c.id == feed_id)).one()

        return _to_feed(await self._write(run))

    async def disable_feed(self, feed_id: int) -> Feed:
        _check_feed_id(feed_id)
        now = self.clock.now()

        def run(conn: Connection) -> Row[Any]:
            # The admin who disables it knows: no alert says so again.
            done = conn.execute(
                feeds.update()
                .where(feeds.c.id == feed_id)
                .values(enabled=False, alert="disabled", alert_at=now)
            )
            if not done.rowcount:
                raise NotFound(f"no feed {feed_id}")
            return conn.execute(select(feeds).where(feeds.c.id == feed_id)).one()

        return _to_feed(await self._write(run))

    async def set_feed_alert(
        self, feed_id: int, alert: str | None, *, expected: str | None
    ) -> bool:
        now = self.clock.now()
        statement = (
            feeds.update()
            .where(feeds.c.id == feed_id, feeds.c.alert.is_not_distinct_from(expected))
            .values(alert=alert, alert_at=now)
        )
        done: bool = await self._write(lambda conn: bool(conn.execute(statement).rowcount))
        return done

    async def feed_article_counts(self) -> dict[int, int]:
        query = (
            select(articles.c.feed_id, func.count().label("articles"))
            .where(articles.c.feed_id.is_not(None))
            .group_by(articles.c.feed_id)
        )
        rows = await self._read(_all, query)
        return {int(row.feed_id): int(row.articles) for row in rows}

    async def sync_feeds(self, wanted: Sequence[FeedSettings]) -> FeedSyncResult:
        by_url: dict[str, FeedSettings] = {}
        for settings in wanted:
            by_url.setdefault(settings.url, settings)  # the first entry of a URL wins
        now = self.clock.now()

        def run(conn: Connection) -> FeedSyncResult:
            result = FeedSyncResult()
            existing = {
                row.url: row
                for row in conn.execute(
                    select(
                        feeds.c.url,
                        feeds.c.category,
                        feeds.c.language,
                        feeds.c.interval_minutes,
                        feeds.c.origin,
                    )
                ).all()
            }
            for url, settings in by_url.items():
                values = {
                    "category": settings.category or None,
                    "language": settings.language or None,
                    "interval_minutes": settings.interval_minutes,
                    "origin": ORIGIN_CONFIG,
                }
                old = existing.get(url)
                if old is not None and all(getattr(old, k) == v for k, v in values.items()):
                    continue
                # An upsert rather than insert-or-update, so a bot and a CLI syncing at the
                # same moment cannot trip over each other's insert.
                statement = self._insert(feeds).values(
                    url=url, enabled=True, failures=0, created_at=now, **values
                )
                conn.execute(statement.on_conflict_do_update(index_elements=["url"], set_=values))
                (result.added if old is None else result.updated).append(url)
            stale = [
                url
                for url, row in existing.items()
                if row.origin == ORIGIN_CONFIG and url not in by_url
            ]
            if stale:
                conn.execute(feeds.delete().where(feeds.c.url.in_(stale)))
                result.removed.extend(stale)
            return result

        return await self._write(run)

    async def due_feeds(
        self,
        *,
        include_not_due: bool = False,
        feed_ids: Sequence[int] | None = None,
    ) -> list[Feed]:
        query = select(feeds).where(feeds.c.enabled.is_(True)).order_by(feeds.c.id)
        if not include_not_due:
            now = self.clock.now()
            query = query.where(or_(feeds.c.next_fetch.is_(None), feeds.c.next_fetch <= now))
        if feed_ids is not None:
            query = query.where(feeds.c.id.in_([i for i in feed_ids if 1 <= i <= MAX_FEED_ID]))
        rows = await self._read(_all, query)
        return [_to_feed(row) for row in rows]

    async def save_feed_state(self, feed_id: int, state: FeedState) -> None:
        values: dict[str, Any] = {
            "last_fetched": state.last_fetched,
            "next_fetch": state.next_fetch,
            "failures": state.failures,
            "last_error": state.last_error,
            "enabled": state.enabled,
            "etag": state.etag,
            "last_modified": state.last_modified,
        }
        if state.title:
            values["title"] = state.title
        await self._write(_execute, feeds.update().where(feeds.c.id == feed_id).values(values))

    # -- ingestion leases ------------------------------------------------------------------

    async def lease_feeds(
        self,
        feed_ids: Sequence[int],
        owner: str,
        *,
        lease_seconds: float,
        due_only: bool = False,
    ) -> list[int]:
        """Take the ingestion lease of each feed of *feed_ids* that no other process holds
        (and, with `due_only`, that is still due: another process may have fetched it since
        the caller listed it); the ids leased to *owner*."""
        if not feed_ids:
            return []
        now = self.clock.now()
        due = or_(feeds.c.next_fetch.is_(None), feeds.c.next_fetch <= now) if due_only else true()
        statement = (
            update(feeds)
            .where(
                feeds.c.id.in_(list(feed_ids)),
                due,
                or_(
                    feeds.c.lease_until.is_(None),
                    feeds.c.lease_until <= now,
                    feeds.c.lease_owner == owner,
                ),
            )
            .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_seconds))
            .returning(feeds.c.id)
        )
        ids: list[int] = await self._write(lambda conn: list(conn.execute(statement).scalars()))
        return sorted(ids)

    async def release_feeds(self, feed_ids: Sequence[int], owner: str) -> None:
        """Give back the ingestion leases *owner* holds on *feed_ids*."""
        if not feed_ids:
            return
        statement = (
            update(feeds)
            .where(feeds.c.id.in_(list(feed_ids)), feeds.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )
        await self._write(lambda conn: conn.execute(statement))


# Feed ids are a 32-bit INTEGER column on PostgreSQL: a larger id names no feed, and must not
# reach the driver, which refuses to send it (an overflow, not "no such feed").
MAX_FEED_ID = 2**31 - 1


def _check_feed_id(feed_id: int) -> None:
    if not 1 <= feed_id <= MAX_FEED_ID:
        raise NotFound(f"no feed {feed_id}")
