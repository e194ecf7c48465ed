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


def test_chats_already_waiting_for_staff_are_found_by_the_upgrade(tmp_path: Path) -> None:
    """0009_assignment: a chat waits since the first participant text after its last
    staff message; answered chats and chats without texts do not wait."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0008_ambiguous_sends")
    texts = {
        "ch_answered": [("participant", "01"), ("staff", "02")],
        "ch_waiting": [
            ("staff", "03"),
            ("participant", "04"),
            ("system", "05"),
            ("participant", "06"),
        ],
        "ch_silent": [],
    }
    with sqlite3.connect(tmp_path / "old.db") as connection:
        for chat_id, (public_id, messages) in enumerate(texts.items(), start=1):
            connection.execute(
                "INSERT INTO chat (id, public_id, status, created_at, last_activity_at) "
                "VALUES (?, ?, 'active', '2026-01-01 00:00:00.000000', "
                "'2026-01-01 00:00:00.000000')",
                (chat_id, public_id),
            )
            for kind, minute in messages:
                connection.execute(
                    "INSERT INTO message (public_id, chat_id, author_kind, body, created_at) "
                    "VALUES (?, ?, ?, 'x', ?)",
                    (f"msg_{minute}", chat_id, kind, f"2026-01-01 00:{minute}:00.000000"),
                )
    upgrade(url)
    with sqlite3.connect(tmp_path / "old.db") as connection:
        rows = connection.execute(
            "SELECT public_id, awaiting_since FROM chat ORDER BY id"
        ).fetchall()
    assert rows == [
        ("ch_answered", None),
        ("ch_waiting", "2026-01-01 00:04:00.000000"),
        ("ch_silent", None),
    ]
