"""The migrations build exactly the schema the models describe."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from smsproxy.db import create_engine
from smsproxy.migrate import described_by_models, upgrade


async def test_migrations_match_models(database_url: str) -> None:
    engine = create_engine(database_url)

    def diff(connection):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "include_name": lambda name, kind, _parent: described_by_models(name, kind),
            },
        )
        return compare_metadata(context, SQLModel.metadata)

    async with engine.connect() as connection:
        differences = await connection.run_sync(diff)
    await engine.dispose()
    assert differences == [], f"models and migrations differ; add a migration: {differences}"


def test_active_keys_sharing_a_name_are_renamed_before_names_become_unique(
    tmp_path: Path,
) -> None:
    """0006_unrouted_state: the unique index on active key names is built over data that
    may already break it."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0001")
    with sqlite3.connect(tmp_path / "old.db") as connection:
        for number, (name, revoked) in enumerate(
            [("billing", None), ("billing", None), ("billing", "2030-01-01"), ("crm", None)]
        ):
            connection.execute(
                "INSERT INTO apikey (name, prefix, key_hash, created_at, revoked_at) "
                "VALUES (?, 'spx_x', ?, '2030-01-01', ?)",
                (name, f"hash-{number}", revoked),
            )
    upgrade(url)
    with sqlite3.connect(tmp_path / "old.db") as connection:
        names = connection.execute("SELECT id, name FROM apikey ORDER BY id").fetchall()
    assert names == [(1, "billing"), (2, "billing (2)"), (3, "billing"), (4, "crm")]
