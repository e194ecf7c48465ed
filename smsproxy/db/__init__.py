"""Database engines, sessions and the unit of work.

SQLite (aiosqlite) is the embedded default; PostgreSQL (asyncpg) is for production.
A unit of work (`Database.transaction`) collects the domain events and outbox wake-ups
raised inside it and hands them on only after the transaction has committed; units of
work that arrive together can share one transaction (`group_commit`).

    types         UTC datetimes, the dialect's INSERT
    engines       engines with timeouts: a busy or frozen database answers, never hangs
    errors        unavailable (503) versus wrong; the mistakes the unit of work refuses
    unit          Database: the unit of work, one writer at a time on SQLite
    group_commit  many units of work, one transaction, each in a savepoint
"""

from .engines import EngineOptions, async_url, create_engine
from .errors import DatabaseBusy, NestedTransaction, is_unavailable
from .types import UTCDateTime, insert_for, utcnow
from .unit import AfterCommit, Database, before_commit

__all__ = [
    "AfterCommit",
    "Database",
    "DatabaseBusy",
    "EngineOptions",
    "NestedTransaction",
    "UTCDateTime",
    "async_url",
    "before_commit",
    "create_engine",
    "insert_for",
    "is_unavailable",
    "utcnow",
]
