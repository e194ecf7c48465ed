"""The seeded SQLite file copied into a fresh PostgreSQL database, for the data-scale
benchmark to run the same requests on PostgreSQL.

The file holds the first schema revision's columns (see seed_scale): the copy migrates
a new database to revision 0001, copies the rows with COPY, moves the id sequences on,
then migrates to the newest schema like a real upgrade (timed: it builds the indexes).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

from smsproxy.migrate import upgrade

# table: (columns, timestamp columns, boolean columns)
TABLES: dict[str, tuple[list[str], set[str], set[str]]] = {
    "proxynumber": (["id", "number", "country", "label", "enabled", "created_at"],
                    {"created_at"}, {"enabled"}),
    "chat": (["id", "public_id", "status", "reference", "created_at", "closed_at",
              "close_reason", "last_activity_at"],
             {"created_at", "closed_at", "last_activity_at"}, set()),
    "participant": (["id", "public_id", "chat_id", "real_number", "name", "proxy_number",
                     "active", "opted_out", "position", "created_at"],
                    {"created_at"}, {"active", "opted_out"}),
    "message": (["id", "public_id", "chat_id", "author_kind", "participant_id", "sender_number",
                 "proxy_number", "body", "carrier_message_id", "created_at"],
                {"created_at"}, set()),
    "delivery": (["id", "public_id", "kind", "message_id", "chat_id", "participant_id",
                  "from_number", "to_number", "body", "status", "attempts", "next_attempt_at",
                  "carrier_message_ids", "created_at", "updated_at", "sent_at"],
                 {"next_attempt_at", "created_at", "updated_at", "sent_at"}, set()),
}  # fmt: skip
BATCH = 50_000


@contextmanager
def postgres_copy(seeded: Path, server_url: str) -> Iterator[str]:
    """A new database on `server_url` holding the seeded rows, newest schema; dropped after."""
    name = f"smsproxy_scale_{uuid.uuid4().hex[:8]}"
    root = server_url.rsplit("/", 1)[0]
    url = f"{root}/{name}"
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    try:
        upgrade(url, "0001")
        began = time.monotonic()
        asyncio.run(_copy(seeded, url))
        print(f"  copied into PostgreSQL in {time.monotonic() - began:.0f} s", flush=True)
        began = time.monotonic()
        upgrade(url)
        asyncio.run(_admin(url, "ANALYZE"))
        print(f"  migrating to the newest schema took {time.monotonic() - began:.1f} s")
        yield url
    finally:
        asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _copy(seeded: Path, url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        with sqlite3.connect(seeded) as source:
            for table, (columns, times, flags) in TABLES.items():
                rows = source.execute(f"SELECT {', '.join(columns)} FROM {table}")
                while batch := rows.fetchmany(BATCH):
                    records = [_converted(row, columns, times, flags) for row in batch]
                    await connection.copy_records_to_table(table, records=records, columns=columns)
                await connection.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT coalesce(max(id), 1) FROM {table}))"
                )
    finally:
        await connection.close()


def _converted(row: Any, columns: list[str], times: set[str], flags: set[str]) -> tuple[Any, ...]:
    values = []
    for column, value in zip(columns, row, strict=True):
        if column in times and value is not None:
            value = datetime.fromisoformat(value).replace(tzinfo=UTC)
        elif column in flags:
            value = bool(value)
        values.append(value)
    return tuple(values)
