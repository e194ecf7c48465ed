"""Reads and chat creation on a database at production scale.

    python -m tests.benchmarks.seed_scale /tmp/scale.db          # once (about a minute)
    python -m tests.benchmarks.data_scale /tmp/scale.db [--repeat N]
        [--postgres-url postgresql://postgres@127.0.0.1:5432/test] [--postgres-only]
        [--only-search]

Works on a copy of the seeded file (migrated to the newest schema first, and timed),
through the app in this process (Quart's test client: the whole request, no network),
one request at a time, and prints p50, p95 and the slowest per kind of request,
message searches included (search_scale.py). With --postgres-url it then does the same
on a PostgreSQL database made from the file on that server (scale_postgres.py).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from tests.server import TEST_SECRET_KEY

Request = Callable[[int], Awaitable[int]]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def timed(name: str, request: Request, repeat: int) -> None:
    took: list[float] = []
    await request(repeat)  # warms up: templates, statement caches
    for turn in range(repeat):
        began = time.perf_counter()
        status = await request(turn)
        took.append((time.perf_counter() - began) * 1000)
        if status >= 400:
            raise RuntimeError(f"{name}: HTTP {status}")
    print(
        f"  {name:<34} p50 {statistics.median(took):7.1f} ms   p95 "
        f"{percentile(took, 0.95):7.1f} ms   max {max(took):7.1f} ms"
    )


async def measure(url: str, seeded: Path, repeat: int, only_search: bool = False) -> None:
    from quart_auth import generate_auth_token

    from smsproxy.app import create_app
    from smsproxy.config import Settings
    from smsproxy.proxy import keys, users
    from smsproxy.web.guards import auth_id_for

    from .search_scale import search_requests

    settings = Settings(
        _env_file=None, database_url=url, secret_key=TEST_SECRET_KEY, smsproxy_env="test",
        redis_url=None, carrier="sandbox", default_region="GB",
    )  # fmt: skip
    app = create_app(settings, background=False)
    app.config["QUART_RATE_LIMITER_ENABLED"] = False
    async with app.test_app():
        runtime = app.extensions["smsproxy"]
        async with runtime.db.transaction() as session:
            staff = await users.create_user(session, "scale", "a long enough password", "agent")
            _, key = await keys.create_key(session, "scale", actor="bench")
        client = app.test_client()
        name = app.extensions["QUART_AUTH"][0].cookie_name
        client.set_cookie("localhost", name, generate_auth_token(client, auth_id_for(staff)))
        api = {"Authorization": f"Bearer {key}"}
        auth = {"headers": api}
        chats, riders = _sample_chats(seeded, repeat + 1)
        v1 = "/api/v1/chats"
        waiting = "/chats?view=awaiting&sort=waiting"
        month = "status=all&from=2026-02-01&to=2026-02-28"

        async def get(path: str, **kwargs: Any) -> int:
            response = await client.get(path, **kwargs)
            await response.get_data()
            return response.status_code

        async def create(turn: int) -> int:
            people = [
                {"number": f"+4474{random.randrange(10**8):08d}", "name": "Rider"},
                {"number": f"+447500{turn % 7919:06d}", "name": "Driver"},
            ]
            body = {"participants": people, "reference": f"scale-{turn}"}
            response = await client.post("/api/v1/chats", json=body, headers=api)
            return response.status_code

        requests: list[tuple[str, Request]] = [
            ("POST /api/v1/chats (create)", create),
            ("GET /chats (chat list page)", lambda _: get("/chats")),
            ("GET /chats?status=active", lambda _: get("/chats?status=active")),
            ("GET /chats?view=mine", lambda _: get("/chats?view=mine")),
            ("GET /chats?view=unread", lambda _: get("/chats?view=unread")),
            ("GET /chats?view=awaiting&sort=waiting", lambda _: get(f"{waiting}")),
            ("GET /chats?label=vip", lambda _: get("/chats?label=vip")),
            ("GET /chats?failed=1", lambda _: get("/chats?failed=1")),
            ("GET /chats?number=<proxy>", lambda _: get("/chats?number=%2B447700900900")),
            ("GET /chats?from=&to= (a month)", lambda _: get(f"/chats?{month}")),
            ("GET /chats/<id> (chat page)", lambda n: get(f"/chats/{chats[n]}")),
            ("GET /api/v1/chats", lambda _: get("/api/v1/chats", headers=api)),
            ("GET /api/v1/chats?status=active", lambda _: get(f"{v1}?status=active", **auth)),
            ("GET /api/v1/chats/<id>/messages", lambda n: get(f"{v1}/{chats[n]}/messages", **auth)),
            ("GET /numbers (pool page)", lambda _: get("/numbers")),
            ("GET /api/v1/numbers", lambda _: get("/api/v1/numbers", headers=api)),
        ]  # fmt: skip
        if only_search:
            requests = []
        requests += search_requests(client, api, riders)
        for label, request in requests:
            await timed(label, request, repeat)


def _sample_chats(path: Path, count: int) -> tuple[list[str], list[str]]:
    """Public ids of random chats, and the real number of each one's first participant."""
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT chat.public_id, participant.real_number FROM chat JOIN participant"
            " ON participant.chat_id = chat.id AND participant.position = 0"
            " ORDER BY random() LIMIT ?",
            (count,),
        ).fetchall()
    return [chat for chat, _ in rows], [number for _, number in rows]


def counts(path: Path) -> str:
    with sqlite3.connect(path) as db:
        found = [
            db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("chat", "participant", "message", "delivery")
        ]
    return "{:,} chats, {:,} participants, {:,} messages, {:,} deliveries".format(*found)


def main(argv: list[str] | None = None) -> int:
    from smsproxy.migrate import upgrade

    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.data_scale")
    parser.add_argument("seeded", type=Path, help="a file made by tests.benchmarks.seed_scale")
    parser.add_argument("--repeat", type=int, default=30, help="requests of each kind")
    parser.add_argument("--postgres-url", help="also on a copy in a new database on this server")
    parser.add_argument("--only-search", action="store_true", help="message searches only")
    parser.add_argument("--postgres-only", action="store_true", help="skip the SQLite run")
    args = parser.parse_args(argv)
    print(counts(args.seeded))
    if not args.postgres_only:
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "scale.db"
            shutil.copy(args.seeded, path)
            print("SQLite:")
            began = time.monotonic()
            upgrade(f"sqlite:///{path}")
            print(f"  migrating to the newest schema took {time.monotonic() - began:.1f} s")
            random.seed(1)
            asyncio.run(measure(f"sqlite:///{path}", path, args.repeat, args.only_search))
    if args.postgres_url:
        from .scale_postgres import postgres_copy

        print("PostgreSQL:")
        with postgres_copy(args.seeded, args.postgres_url) as url:
            random.seed(1)
            asyncio.run(measure(url, args.seeded, args.repeat, args.only_search))
    return 0


if __name__ == "__main__":
    sys.exit(main())
