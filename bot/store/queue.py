"""The deliveries queue and the digests of `SqlStore`: what is queued for whom when an article is
stored (the store's `Audience` decides), and what lets several senders share one store without
sending a message twice.

Claiming is one `UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING`: atomic on SQLite (one
writer at a time), and with `FOR UPDATE SKIP LOCKED` in the sub-select on PostgreSQL, so two
senders claiming at the same moment each get other rows instead of waiting on each other.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Row,
    and_,
    bindparam,
    case,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection

from bot.errors import NotFound
from bot.models import (
    ClaimedDelivery,
    Delivery,
    Digest,
    Subscriber,
)
from bot.store.base import StoreBase, _all
from bot.store.cluster import notify_deliveries
from bot.store.schema import (
    chats,
    deliveries,
    digests,
    subscriptions,
)

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"

# `finish_deliveries`, built once: the sender marks what it sent many times a second, and
# building the statement each time (and its cache key) cost more than running it.
_FINISH = (
    update(deliveries)
    .where(deliveries.c.id.in_(bindparam("ids", expanding=True)))
    .values(
        status=bindparam("finished"),
        sent_at=bindparam("finished_at", type_=deliveries.c.sent_at.type),
        last_error=bindparam("error", type_=deliveries.c.last_error.type),
        attempts=deliveries.c.attempts + 1,
        worker=None,
        lease_until=None,
    )
)


@dataclass(frozen=True, slots=True)
class Arrival:
    """A stored article, as the push rules see it."""

    article_id: int
    category_id: int | None
    title: str
    text: str
    published: datetime | None
    arrived: datetime


def _to_delivery(row: Row[Any]) -> Delivery:
    return Delivery(
        id=row.id,
        chat_id=row.chat_id,
        article_id=row.article_id,
        status=row.status,
        attempts=row.attempts,
        created_at=row.created_at,
        sent_at=row.sent_at,
        last_error=row.last_error,
    )


class QueueMixin(StoreBase):
    # -- queueing ----------------------------------------------------------------------------

    def _enqueue(self, conn: Connection, stored: Sequence[Arrival], now: datetime) -> int:
        """Queue a pending delivery of each stored article for the active subscribers of its
        category the rules (`self.rules`) choose; how many were queued.

        Runs inside the caller's transaction, so an article is never stored without its
        deliveries, and the unique (chat, article) index makes a second queueing a no-op.
        """
        # Asking the rules first spares the subscriptions query for an archive's old articles.
        stored = [
            a
            for a in stored
            if a.category_id is not None and self.rules.is_news(a.published, a.arrived)
        ]
        if not stored:
            return 0
        query = (
            select(
                subscriptions.c.chat_id,
                subscriptions.c.category_id,
                subscriptions.c.filters,
                subscriptions.c.created_at,
                subscriptions.c.thread_id,
            )
            .join(chats, chats.c.id == subscriptions.c.chat_id)
            .where(
                subscriptions.c.category_id.in_({a.category_id for a in stored}),
                subscriptions.c.active.is_(True),
                chats.c.active.is_(True),
            )
            .order_by(subscriptions.c.chat_id)
        )
        by_category: dict[int, list[Subscriber]] = defaultdict(list)
        topics: dict[tuple[int, int], int] = {}  # (category, chat) -> forum topic
        for row in conn.execute(query).all():
            by_category[row.category_id].append(
                Subscriber(row.chat_id, tuple(row.filters or ()), row.created_at)
            )
            if row.thread_id is not None:
                topics[(row.category_id, row.chat_id)] = row.thread_id
        if not by_category:
            return 0
        rows = [
            {
                "chat_id": chat_id,
                "article_id": a.article_id,
                "status": "pending",
                "attempts": 0,
                "created_at": now,
                "thread_id": topics.get((a.category_id or 0, chat_id)),
            }
            for a in stored
            for chat_id in self.rules.recipients(
                title=a.title,
                text=a.text,
                published=a.published,
                arrived=a.arrived,
                subscribers=by_category.get(a.category_id or 0, ()),
            )
        ]
        if not rows:
            return 0
        done = conn.execute(
            self._insert(deliveries).on_conflict_do_nothing().returning(deliveries.c.id),
            rows,
        )
        queued = len(done.all())
        if queued:
            notify_deliveries(conn)  # every process's sender claims at commit, not at its poll
        return queued

    async def list_deliveries(
        self,
        *,
        status: str | None = None,
        chat_id: int | None = None,
        limit: int = 100,
    ) -> list[Delivery]:
        query = select(deliveries).order_by(deliveries.c.id).limit(limit)
        if status is not None:
            query = query.where(deliveries.c.status == status)
        if chat_id is not None:
            query = query.where(deliveries.c.chat_id == chat_id)
        rows = await self._read(_all, query)
        return [_to_delivery(row) for row in rows]

    # -- claiming ----------------------------------------------------------------------------

    def _claimable(self, now: datetime) -> Any:
        """Rows a sender may claim: pending and due, or sending with a dead sender's lease."""
        return or_(
            and_(
                deliveries.c.status == PENDING,
                or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until <= now),
            ),
            and_(deliveries.c.status == SENDING, deliveries.c.lease_until <= now),
        )

    def _claim(
        self,
        conn: Connection,
        where: Any,
        worker: str,
        limit: int | None,
        now: datetime,
        lease_until: datetime,
    ) -> list[ClaimedDelivery]:
        # A chat another live sender is sending to stays with that sender: its messages keep
        # their order and its per-chat limit holds across processes.
        busy = select(deliveries.c.chat_id).where(
            deliveries.c.status == SENDING,
            deliveries.c.lease_until > now,
            deliveries.c.worker != worker,
        )
        where = and_(where, deliveries.c.chat_id.not_in(busy))
        if self.dialect == "postgresql":
            # Two claims running at once would each miss the other's uncommitted rows in
            # `busy`: lock the chats first (skipping those another claim holds), so a chat is
            # claimed by one transaction at a time. SQLite runs one writer at a time anyway.
            chats_due = (
                select(deliveries.c.chat_id)
                .where(where)
                .group_by(deliveries.c.chat_id)
                .order_by(func.min(deliveries.c.id))
            )
            if limit is not None:
                chats_due = chats_due.limit(limit)
            locked = list(
                conn.execute(
                    select(chats.c.id)
                    .where(chats.c.id.in_(chats_due.scalar_subquery()))
                    .with_for_update(skip_locked=True)
                ).scalars()
            )
            if not locked:
                return []
            where = and_(where, deliveries.c.chat_id.in_(locked))
        due = select(deliveries.c.id).where(where).order_by(deliveries.c.id)
        if limit is not None:
            due = due.limit(limit)
        if self.dialect == "postgresql":
            due = due.with_for_update(skip_locked=True)
        statement = (
            update(deliveries)
            .where(deliveries.c.id.in_(due.scalar_subquery()))
            .values(status=SENDING, worker=worker, lease_until=lease_until)
            .returning(
                deliveries.c.id,
                deliveries.c.chat_id,
                deliveries.c.article_id,
                deliveries.c.attempts,
                deliveries.c.created_at,
                deliveries.c.thread_id,
            )
        )
        rows = conn.execute(statement).all()
        if not rows:
            return []
        chat_ids = {row.chat_id for row in rows}
        info = {
            row.id: row
            for row in conn.execute(
                select(
                    chats.c.id,
                    chats.c.language,
                    chats.c.settings,
                    chats.c.hold_until,
                    chats.c.settings_version,
                ).where(chats.c.id.in_(chat_ids))
            )
        }
        return [
            ClaimedDelivery(
                id=row.id,
                chat_id=row.chat_id,
                article_id=row.article_id,
                attempts=row.attempts,
                language=info[row.chat_id].language,
                settings=dict(info[row.chat_id].settings or {}),
                hold_until=info[row.chat_id].hold_until,
                created_at=row.created_at,
                settings_version=info[row.chat_id].settings_version,
                thread_id=row.thread_id,
            )
            for row in sorted(rows, key=lambda r: r.id)
        ]

    async def claim_deliveries(
        self, worker: str, *, limit: int, lease_seconds: float
    ) -> list[ClaimedDelivery]:
        """Lease up to *limit* due deliveries of active chats that are not held, oldest first."""
        now = self.clock.now()

        def claim(conn: Connection) -> list[ClaimedDelivery]:
            where = and_(
                self._claimable(now),
                deliveries.c.chat_id.in_(
                    select(chats.c.id).where(
                        chats.c.active.is_(True),
                        or_(chats.c.hold_until.is_(None), chats.c.hold_until <= now),
                    )
                ),
            )
            lease = now + timedelta(seconds=lease_seconds)
            return self._claim(conn, where, worker, limit, now, lease)

        result: list[ClaimedDelivery] = await self._write(claim)
        return result

    async def claim_chat_deliveries(
        self, chat_id: int, worker: str, *, lease_seconds: float
    ) -> list[ClaimedDelivery]:
        """Lease every claimable delivery of one chat, whatever its hold (for its digest)."""
        now = self.clock.now()

        def claim(conn: Connection) -> list[ClaimedDelivery]:
            where = and_(deliveries.c.chat_id == chat_id, self._claimable(now))
            lease = now + timedelta(seconds=lease_seconds)
            return self._claim(conn, where, worker, None, now, lease)

        result: list[ClaimedDelivery] = await self._write(claim)
        return result

    async def renew_leases(self, worker: str, lease_seconds: float) -> int:
        """Extend the leases of what *worker* is sending; how many rows."""
        now = self.clock.now()
        statement = (
            update(deliveries)
            .where(deliveries.c.worker == worker, deliveries.c.status == SENDING)
            .values(lease_until=now + timedelta(seconds=lease_seconds))
        )
        count: int = await self._write(lambda conn: conn.execute(statement).rowcount or 0)
        return count

    # -- outcomes ----------------------------------------------------------------------------

    async def finish_deliveries(
        self, ids: Sequence[int], status: str, *, error: str | None = None
    ) -> None:
        """Mark claimed deliveries "sent" (now) or "failed" (with the reason)."""
        now = self.clock.now()
        if status not in (SENT, FAILED):
            raise ValueError(f"a delivery finishes sent or failed, not {status!r}")
        if not ids:
            return
        values = {
            "ids": list(ids),
            "finished": status,
            "finished_at": now if status == SENT else None,
            "error": error,
        }
        await self._write(lambda conn: conn.execute(_FINISH, values))

    async def release_deliveries(
        self,
        ids: Sequence[int],
        *,
        error: str | None = None,
        attempt: bool = False,
        not_before: datetime | None = None,
    ) -> None:
        """Give claimed deliveries back to the queue: pending again, claimable from
        *not_before* (at once by default), counting an attempt if one was made."""
        if not ids:
            return
        values: dict[str, Any] = {"status": PENDING, "worker": None, "lease_until": not_before}
        if attempt:
            values["attempts"] = deliveries.c.attempts + 1
        if error is not None:
            values["last_error"] = error
        statement = (
            update(deliveries)
            .where(deliveries.c.id.in_(list(ids)), deliveries.c.status == SENDING)
            .values(values)
        )

        def release(conn: Connection) -> None:
            conn.execute(statement)
            if not_before is None:  # due now: another process may take them at once
                notify_deliveries(conn)

        await self._write(release)

    async def hold_chat(
        self,
        chat_id: int,
        until: datetime | None,
        *,
        release: Sequence[int] = (),
        version: int | None = None,
    ) -> bool:
        """Set when the chat may receive again (None: decide at the next claim), giving back
        the claimed deliveries *release* in the same transaction. With a settings *version*
        (what the claim read), only if the settings have not changed since: the sender's
        decision on the old settings must not overwrite the hold the change cleared. Whether
        the hold was set."""

        def hold(conn: Connection) -> bool:
            statement = update(chats).where(chats.c.id == chat_id)
            if version is not None:
                statement = statement.where(chats.c.settings_version == version)
            done = conn.execute(statement.values(hold_until=until))
            if release:
                conn.execute(
                    update(deliveries)
                    .where(deliveries.c.id.in_(list(release)), deliveries.c.status == SENDING)
                    .values(status=PENDING, worker=None, lease_until=None)
                )
            return bool(done.rowcount)

        result: bool = await self._write(hold)
        return result

    async def deactivate_chat(self, chat_id: int, reason: str) -> int:
        """The chat blocked or removed the bot: deactivate it and its subscriptions, and fail
        its queued deliveries with *reason*; how many deliveries that failed."""

        def deactivate(conn: Connection) -> int:
            conn.execute(
                update(chats)
                .where(chats.c.id == chat_id)
                .values(active=False, deactivated_reason=reason, hold_until=None)
            )
            conn.execute(
                update(subscriptions).where(subscriptions.c.chat_id == chat_id).values(active=False)
            )
            done = conn.execute(
                update(deliveries)
                .where(
                    deliveries.c.chat_id == chat_id,
                    deliveries.c.status.in_((PENDING, SENDING)),
                )
                .values(status=FAILED, last_error=reason, worker=None, lease_until=None)
            )
            return int(done.rowcount or 0)

        count: int = await self._write(deactivate)
        return count

    async def reactivate_chat(self, chat_id: int) -> bool:
        """A chat that had blocked or removed the bot took it back: active again, with the
        subscriptions its deactivation suspended. Whether it was inactive."""

        def reactivate(conn: Connection) -> bool:
            done = conn.execute(
                update(chats)
                .where(chats.c.id == chat_id, chats.c.active.is_(False))
                .values(active=True, deactivated_reason=None)
            )
            if not done.rowcount:
                return False
            conn.execute(
                update(subscriptions).where(subscriptions.c.chat_id == chat_id).values(active=True)
            )
            return True

        result: bool = await self._write(reactivate)
        return result

    async def migrate_chat(self, old_id: int, new_id: int) -> None:
        """A group became supergroup *new_id*: its settings, subscriptions, queue and digests
        move to the new id (what the new id already had wins on conflict)."""

        def migrate(conn: Connection) -> None:
            old = conn.execute(select(chats).where(chats.c.id == old_id)).first()
            if old is None:
                return
            if conn.execute(select(chats.c.id).where(chats.c.id == new_id)).first() is None:
                values = dict(old._mapping)
                values["id"] = new_id
                conn.execute(chats.insert().values(values))
            have = select(subscriptions.c.category_id).where(subscriptions.c.chat_id == new_id)
            conn.execute(
                delete(subscriptions).where(
                    subscriptions.c.chat_id == old_id, subscriptions.c.category_id.in_(have)
                )
            )
            conn.execute(
                update(subscriptions)
                .where(subscriptions.c.chat_id == old_id)
                .values(chat_id=new_id)
            )
            queued = select(deliveries.c.article_id).where(deliveries.c.chat_id == new_id)
            conn.execute(
                delete(deliveries).where(
                    deliveries.c.chat_id == old_id, deliveries.c.article_id.in_(queued)
                )
            )
            # Claimed rows go back to the queue under the new id: the next claim sends them
            # there (the one whose send failed with the migration included).
            conn.execute(
                update(deliveries)
                .where(deliveries.c.chat_id == old_id)
                .values(
                    chat_id=new_id,
                    status=case(
                        (deliveries.c.status == SENDING, PENDING), else_=deliveries.c.status
                    ),
                    worker=None,
                    lease_until=None,
                )
            )
            conn.execute(update(digests).where(digests.c.chat_id == old_id).values(chat_id=new_id))
            conn.execute(delete(chats).where(chats.c.id == old_id))

        await self._write(migrate)

    # -- digests -----------------------------------------------------------------------------

    async def create_digest(self, chat_id: int, article_ids: Sequence[int]) -> int:
        """Keep the list of one digest message; its id."""
        now = self.clock.now()
        statement = (
            digests.insert()
            .values(chat_id=chat_id, article_ids=list(article_ids), created_at=now)
            .returning(digests.c.id)
        )
        digest_id: int = await self._write(lambda conn: conn.execute(statement).scalar_one())
        return digest_id

    async def get_digest(self, digest_id: int) -> Digest:
        """A digest by id; NotFound if there is none."""
        query = select(digests).where(digests.c.id == digest_id)
        row = await self._read(lambda conn: conn.execute(query).first())
        if row is None:
            raise NotFound(f"no digest {digest_id}")
        return Digest(row.id, row.chat_id, tuple(row.article_ids), row.created_at)

    # -- the queue's depth ---------------------------------------------------------------------

    async def queued_deliveries(self) -> dict[str, int]:
        """Rows waiting (pending) and claimed (sending), for the metrics gauges and the health
        check, which ask every scrape: unlike `stats()`, it reads only the live part of the
        status index, never the sent history, so it stays cheap as the table grows."""
        query = (
            select(deliveries.c.status, func.count())
            .where(deliveries.c.status.in_((PENDING, SENDING)))
            .group_by(deliveries.c.status)
        )

        def count(conn: Connection) -> dict[str, int]:
            found = {PENDING: 0, SENDING: 0}
            for status, n in conn.execute(query):
                found[status] = int(n)
            return found

        return await self._read(count)
