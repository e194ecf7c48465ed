"""Apply Alembic migrations programmatically (`smsproxy db upgrade`, `smsproxy run`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database to `revision`. Runs its own event loop: call it from a thread
    (`upgrade_async`) when one is already running."""
    command.upgrade(alembic_config(database_url), revision)


async def upgrade_async(database_url: str, revision: str = "head") -> None:
    await asyncio.to_thread(upgrade, database_url, revision)


def revision(database_url: str, message: str) -> None:
    """For developers: autogenerate a migration from the models."""
    command.revision(alembic_config(database_url), message=message, autogenerate=True)


# Made by migrations the models cannot describe (0011_message_search): the FTS5 table
# (and the tables FTS5 keeps beside it) on SQLite, the expression index on PostgreSQL.
SEARCH_INDEX_NAMES = ("message_search", "ix_message_body_search")


def described_by_models(name: str | None, kind: str) -> bool:
    """False for the search index's tables and index, which autogenerate and the model
    comparison must leave alone (alembic's `include_name`)."""
    return not (name and kind in ("table", "index") and name.startswith(SEARCH_INDEX_NAMES))
