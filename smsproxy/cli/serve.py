"""`smsproxy run`: the embedded server, migrations and the first admin included."""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config

from ..app import create_app
from ..config import Settings, ensure_secret_key, load_settings
from ..migrate import upgrade_async
from ..proxy.users import ensure_first_admin
from ..runtime import Runtime
from .output import say


def run_server(args: argparse.Namespace) -> None:
    """The embedded server: migrations, first admin, then hypercorn in this process."""
    key_file = ensure_secret_key()
    overrides: dict[str, Any] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    settings = load_settings(**overrides)
    asyncio.run(_serve(settings, key_file is not None))


async def _serve(settings: Settings, generated_secret: bool) -> None:
    await upgrade_async(settings.database_url)
    setup = Runtime(settings, background=False)
    try:
        async with setup.db.transaction() as session:
            first_admin = await ensure_first_admin(session)
    finally:
        await setup.stop()

    app = create_app(settings)
    config = Config()
    config.bind = [f"{settings.host}:{settings.port}"]
    config.accesslog = None
    config.graceful_timeout = 5
    shown_host = "localhost" if settings.host in ("127.0.0.1", "0.0.0.0", "::") else settings.host  # noqa: S104
    url = f"http://{shown_host}:{settings.port}"

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    say(f"smsproxy is running at {url}  (carrier: {settings.carrier}, Ctrl+C to stop)")
    if first_admin:
        username, password = first_admin
        say(f"First start: log in as {username!r} with the one-time password: {password}")
    if settings.background_jobs == "off":
        say("BACKGROUND_JOBS=off: nothing is sent until `smsproxy worker` runs beside this.")
    if generated_secret:
        say("SECRET_KEY is kept in a file beside the database (set SECRET_KEY to override).")
    await serve(app, config, shutdown_trigger=stop.wait)
