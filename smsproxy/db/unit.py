"""The unit of work: a transaction whose domain events and outbox wake-ups are handed
on only after it has committed.

On SQLite a process has one writer connection and its units of work take turns on an
asyncio lock in front of it (first come, first served), instead of each pooled
connection sleeping in SQLite's busy handler until the lock happens to be free. A unit
of work that opens another (or a read) in the same task is refused: it would wait for
itself.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from .engines import EngineOptions, create_engine, is_file_database
from .errors import DatabaseBusy, NestedTransaction

AfterCommit = Callable[[AsyncSession], Any]
BeforeCommit = Callable[[AsyncSession], Awaitable[None]]
_BEFORE_COMMIT_KEY = "smsproxy.before_commit"


def before_commit(session: AsyncSession, key: str, hook: BeforeCommit) -> None:
    """Have `hook(session)` run once, just before this unit of work commits, however
    often it is asked for under `key`: work collected during the transaction (such as
    one chat's activity, touched by many SMS of a batch) is written once, at the end."""
    session.info.setdefault(_BEFORE_COMMIT_KEY, {}).setdefault(key, hook)


# (database, task) of the unit of work the current task is inside, if any. Compared by
# task so that a task started inside a transaction, which inherits this variable, is not
# mistaken for the transaction's own.
_INSIDE: ContextVar[tuple[Database, asyncio.Task[Any] | None] | None] = ContextVar(
    "smsproxy_unit_of_work", default=None
)


class Database:
    """The engine plus a session factory whose units of work run hooks after commit."""

    def __init__(self, url: str, options: EngineOptions | None = None, **engine_kwargs: Any):
        self.url = url
        self.options = options or EngineOptions()
        self.engine = create_engine(url, options=self.options, **engine_kwargs)
        self.sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False)
        self.read_engine = self.engine
        if self.engine.dialect.name == "sqlite" and is_file_database(url):
            self.read_engine = create_engine(
                url, read_only=True, options=self.options, **engine_kwargs
            )
        self.read_sessions = async_sessionmaker(
            self.read_engine, class_=AsyncSession, expire_on_commit=False
        )
        self.before_commit: list[AfterCommit] = []
        self.after_commit: list[AfterCommit] = []
        # SQLite takes one writer at a time per database file; in-memory SQLite has a
        # single connection that readers share, so they queue here too.
        self._serialised = self.engine.dialect.name == "sqlite"
        self._readers_queue = self._serialised and self.read_engine is self.engine
        self._write_lock = asyncio.Lock()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One unit of work: before-commit hooks, commit (or roll back on error), then
        after-commit hooks."""
        self._refuse_nesting("a transaction")
        async with self.sessions() as session:
            token = _INSIDE.set((self, asyncio.current_task()))
            try:
                async with self._turn(), session.begin():
                    yield session
                    while hooks := session.info.pop(_BEFORE_COMMIT_KEY, None):
                        for hook in hooks.values():
                            await hook(session)
                    for hook in self.before_commit:
                        await hook(session)
            finally:
                _INSIDE.reset(token)
            for hook in self.after_commit:
                result = hook(session)
                if hasattr(result, "__await__"):
                    await result

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reading only (on SQLite it cannot write)."""
        self._refuse_nesting("a read")
        turn = self._turn() if self._readers_queue else contextlib.nullcontext()
        async with turn, self.read_sessions() as session:
            yield session

    def _refuse_nesting(self, what: str) -> None:
        inside = _INSIDE.get()
        if inside is not None and inside[0] is self and inside[1] is asyncio.current_task():
            raise NestedTransaction(
                f"{what} was opened inside a transaction on the same database: use the "
                "transaction's own session"
            )

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """This process's turn to write (SQLite); PostgreSQL writers need no turns."""
        if not self._serialised:
            yield
            return
        try:
            async with asyncio.timeout(self.options.timeout_seconds):
                await self._write_lock.acquire()
        except TimeoutError:
            raise DatabaseBusy(
                f"the database stayed busy for {self.options.timeout_seconds:g} s"
            ) from None
        try:
            yield
        finally:
            self._write_lock.release()

    @property
    def writers_waiting(self) -> int:
        """Units of work queued for their turn (SQLite), for diagnostics."""
        waiters = getattr(self._write_lock, "_waiters", None)
        return len(waiters) if waiters else 0

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
