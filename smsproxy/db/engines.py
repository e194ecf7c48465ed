"""Engines tuned so that a busy or frozen database gives a quick, clear error (503)
rather than a request that hangs.

SQLite: one writer connection per process (writers queue in the process, see `unit`),
readers on WAL snapshots through engines of their own. PostgreSQL: a bounded pool, and
timeouts on connecting, on waiting for a pooled connection and on every statement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


@dataclass(frozen=True)
class EngineOptions:
    """How long anything may wait for the database, and each process's pool."""

    timeout_seconds: float = 5.0  # DATABASE_TIMEOUT_SECONDS
    pool_size: int = 5  # DATABASE_POOL_SIZE (PostgreSQL; SQLite's readers)
    max_overflow: int = 5  # DATABASE_MAX_OVERFLOW


def async_url(url: str) -> str:
    """Map the URLs people write to the async drivers this app uses."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url.removeprefix("sqlite://")
    return url


def create_engine(
    url: str,
    *,
    read_only: bool = False,
    options: EngineOptions | None = None,
    **kwargs: Any,
) -> AsyncEngine:
    """An engine for `url`. On SQLite, `read_only` connections run deferred read
    transactions that never take the write lock and refuse to write; the writer engine
    keeps a single connection."""
    url = async_url(url)
    options = options or EngineOptions()
    # Statement parameters are phone numbers and message texts: keep them out of error
    # messages and tracebacks, which end up in logs.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        if is_file_database(url):  # in-memory SQLite has a single, static connection
            kwargs.setdefault("pool_timeout", options.timeout_seconds)
            kwargs.setdefault("pool_size", options.pool_size if read_only else 1)
            kwargs.setdefault("max_overflow", options.max_overflow if read_only else 0)
        engine = create_async_engine(
            url, connect_args={"timeout": options.timeout_seconds}, **kwargs
        )
        _make_sqlite_safe(engine, read_only=read_only, timeout=options.timeout_seconds)
        return engine
    kwargs.setdefault("pool_timeout", options.timeout_seconds)
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", options.pool_size)
    kwargs.setdefault("max_overflow", options.max_overflow)
    kwargs.setdefault("connect_args", postgres_connect_args(options.timeout_seconds))
    return create_async_engine(url, **kwargs)


def postgres_connect_args(timeout: float) -> dict[str, Any]:
    """asyncpg's arguments: connect within `timeout`; the server cancels a statement
    running longer (57014, a 503), and the client gives up a little later still, for a
    server that no longer answers at all (stopped, or a network gone quiet)."""
    milliseconds = str(math.ceil(timeout * 1000))
    return {
        "timeout": timeout,
        "command_timeout": timeout + 1,
        "server_settings": {
            "statement_timeout": milliseconds,
            # A process frozen inside a transaction would hold its row locks for good.
            "idle_in_transaction_session_timeout": str(math.ceil(max(60.0, 6 * timeout) * 1000)),
        },
    }


def _make_sqlite_safe(engine: AsyncEngine, *, read_only: bool, timeout: float) -> None:
    # pysqlite's deferred transactions fail with "database is locked" when two
    # connections upgrade to writing at once; BEGIN IMMEDIATE takes the write lock up
    # front. In one process writers queue on an asyncio lock in front of the single
    # writer connection (see unit.Database), so the busy handler only ever waits for
    # another process, and gives up after `timeout` (a 503) rather than hanging.
    # Readers use a separate engine whose plain BEGIN reads a WAL snapshot without
    # waiting for, or blocking, writers.
    busy_ms = math.ceil(timeout * 1000)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if read_only:
            cursor.execute("PRAGMA query_only=1")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def is_file_database(url: str) -> bool:
    """In-memory SQLite is one database per connection: readers must share the writer's."""
    path = url.split(":///", 1)[-1] if ":///" in url else ""
    return bool(path) and path != ":memory:" and "mode=memory" not in url
