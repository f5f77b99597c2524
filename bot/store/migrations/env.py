"""Alembic environment: always run programmatically by `bot.store.migrate`.

The caller opens a connection on its own (async) engine and hands it over in
`config.attributes["connection"]`, so migrations run on the same driver as the bot.
"""

from __future__ import annotations

from alembic import context

from bot.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - guarded by bot.store.migrate
    raise RuntimeError("run migrations with `newsbot db upgrade`, not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
