"""Alembic environment: runs migrations through the app's async engine."""

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from smsproxy import models  # noqa: F401  (registers the tables)
from smsproxy.db import async_url, create_engine
from smsproxy.migrate import described_by_models

config = context.config
target_metadata = SQLModel.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_name=lambda name, kind, _parent: described_by_models(name, kind),
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    url = config.get_main_option("sqlalchemy.url") or ""
    extra: dict[str, Any] = {}
    if async_url(url).startswith("postgresql"):
        # A migration may build an index over millions of rows: none of the app's
        # per-statement timeouts (DATABASE_TIMEOUT_SECONDS), on the server or the client.
        extra["connect_args"] = {
            "timeout": 30,
            "command_timeout": None,
            "server_settings": {"statement_timeout": "0"},
        }
    engine = create_engine(url, **extra)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
