"""The apps under load, each started as its users would start it, and set up with one
two-person chat through smsproxy's own interfaces (CLI, then the JSON API).

An app's `serve(carrier, workdir)` yields the running server and the route an inbound
SMS takes: from the sender's real number to their proxy number, forwarded to the
recipient's real number from the recipient's proxy number.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from .servers import Server, free_port, run_command
from .web import Browser

RIDER, DRIVER = "+447700900101", "+447700900102"
POOL = ("+447700900901", "+447700900902")
# The carrier limit (30/s by default) is a setting, not the pipeline: lifted so that it
# is not what the benchmark measures.
SEND_RATE = "100000"


@dataclass(frozen=True)
class Route:
    sender: str
    sender_proxy: str
    recipient: str
    recipient_proxy: str


class PostgresUnavailable(Exception):
    """The PostgreSQL server cannot be reached: its app is skipped."""


class App:
    name = ""
    short = ""
    forwards = True

    def serve(
        self, carrier: dict[str, str], workdir: Path
    ) -> contextlib.AbstractContextManager[tuple[Server, Route]]:
        raise NotImplementedError


class BareApp(App):
    name = "bare Quart app (204, nothing else)"
    short = "bare"
    forwards = False

    @contextlib.contextmanager
    def serve(self, carrier: dict[str, str], workdir: Path) -> Iterator[tuple[Server, Route]]:
        args = ["hypercorn", "tests.benchmarks.reference_apps:bare_app()"]
        with _hypercorn(self.short, args, {}, workdir, workers=1) as server:
            yield server, Route(RIDER, POOL[0], DRIVER, POOL[1])


class NaiveApp(App):
    name = "naive forwarder (vonage SDK inline, no database)"
    short = "naive"

    @contextlib.contextmanager
    def serve(self, carrier: dict[str, str], workdir: Path) -> Iterator[tuple[Server, Route]]:
        route = Route(RIDER, POOL[0], DRIVER, POOL[1])
        plain = [number.removeprefix("+") for number in (RIDER, POOL[0], DRIVER, POOL[1])]
        env = {**carrier, "NAIVE_ROUTES": "{}:{}>{}:{}".format(*plain)}
        args = ["hypercorn", "tests.benchmarks.reference_apps:naive_app()"]
        with _hypercorn(self.short, args, env, workdir, workers=1) as server:
            yield server, route


class SqliteApp(App):
    name = "smsproxy, `smsproxy run` (1 process), SQLite"
    short = "sqlite"

    @contextlib.contextmanager
    def serve(self, carrier: dict[str, str], workdir: Path) -> Iterator[tuple[Server, Route]]:
        directory = workdir / "sqlite"
        directory.mkdir()
        # Embedded defaults: ./smsproxy.db, a generated SECRET_KEY beside it.
        env = {**carrier, "SEND_RATE_PER_SECOND": SEND_RATE}
        with embedded_smsproxy(self.short, env, directory) as (server, key):
            yield server, create_chat(server.port, key)


class PostgresApp(App):
    short = "postgres"

    def __init__(self, admin_url: str, workers: int = 2) -> None:
        self.admin_url = admin_url
        self.workers = workers
        self.name = f"smsproxy, hypercorn {workers} workers, PostgreSQL"

    @contextlib.contextmanager
    def serve(self, carrier: dict[str, str], workdir: Path) -> Iterator[tuple[Server, Route]]:
        directory = workdir / "postgres"
        directory.mkdir()
        with fresh_postgres(self.admin_url) as url:
            env = {
                **carrier,
                "DATABASE_URL": url,
                "SECRET_KEY": secrets.token_urlsafe(32),
                "SEND_RATE_PER_SECOND": SEND_RATE,
            }
            run_command(["smsproxy", "db", "upgrade"], env, directory)  # the release step
            key = run_command(["smsproxy", "api-keys", "create", "bench"], env, directory).strip()
            args = ["hypercorn", "smsproxy.app:create_app()"]
            with _hypercorn(self.short, args, env, directory, self.workers) as server:
                yield server, create_chat(server.port, key)


@contextlib.contextmanager
def _hypercorn(
    name: str, args: list[str], env: dict[str, str], cwd: Path, workers: int
) -> Iterator[Server]:
    port = free_port()
    command = [*args, "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
    with Server(name, command, env, cwd, port) as server:
        yield server


@contextlib.contextmanager
def embedded_smsproxy(
    name: str, env: dict[str, str], directory: Path
) -> Iterator[tuple[Server, str]]:
    """`smsproxy run` in `directory` (SQLite there unless env says otherwise); yields the
    server and an API key made with `smsproxy api-keys create`."""
    key = run_command(["smsproxy", "api-keys", "create", "bench"], env, directory).strip()
    port = free_port()
    with Server(name, ["smsproxy", "run", "--port", str(port)], env, directory, port) as server:
        yield server, key


def create_chat(port: int, api_key: str) -> Route:
    """Two pool numbers and a chat between two people, through the JSON API."""
    browser = Browser(port, api_key=api_key)
    try:
        for number in POOL:
            browser.api("POST", "/api/v1/numbers", {"number": number}, expect=201)
        chat = browser.api(
            "POST",
            "/api/v1/chats",
            {
                "participants": [
                    {"number": RIDER, "name": "Rider"},
                    {"number": DRIVER, "name": "Driver"},
                ],
                "intro": False,
            },
            expect=201,
        ).json()
    finally:
        browser.close()
    rider, driver = chat["participants"]
    return Route(RIDER, rider["proxy_number"], DRIVER, driver["proxy_number"])


# -- PostgreSQL --------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_postgres(admin_url: str) -> Iterator[str]:
    """A new database on the server `admin_url` names, dropped afterwards; nothing else
    on that server is touched."""
    import asyncpg

    parts = urlsplit(admin_url)
    scheme_free = urlunsplit(parts._replace(scheme="postgresql"))
    name = f"smsproxy_bench_{secrets.token_hex(5)}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(scheme_free, timeout=5)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    try:
        asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    except (OSError, asyncpg.PostgresError, TimeoutError) as error:
        raise PostgresUnavailable(f"{parts.hostname}:{parts.port or 5432}: {error}") from None
    try:
        yield urlunsplit(parts._replace(scheme="postgresql", path="/" + name))
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
