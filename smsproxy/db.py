"""Database engine, sessions and the unit of work.

SQLite (aiosqlite) is the embedded default; PostgreSQL (asyncpg) is for production.
A unit of work collects the domain events and outbox wake-ups raised inside it and
hands them on only after the transaction has committed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.types import TypeDecorator
from sqlmodel.ext.asyncio.session import AsyncSession


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def async_url(url: str) -> str:
    """Map the URLs people write to the async drivers this app uses."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url.removeprefix("postgres://")
    if url.startswith("postgresql://"):
        return "postgresql+asyncpg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + url.removeprefix("sqlite://")
    return url


def create_engine(url: str, *, read_only: bool = False, **kwargs: Any) -> AsyncEngine:
    """An engine for `url`. On SQLite, `read_only` connections run deferred read
    transactions that never take the write lock and refuse to write."""
    url = async_url(url)
    # Statement parameters are phone numbers and message texts: keep them out of error
    # messages and tracebacks, which end up in logs.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)
        _make_sqlite_safe(engine, read_only=read_only)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    return create_async_engine(url, **kwargs)


def _make_sqlite_safe(engine: AsyncEngine, *, read_only: bool) -> None:
    # pysqlite's deferred transactions fail with "database is locked" when two
    # connections upgrade to writing at once; BEGIN IMMEDIATE takes the write lock up
    # front so busy_timeout can queue writers instead. Readers use a separate engine
    # whose plain BEGIN reads a WAL snapshot without waiting for, or blocking, writers.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if read_only:
            cursor.execute("PRAGMA query_only=1")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


# PostgreSQL error classes that mean "the database is not there right now", not "this
# statement is wrong": connection exceptions, a missing database, shutdown, starting up.
UNAVAILABLE_SQLSTATES = ("08", "3D000", "57P01", "57P02", "57P03", "53300")
SQLITE_DOWN = ("unable to open", "database is locked", "disk i/o error", "readonly database")


def is_unavailable(error: BaseException) -> bool:
    """True when the database cannot be reached (as opposed to a bad statement)."""
    if isinstance(error, OSError | ConnectionError | TimeoutError):
        return True
    message = str(getattr(error, "orig", None) or error).lower()
    if isinstance(error, OperationalError) and any(text in message for text in SQLITE_DOWN):
        return True
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return True
        state = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
        if isinstance(state, str) and state.startswith(UNAVAILABLE_SQLSTATES):
            return True
        cause = error.orig.__cause__ if error.orig is not None else None
        return isinstance(cause, OSError | ConnectionError | TimeoutError)
    return False


def insert_for(session: AsyncSession) -> Any:
    """The dialect's INSERT, which has ON CONFLICT (upserts) on both databases."""
    dialect = session.get_bind().dialect.name
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


AfterCommit = Callable[[AsyncSession], Any]


class Database:
    """The engine plus a session factory whose units of work run hooks after commit."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = create_engine(url, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        self.read_engine = self.engine
        if self.engine.dialect.name == "sqlite" and _is_file(url):
            self.read_engine = create_engine(url, read_only=True, **engine_kwargs)
        self.read_sessions = async_sessionmaker(
            self.read_engine, class_=AsyncSession, expire_on_commit=False
        )
        self.before_commit: list[AfterCommit] = []
        self.after_commit: list[AfterCommit] = []

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: before-commit hooks, commit (or roll back on error), then
        after-commit hooks."""
        async with self.sessions() as session:
            async with session.begin():
                yield session
                for hook in self.before_commit:
                    await hook(session)
            for hook in self.after_commit:
                result = hook(session)
                if hasattr(result, "__await__"):
                    await result

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reading only (on SQLite it cannot write)."""
        async with self.read_sessions() as session:
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()


def _is_file(url: str) -> bool:
    """In-memory SQLite is one database per connection: readers must share the writer's."""
    path = url.split(":///", 1)[-1] if ":///" in url else ""
    return bool(path) and path != ":memory:" and "mode=memory" not in url
