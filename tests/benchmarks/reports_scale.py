"""The Reports page and the exports on a database at production scale.

    python -m tests.benchmarks.seed_scale /tmp/scale.db          # once (about a minute)
    python -m tests.benchmarks.reports_scale /tmp/scale.db [--repeat N]

On a migrated copy of the seeded file, through the app in this process (Quart's test
client), prints p50 and the slowest time of the Reports page for a month by day and by
hour and of a chart's CSV; then the time, size and the process's peak memory growth of
exporting every chat as CSV (streamed) and of the longest chat's transcript.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from tests.benchmarks.data_scale import counts
from tests.server import TEST_SECRET_KEY

MONTH = "period=custom&from=2026-02-01&to=2026-03-02"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def measure(path: Path, repeat: int) -> None:
    from quart_auth import generate_auth_token

    from smsproxy.app import create_app
    from smsproxy.config import Settings
    from smsproxy.proxy import users
    from smsproxy.web.guards import auth_id_for

    settings = Settings(
        _env_file=None, database_url=f"sqlite:///{path}", secret_key=TEST_SECRET_KEY,
        smsproxy_env="test", redis_url=None, carrier="sandbox",
    )  # fmt: skip
    app = create_app(settings, background=False)
    async with app.test_app():
        runtime = app.extensions["smsproxy"]
        async with runtime.db.transaction() as session:
            staff = await users.create_user(session, "scale", "a long enough password", "agent")
        client = app.test_client()
        name = app.extensions["QUART_AUTH"][0].cookie_name
        client.set_cookie("localhost", name, generate_auth_token(client, auth_id_for(staff)))

        async def fetch(url: str) -> tuple[float, int]:
            began = time.perf_counter()
            response = await client.get(url)
            size = len(await response.get_data())
            if response.status_code != 200:
                raise RuntimeError(f"{url}: HTTP {response.status_code}")
            return (time.perf_counter() - began) * 1000, size

        for label, url in (
            ("GET /reports (30 days by day)", f"/reports?{MONTH}&bucket=day"),
            ("GET /reports (30 days by hour)", f"/reports?{MONTH}&bucket=hour"),
            ("GET /reports/delay.csv (30 days by hour)", f"/reports/delay.csv?{MONTH}&bucket=hour"),
        ):  # fmt: skip
            took = [(await fetch(url))[0] for _ in range(repeat + 1)][1:]
            print(f"  {label:<44} p50 {statistics.median(took):8.1f} ms   max {max(took):8.1f} ms")

        longest = _longest_chat(path)
        for label, url in (
            ("GET /chats/export.csv?status=all", "/chats/export.csv?status=all"),
            ("GET /chats/<longest>/transcript.csv", f"/chats/{longest}/transcript.csv"),
        ):
            before = peak_mb()
            took, size = await fetch(url)
            print(
                f"  {label:<44} {took:8.0f} ms   {size / 1e6:6.1f} MB   "
                f"peak memory +{peak_mb() - before:.0f} MB"
            )


def _longest_chat(path: Path) -> str:
    with sqlite3.connect(path) as db:
        query = (
            "SELECT chat.public_id FROM message JOIN chat ON chat.id = message.chat_id "
            "GROUP BY chat.id ORDER BY count(*) DESC LIMIT 1"
        )
        (public_id,) = db.execute(query).fetchone()
        return str(public_id)


def main(argv: list[str] | None = None) -> int:
    from smsproxy.migrate import upgrade

    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.reports_scale")
    parser.add_argument("seeded", type=Path, help="a file made by tests.benchmarks.seed_scale")
    parser.add_argument("--repeat", type=int, default=5, help="requests of each report")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "scale.db"
        shutil.copy(args.seeded, path)
        print(counts(path))
        upgrade(f"sqlite:///{path}")
        asyncio.run(measure(path, args.repeat))
    return 0


if __name__ == "__main__":
    sys.exit(main())
