"""Concurrency across chats, order within a chat: a busy chat must not hold up the others."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from telegram import Chat, Message, Update

from bot.chat.application import PerChatUpdateProcessor


def update(update_id: int, chat_id: int) -> Update:
    chat = Chat(chat_id, Chat.PRIVATE)
    return Update(update_id, message=Message(update_id, datetime.now(UTC), chat, text="x"))


async def test_a_busy_chat_does_not_stall_the_others_and_keeps_its_order() -> None:
    processor = PerChatUpdateProcessor(concurrency=2)
    events: list[str] = []
    gate = asyncio.Event()
    other_done = asyncio.Event()

    async def work(name: str, blocked: bool = False) -> None:
        events.append(f"start {name}")
        if blocked:
            await gate.wait()
        events.append(f"end {name}")
        if name == "B1":
            other_done.set()

    tasks = [
        asyncio.create_task(processor.process_update(update(1, 10), work("A1", blocked=True))),
        asyncio.create_task(processor.process_update(update(2, 10), work("A2"))),
        asyncio.create_task(processor.process_update(update(3, 10), work("A3"))),
        asyncio.create_task(processor.process_update(update(4, 20), work("B1"))),
    ]
    await asyncio.wait_for(other_done.wait(), 2)  # chat 20 answered while chat 10 is stuck
    assert "start A2" not in events
    gate.set()
    await asyncio.gather(*tasks)
    order = [e for e in events if "A" in e]
    assert order == ["start A1", "end A1", "start A2", "end A2", "start A3", "end A3"]


async def test_no_more_than_the_allowed_updates_at_once() -> None:
    processor = PerChatUpdateProcessor(concurrency=2)
    running = 0
    peak = 0

    async def work() -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    await asyncio.gather(*(processor.process_update(update(i, i), work()) for i in range(1, 9)))
    assert peak == 2
