"""The chats and subscriptions of `SqlStore`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Row,
    and_,
    select,
)
from sqlalchemy.engine import Connection

from bot.errors import NotFound
from bot.models import (
    Chat,
    Subscription,
)
from bot.store.base import StoreBase, _all, _first
from bot.store.schema import (
    articles,
    categories,
    chats,
    deliveries,
    subscriptions,
)
from bot.text import fold


def _to_chat(row: Row[Any]) -> Chat:
    return Chat(
        id=row.id,
        language=row.language,
        settings=dict(row.settings or {}),
        active=row.active,
        created_at=row.created_at,
    )


class ChatsMixin(StoreBase):
    async def upsert_chat(self, chat_id: int, *, language: str | None = None) -> Chat:
        values: dict[str, Any] = {
            "id": chat_id,
            "language": language or "fr",
            "settings": {},
            "active": True,
            "created_at": self.clock.now(),
        }
        statement = self._insert(chats).values(**values)
        if language:
            statement = statement.on_conflict_do_update(
                index_elements=["id"], set_={"language": language}
            )
        else:
            statement = statement.on_conflict_do_nothing()

        def run(conn: Connection) -> Row[Any]:
            conn.execute(statement)
            return conn.execute(select(chats).where(chats.c.id == chat_id)).one()

        return _to_chat(await self._write(run))

    async def find_chat(self, chat_id: int) -> Chat | None:
        row = await self._read(_first, select(chats).where(chats.c.id == chat_id))
        return _to_chat(row) if row else None

    async def update_chat_settings(
        self, chat_id: int, *, reschedule: bool = True, **settings: object
    ) -> Chat:
        def run(conn: Connection) -> Chat:
            row = conn.execute(select(chats).where(chats.c.id == chat_id)).first()
            if row is None:
                raise NotFound(f"no chat {chat_id}")
            merged = {**(row.settings or {}), **settings}
            values: dict[str, Any] = {"settings": merged}
            if reschedule:  # when the chat receives may change: the sender decides again
                values.update(hold_until=None, settings_version=chats.c.settings_version + 1)
            conn.execute(chats.update().where(chats.c.id == chat_id).values(**values))
            return Chat(row.id, row.language, merged, row.active, row.created_at)

        return await self._write(run)

    async def subscribe(
        self,
        chat_id: int,
        category: str,
        filters: Sequence[str] = (),
        *,
        thread_id: int | None = None,
    ) -> Subscription:
        now = self.clock.now()

        def run(conn: Connection) -> tuple[Row[Any], int, str]:
            found = self._lookup_category(conn, fold(category))
            if found is None:
                raise NotFound(f"no category {category!r}")
            category_id, name = found
            row = conn.execute(select(chats.c.id).where(chats.c.id == chat_id)).first()
            if row is None:
                raise NotFound(f"no chat {chat_id}")
            conn.execute(
                self._insert(subscriptions)
                .values(
                    chat_id=chat_id,
                    category_id=category_id,
                    filters=list(filters),
                    active=True,
                    created_at=now,
                    thread_id=thread_id,
                )
                .on_conflict_do_update(
                    index_elements=["chat_id", "category_id"],
                    set_={"filters": list(filters), "active": True, "thread_id": thread_id},
                )
            )
            # Subscribing from another topic moves the category there, with what is queued.
            in_category = select(articles.c.id).where(articles.c.category_id == category_id)
            conn.execute(
                deliveries.update()
                .where(
                    deliveries.c.chat_id == chat_id,
                    deliveries.c.status == "pending",
                    deliveries.c.article_id.in_(in_category),
                    deliveries.c.thread_id.is_distinct_from(thread_id),
                )
                .values(thread_id=thread_id)
            )
            # Subscribing is talking to us: a chat deactivated when it blocked the bot is back.
            conn.execute(
                chats.update()
                .where(chats.c.id == chat_id, chats.c.active.is_(False))
                .values(active=True, deactivated_reason=None)
            )
            sub = conn.execute(
                select(subscriptions).where(
                    and_(
                        subscriptions.c.chat_id == chat_id,
                        subscriptions.c.category_id == category_id,
                    )
                )
            ).one()
            return sub, category_id, name

        sub, category_id, name = await self._write(run)
        return Subscription(
            sub.id,
            chat_id,
            name,
            tuple(sub.filters),
            sub.active,
            sub.created_at,
            category_id,
            sub.thread_id,
        )

    async def unsubscribe(
        self, chat_id: int, category: str | None = None, *, thread_id: int | None = None
    ) -> int:
        def run(conn: Connection) -> int:
            condition = subscriptions.c.chat_id == chat_id
            # What is queued for the chat and not sent yet goes with the subscription: a
            # digest or the end of quiet hours must not bring a category the chat has left.
            queued = and_(deliveries.c.chat_id == chat_id, deliveries.c.status == "pending")
            if category is None:  # "all": of this topic (or of the chat outside topics)
                condition = and_(
                    condition, subscriptions.c.thread_id.is_not_distinct_from(thread_id)
                )
                queued = and_(queued, deliveries.c.thread_id.is_not_distinct_from(thread_id))
            else:
                found = self._lookup_category(conn, fold(category))
                if found is None:
                    return 0
                condition = and_(condition, subscriptions.c.category_id == found[0])
                in_category = select(articles.c.id).where(articles.c.category_id == found[0])
                queued = and_(queued, deliveries.c.article_id.in_(in_category))
            removed = int(conn.execute(subscriptions.delete().where(condition)).rowcount or 0)
            if removed:
                conn.execute(deliveries.delete().where(queued))
            return removed

        return await self._write(run)

    async def subscriptions(self, chat_id: int) -> list[Subscription]:
        query = (
            select(subscriptions, categories.c.name.label("category"))
            .join(categories, subscriptions.c.category_id == categories.c.id)
            .where(subscriptions.c.chat_id == chat_id)
            .order_by(categories.c.key)
        )
        rows = await self._read(_all, query)
        return [
            Subscription(
                r.id,
                r.chat_id,
                r.category,
                tuple(r.filters),
                r.active,
                r.created_at,
                r.category_id,
                r.thread_id,
            )
            for r in rows
        ]

    async def deactivate_topic(self, chat_id: int, thread_id: int, reason: str) -> list[str]:
        def run(conn: Connection) -> list[str]:
            in_topic = and_(
                subscriptions.c.chat_id == chat_id,
                subscriptions.c.thread_id == thread_id,
                subscriptions.c.active.is_(True),
            )
            # The rows this transaction turned off: a concurrent call waits on their locks and
            # then finds them inactive, so only one caller gets the names (and tells the chat).
            stopped = list(
                conn.execute(
                    subscriptions.update()
                    .where(in_topic)
                    .values(active=False)
                    .returning(subscriptions.c.category_id)
                ).scalars()
            )
            names = list(
                conn.execute(
                    select(categories.c.name)
                    .where(categories.c.id.in_(stopped))
                    .order_by(categories.c.key)
                ).scalars()
            )
            conn.execute(
                deliveries.update()
                .where(
                    deliveries.c.chat_id == chat_id,
                    deliveries.c.thread_id == thread_id,
                    deliveries.c.status.in_(("pending", "sending")),
                )
                .values(status="failed", last_error=reason, worker=None, lease_until=None)
            )
            return names

        result: list[str] = await self._write(run)
        return result
