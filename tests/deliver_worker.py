"""A sender process for tests: drains a store's deliveries queue into a (fake) Bot API, then
exits. `python -m tests.deliver_worker STORE_URL API_BASE_URL TOKEN` prints "ready", waits for
a line on stdin (so two workers start sending together), drains until the queue has nothing
due for a second, and prints how many messages it sent.
"""

from __future__ import annotations

import asyncio
import sys

from telegram import Bot

from bot.chat.outbox import TelegramOutbox
from bot.clock import SystemClock
from bot.config import DeliveryConfig, SummaryConfig
from bot.deliver.rules import PushRules
from bot.deliver.sender import Sender
from bot.services.articles import ArticleService
from bot.services.chats import ChatService
from bot.services.subscriptions import SubscriptionService
from bot.services.summaries import SummaryService
from bot.store import open_store

# Small batches, so that two workers take turns claiming.
CONFIG = DeliveryConfig(
    messages_per_second=100, private_chat_per_second=100, poll_seconds=0.1, batch_size=10
)


async def main(url: str, api_base: str, token: str) -> None:
    clock = SystemClock()  # a process of its own: the machine's clock, as `newsbot run`
    store = await open_store(url, clock=clock, rules=PushRules())
    bot = Bot(token, base_url=api_base)
    await bot.initialize()
    summaries = SummaryService(store, SummaryConfig())
    articles = ArticleService(store, summaries, clock=clock)
    chats = ChatService(store, SummaryConfig(), clock=clock)
    subscriptions = SubscriptionService(store, articles, chats, CONFIG)
    sender = Sender(store, TelegramOutbox(bot, articles, chats, subscriptions), CONFIG, clock=clock)
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    idle = 0
    while idle < 10:
        claimed = await sender.drain_once()
        while sender._tasks:
            await asyncio.gather(*list(sender._tasks.values()))
        idle = 0 if claimed else idle + 1
        if not claimed:
            await asyncio.sleep(0.1)
    print(sender.stats.sent, flush=True)
    await bot.shutdown()
    await store.close()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
