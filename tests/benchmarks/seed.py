"""A large SQLite database in the migrated schema, written with plain SQL in seconds.

Shape (at scale 1): 100,000 chats, the newest 10 % still active; two participants each
(200,000), drawn from 60,000 people who each keep their name and number across chats;
ten messages per chat (1,000,000) a minute apart; one forward delivery per message plus
one intro per chat (1,100,000), all delivered. Chats are spread over the last 90 days.
Every row is generated inside SQLite (recursive CTEs), not in Python.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

DAYS = 90
POOL_SIZE = 100
ACTIVE_SHARE = 0.10
PEOPLE_PER_PARTICIPANT = 0.3


def pool_numbers() -> list[str]:
    return [f"+447700900{n:03d}" for n in range(POOL_SIZE)]


@dataclass(frozen=True)
class Sizes:
    chats: int
    messages: int

    @classmethod
    def at(cls, scale: float) -> Sizes:
        chats = max(10, round(100_000 * scale))
        return cls(chats, chats * 10)

    @property
    def participants(self) -> int:
        return 2 * self.chats

    @property
    def deliveries(self) -> int:
        return self.messages + self.chats

    @property
    def active(self) -> int:
        return max(1, round(self.chats * ACTIVE_SHARE))

    @property
    def people(self) -> int:
        # At least every active participant a person of their own: no route is shared.
        return max(round(self.participants * PEOPLE_PER_PARTICIPANT), 2 * self.active)

    def describe(self) -> str:
        return (
            f"{self.chats:,} chats ({self.active:,} active), {self.participants:,} "
            f"participants, {self.messages:,} messages, {self.deliveries:,} deliveries"
        )


def _seq(count: str) -> str:
    return f"WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < {count})"


# SQLAlchemy's SQLite DATETIME text; :base is a Unix time, :step seconds between chats.
def _when(seconds: str) -> str:
    return f"strftime('%Y-%m-%d %H:%M:%S', {seconds}, 'unixepoch') || '.000000'"


REAL = "printf('+4474%08d', ({p} - 1) % :people)"
PROXY = "printf('+447700900%03d', ({c}) % 100)"
CHAT_TIME = ":base + {c} * :step"
ID = "'{prefix}_' || lower(hex(randomblob(8)))"

STATEMENTS = [
    f"""{_seq(":chats")}
    INSERT INTO chat (id, public_id, status, reference, created_at, closed_at, close_reason,
                      last_activity_at)
    SELECT i, {ID.format(prefix="ch")},
           CASE WHEN i > :chats - :active THEN 'active' ELSE 'closed' END,
           printf('BK-%07d', i), {_when(CHAT_TIME.format(c="i"))},
           CASE WHEN i > :chats - :active THEN NULL
                ELSE {_when(CHAT_TIME.format(c="i") + " + 3600")} END,
           CASE WHEN i > :chats - :active THEN NULL ELSE 'closed' END,
           {_when(CHAT_TIME.format(c="i") + " + 540")}
    FROM seq""",
    f"""{_seq(":chats * 2")}
    INSERT INTO participant (id, public_id, chat_id, real_number, name, proxy_number, active,
                             opted_out, position, created_at)
    SELECT i, {ID.format(prefix="pt")}, (i + 1) / 2, {REAL.format(p="i")},
           CASE i % 2 WHEN 1 THEN 'Rider ' ELSE 'Driver ' END || ((i - 1) % :people),
           {PROXY.format(c="(i + 1) / 2")}, (i + 1) / 2 > :chats - :active, 0, (i + 1) % 2,
           {_when(CHAT_TIME.format(c="((i + 1) / 2)"))}
    FROM seq""",
    f"""{_seq(":messages")}, m(i, chat, author, at) AS (
        SELECT i, (i - 1) / :per_chat + 1, 2 * ((i - 1) / :per_chat + 1) - 1 + (i - 1) % 2,
               :base + ((i - 1) / :per_chat + 1) * :step + ((i - 1) % :per_chat) * 60
        FROM seq)
    INSERT INTO message (id, public_id, chat_id, author_kind, participant_id, sender_number,
                         proxy_number, body, carrier_message_id, created_at)
    SELECT i, {ID.format(prefix="msg")}, chat, 'participant', author, {REAL.format(p="author")},
           {PROXY.format(c="chat")}, printf('Message %d about booking BK-%07d', i, chat),
           'SEED' || i, {_when("at")}
    FROM m""",
    f"""{_seq(":messages")}, m(i, chat, recipient, at) AS (
        SELECT i, (i - 1) / :per_chat + 1, 2 * ((i - 1) / :per_chat + 1) - 1 + i % 2,
               :base + ((i - 1) / :per_chat + 1) * :step + ((i - 1) % :per_chat) * 60
        FROM seq)
    INSERT INTO delivery (id, public_id, kind, message_id, chat_id, participant_id, from_number,
                          to_number, body, status, attempts, next_attempt_at,
                          carrier_message_ids, created_at, updated_at, sent_at)
    SELECT i, {ID.format(prefix="dl")}, 'forward', i, chat, recipient, {PROXY.format(c="chat")},
           {REAL.format(p="recipient")}, printf('Message %d about booking BK-%07d', i, chat),
           'delivered', 1, {_when("at")}, '["SEEDD' || i || '"]', {_when("at")},
           {_when("at + 2")}, {_when("at + 1")}
    FROM m""",
    f"""{_seq(":chats")}
    INSERT INTO delivery (id, public_id, kind, chat_id, participant_id, from_number, to_number,
                          body, status, attempts, next_attempt_at, carrier_message_ids,
                          created_at, updated_at, sent_at)
    SELECT :messages + i, {ID.format(prefix="dl")}, 'intro', i, 2 * i - 1,
           {PROXY.format(c="i")}, {REAL.format(p="2 * i - 1")},
           'You are now connected. Reply to this number to message them.', 'delivered', 1,
           {_when(CHAT_TIME.format(c="i"))}, '["SEEDI' || i || '"]',
           {_when(CHAT_TIME.format(c="i"))}, {_when(CHAT_TIME.format(c="i") + " + 2")},
           {_when(CHAT_TIME.format(c="i") + " + 1")}
    FROM seq""",
]


def seed(path: Path, sizes: Sizes) -> float:
    """Fill a migrated, empty-of-chats database; returns the seconds it took."""
    started = time.monotonic()
    values = {
        "chats": sizes.chats,
        "active": sizes.active,
        "people": sizes.people,
        "messages": sizes.messages,
        "per_chat": sizes.messages // sizes.chats,
        "base": time.time() - DAYS * 86400,
        "step": DAYS * 86400 / sizes.chats,
    }
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        # Nothing here needs to survive a crash: no journal, no fsync, a big cache.
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-400000")
        connection.execute("BEGIN")
        for statement in STATEMENTS:
            connection.execute(statement, values)
        connection.execute("COMMIT")
        connection.execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()
    return time.monotonic() - started


def samples(path: Path, count: int) -> dict[str, list[str]]:
    """Chat ids, references and names to ask for, picked at random from the data."""
    connection = sqlite3.connect(path)
    try:

        def column(query: str) -> list[str]:
            return [row[0] for row in connection.execute(query, (count,))]

        return {
            "chat": column("SELECT public_id FROM chat ORDER BY random() LIMIT ?"),
            "reference": column("SELECT reference FROM chat ORDER BY random() LIMIT ?"),
            "name": column("SELECT name FROM participant ORDER BY random() LIMIT ?"),
        }
    finally:
        connection.close()
