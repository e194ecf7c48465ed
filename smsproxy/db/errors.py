"""Telling "the database is not there right now" (answer 503, retry later) from "this
statement is wrong", and the two mistakes the unit of work refuses."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# PostgreSQL error classes that mean "the database is not there right now", not "this
# statement is wrong": connection exceptions, a missing database, shutdown, starting up,
# too many connections, and our own timeouts (statement_timeout cancels with 57014).
UNAVAILABLE_SQLSTATES = ("08", "3D000", "57P01", "57P02", "57P03", "53300", "57014", "55P03")
SQLITE_DOWN = ("unable to open", "database is locked", "disk i/o error", "readonly database")


class DatabaseBusy(TimeoutError):
    """This process waited too long for its turn to write (SQLite's one writer)."""


class NestedTransaction(RuntimeError):
    """A unit of work opened another one, or a read, on the same database.

    On SQLite the inner one would wait for the write lock its own task holds; on
    PostgreSQL it takes a second pooled connection while holding the first, which under
    load leaves every connection waiting for another. Both stall; this fails instead.
    """


def is_unavailable(error: BaseException) -> bool:
    """True when the database cannot be reached or did not answer in time (as opposed
    to a bad statement): the caller should answer 503 and be retried."""
    if isinstance(error, OSError | ConnectionError | TimeoutError | PoolTimeout):
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
