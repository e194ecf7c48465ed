"""A migrated SQLite database filled to production scale with plain bulk inserts.

    python -m tests.benchmarks.seed_scale PATH [--chats N] [--messages-per-chat N]

Defaults: 100,000 chats (80 % active), 200,000 participants, 1,000,000 messages and
about 1,100,000 deliveries, on a pool of 20 proxy numbers. Riders come back now and
then, drivers often (one driver is in about a dozen chats), and every active route is
unique as the routing invariant requires. Only the columns of the first schema
revision are written, so any later revision migrates the file like a real database.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

PROXIES = [f"+4477009009{n:02d}" for n in range(20)]
RIDERS, DRIVERS = 60_000, 7_919
ACTIVE_SHARE = 0.8
START = datetime(2026, 1, 1, tzinfo=UTC)
# What riders and drivers text, so that searches meet words as common as "the" (in about
# half of the texts), rarer ones, and a word in one chat of a thousand ("umbrella").
PHRASES = [
    "On my way, see you in {m} minutes",
    "I am outside the main entrance",
    "Running a bit late, sorry",
    "Arriving at the station now",
    "Which gate are you at?",
    "I have arrived, blue car by the north gate",
    "Can you wait at the corner please",
    "Thanks, see you soon",
    "Traffic is heavy on the bridge",
    "Parked opposite the pharmacy",
    "Is the parcel ready to collect?",
    "Ok, I will be there",
]


def stamp(when: datetime) -> str:
    """How SQLAlchemy stores a UTC datetime in SQLite."""
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def rider(index: int) -> str:
    return f"+447400{index % RIDERS:06d}"


def driver(index: int) -> str:
    return f"+447500{index % DRIVERS:06d}"


def seed(path: Path, chats: int, per_chat: int) -> None:
    from smsproxy.migrate import upgrade

    upgrade(f"sqlite:///{path}", revision="0001")
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=OFF")
    began = time.monotonic()
    db.executemany(
        "INSERT INTO proxynumber (number, country, label, enabled, created_at) "
        "VALUES (?, 'GB', '', 1, ?)",
        [(number, stamp(START)) for number in PROXIES],
    )
    routes: set[tuple[str, str]] = set()
    chat_rows, people, message_rows, delivery_rows = [], [], [], []
    message_id = delivery_id = 0
    for chat in range(1, chats + 1):
        created = START + timedelta(seconds=chat * 60)
        pair = (rider(chat), driver(chat))
        proxy = _free_proxy(routes, pair, chat) if chat > chats * (1 - ACTIVE_SHARE) else None
        active = proxy is not None
        if proxy is None:
            proxy = PROXIES[chat % len(PROXIES)]
        else:
            routes.update({(pair[0], proxy), (pair[1], proxy)})
        last = created + timedelta(seconds=per_chat * 30)
        chat_rows.append(
            (
                chat,
                f"ch_{chat:016x}",
                "active" if active else "closed",
                f"booking-{chat}",
                stamp(created),
                None if active else stamp(last),
                None if active else "api",
                stamp(last),
            )
        )
        for position, number in enumerate(pair):
            people.append(
                (
                    chat * 2 - 1 + position,
                    f"pt_{chat * 2 + position:016x}",
                    chat,
                    number,
                    "Rider" if position == 0 else "Driver",
                    proxy,
                    int(active),
                    position,
                    stamp(created),
                )
            )
        message_id, delivery_id = _messages(
            chat, pair, proxy, created, per_chat, message_id, delivery_id,
            message_rows, delivery_rows,
        )  # fmt: skip
        if chat % 10_000 == 0 or chat == chats:
            _flush(db, chat_rows, people, message_rows, delivery_rows)
            print(f"  {chat} chats, {message_id} messages ({time.monotonic() - began:.0f} s)")
    db.commit()
    db.execute("ANALYZE")
    db.commit()
    db.close()


def _free_proxy(routes: set[tuple[str, str]], pair: tuple[str, str], chat: int) -> str | None:
    """The same number for both, free for both (the invariant), or None."""
    for shift in range(len(PROXIES)):
        proxy = PROXIES[(chat + shift) % len(PROXIES)]
        if (pair[0], proxy) not in routes and (pair[1], proxy) not in routes:
            return proxy
    return None


def _messages(
    chat: int,
    pair: tuple[str, str],
    proxy: str,
    created: datetime,
    per_chat: int,
    message_id: int,
    delivery_id: int,
    message_rows: list[tuple[object, ...]],
    delivery_rows: list[tuple[object, ...]],
) -> tuple[int, int]:
    """An intro from the system to both, then the two taking turns."""
    for turn in range(per_chat):
        message_id += 1
        at = stamp(created + timedelta(seconds=turn * 30))
        author = turn % 2
        system = turn == 0
        body = "You are now connected." if system else _text(chat, turn)
        message_rows.append(
            (
                message_id,
                f"msg_{message_id:016x}",
                chat,
                "system" if system else "participant",
                None if system else chat * 2 - 1 + author,
                None if system else pair[author],
                None if system else proxy,
                body,
                None if system else f"SEED{message_id:012d}",
                at,
            )
        )
        for recipient in (0, 1) if system else (1 - author,):
            delivery_id += 1
            delivery_rows.append(
                (
                    delivery_id,
                    f"dl_{delivery_id:016x}",
                    "intro" if system else "forward",
                    message_id,
                    chat,
                    chat * 2 - 1 + recipient,
                    proxy,
                    pair[recipient],
                    body,
                    at,
                    at,
                    at,
                    at,
                )
            )
    return message_id, delivery_id


def _text(chat: int, turn: int) -> str:
    if chat % 1000 == 0 and turn == 1:
        return f"Did anyone find my umbrella? Booking {chat}"
    return PHRASES[(chat * 7 + turn) % len(PHRASES)].format(m=turn % 9 + 2)


def _flush(db: sqlite3.Connection, *batches: list[tuple[object, ...]]) -> None:
    chats, people, messages, deliveries = batches
    db.executemany(
        "INSERT INTO chat (id, public_id, status, reference, created_at, closed_at, "
        "close_reason, last_activity_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        chats,
    )
    db.executemany(
        "INSERT INTO participant (id, public_id, chat_id, real_number, name, proxy_number, "
        "active, opted_out, position, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
        people,
    )
    db.executemany(
        "INSERT INTO message (id, public_id, chat_id, author_kind, participant_id, "
        "sender_number, proxy_number, body, carrier_message_id, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        messages,
    )
    db.executemany(
        "INSERT INTO delivery (id, public_id, kind, message_id, chat_id, participant_id, "
        "from_number, to_number, body, status, attempts, next_attempt_at, "
        "carrier_message_ids, created_at, updated_at, sent_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'delivered', 1, ?, '[]', ?, ?, ?)",
        deliveries,
    )
    for batch in batches:
        batch.clear()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.seed_scale")
    parser.add_argument("path", type=Path, help="the SQLite file to create")
    parser.add_argument("--chats", type=int, default=100_000)
    parser.add_argument("--messages-per-chat", type=int, default=10)
    args = parser.parse_args(argv)
    if args.path.exists():
        parser.error(f"{args.path} exists: seeding starts from an empty file")
    began = time.monotonic()
    seed(args.path, args.chats, args.messages_per_chat)
    print(f"seeded {args.path} in {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
