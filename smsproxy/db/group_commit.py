"""Group commit: units of work that arrive together share one transaction.

Under load most of a small transaction's cost is its fixed part: waiting for the write
lock (SQLite) or a pooled connection (PostgreSQL), BEGIN, writing the events, COMMIT.
A GroupCommit runs everything submitted while the previous batch was committing as the
next batch: one transaction, one commit. Each caller gets its own answer only once the
commit that holds its work is done.

A unit of work that raises fails alone. The batch first runs as it is; if one unit of
work raises, the transaction is rolled back and the batch runs again with each unit of
work in a SAVEPOINT of its own: the one that fails has its savepoint rolled back (with
the events and wake-ups it had noted) and its caller gets the exception, while the
others commit. (Savepoints for every unit of work would cost two statements each on
the path every SMS takes, to guard against what rarely happens.) So a unit of work
must be safe to run twice: everything it does is in the session. If the database
itself fails (unreachable, too slow, the commit refused), every caller of the batch
gets that error: none of them was committed.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from .errors import is_unavailable
from .unit import Database

log = logging.getLogger(__name__)

T = TypeVar("T")
Work = Callable[[AsyncSession], Awaitable[T]]

MAX_BATCH = 200  # bounds one transaction's length (and a failed batch's retries)


@dataclass
class _Item(Generic[T]):
    work: Work[T]
    future: asyncio.Future[T]


@dataclass
class _Failed:
    error: BaseException


class GroupCommit:
    """Commits units of work in batches, one batch at a time (see the module's doc)."""

    def __init__(self, db: Database, *, max_batch: int = MAX_BATCH) -> None:
        self.db = db
        self.max_batch = max_batch
        self._queue: list[_Item[Any]] = []
        self._committer: asyncio.Task[None] | None = None
        self.batches = 0  # committed transactions, for diagnostics and tests
        self.items = 0

    async def run(self, work: Work[T]) -> T:
        """Run `work(session)` in the next batch; return its result once committed.

        Once submitted, the work is done even if the caller is cancelled meanwhile (a
        client that hung up): what it records must not depend on who is still waiting.
        """
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append(_Item(work, future))
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit_all(), name="group-commit")
        return await asyncio.shield(future)

    @property
    def waiting(self) -> int:
        return len(self._queue)

    async def aclose(self) -> None:
        """Commit what was submitted, then stop."""
        while self._committer is not None:
            await asyncio.shield(self._committer)

    async def _commit_all(self) -> None:
        try:
            while self._queue:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                await self._commit(batch)
        finally:
            self._committer = None
            if self._queue:  # cancelled mid-way: nobody may be left waiting for good
                for item in self._queue:
                    _settle(item, _Failed(asyncio.CancelledError()))
                self._queue.clear()

    async def _commit(self, batch: list[_Item[Any]]) -> None:
        try:
            try:
                outcomes = await self._transaction(batch, savepoints=False)
            except _OneFailed as failed:
                if len(batch) == 1:
                    raise failed.error from None
                outcomes = await self._transaction(batch, savepoints=True)
        except BaseException as error:
            for item in batch:
                _settle(item, _Failed(error))
            if not isinstance(error, Exception):
                raise
            if len(batch) > 1 and not is_unavailable(error):
                # A lone unit of work's error is its caller's to report; this one took
                # its neighbours down with it (a before-commit hook, the commit itself).
                log.exception("a group commit of %d units of work failed", len(batch))
            return
        self.batches += 1
        self.items += len(batch)
        for item, outcome in zip(batch, outcomes, strict=True):
            _settle(item, outcome)

    async def _transaction(self, batch: list[_Item[Any]], *, savepoints: bool) -> list[Any]:
        outcomes: list[Any] = []
        async with self.db.transaction() as session:
            for item in batch:
                if savepoints:
                    outcomes.append(await _in_savepoint(session, item.work))
                    continue
                try:
                    outcomes.append(await item.work(session))
                except Exception as error:
                    if is_unavailable(error):
                        raise
                    raise _OneFailed(error) from error
        return outcomes


class _OneFailed(Exception):
    """A unit of work raised in a batch run without savepoints: run it again with them."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


async def _in_savepoint(session: AsyncSession, work: Work[Any]) -> Any:
    """Run one unit of work in a savepoint; its failure, if any, as a _Failed."""
    noted = {key: copy.copy(value) for key, value in session.info.items()}
    try:
        async with session.begin_nested():
            return await work(session)
    except Exception as error:
        if is_unavailable(error):
            raise  # the connection or the database is gone: the whole batch is lost
        # Forget the events and wake-ups noted by the work that was rolled back.
        session.info.clear()
        session.info.update(noted)
        return _Failed(error)


def _settle(item: _Item[Any], outcome: Any) -> None:
    if item.future.done():
        return
    if isinstance(outcome, _Failed) and isinstance(outcome.error, asyncio.CancelledError):
        item.future.cancel()
    elif isinstance(outcome, _Failed):
        item.future.set_exception(outcome.error)
    else:
        item.future.set_result(outcome)
