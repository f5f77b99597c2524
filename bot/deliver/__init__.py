"""Delivery of subscribed categories: the deliveries queue drained into Telegram.

    policy     when a chat may receive: instant, digest time, quiet hours, pause (pure)
    limiter    Telegram's limits as send slots: overall, per private chat, per group
    sender     claims leased batches from the store, sends each chat's in order, records outcomes

Telegram itself is behind the sender's `Outbox` protocol (`bot.chat.outbox`): nothing here
imports `telegram`.
"""
