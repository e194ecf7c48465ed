"""`smsproxy run`: the embedded server, migrations and the first admin included."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import signal
import socket
import sys
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
    """The embedded server: the port first, then migrations, the first admin and
    hypercorn in this process."""
    key_file = ensure_secret_key()
    overrides: dict[str, Any] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    settings = load_settings(**overrides)
    config = server_config(settings)
    # Taken before anything else happens: a port that is busy must not leave a first
    # admin created whose one-time password nobody saw, nor a "running at" line.
    try:
        listening = listen(config)
    except OSError as error:
        say(f"smsproxy: {port_problem(settings, error)}")
        sys.exit(1)
    asyncio.run(_serve(settings, config, listening, key_file is not None))


def server_config(settings: Settings) -> Config:
    config = Config()
    config.bind = [f"{settings.host}:{settings.port}"]
    config.accesslog = None
    # The logger itself rather than hypercorn's "-": hypercorn would give it a stderr
    # handler of its own on top of the root one the app configures, and every line it
    # logs ("Running on …") would show twice.
    config.errorlog = logging.getLogger("hypercorn.error")
    config.graceful_timeout = 5
    return config


def listen(config: Config) -> list[socket.socket]:
    """Bind and listen on the configured address now, with hypercorn's own socket
    options; hypercorn then serves on these very sockets (fd:// binds)."""
    sockets = config.create_sockets().insecure_sockets
    try:
        for sock in sockets:
            sock.listen(config.backlog)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    config.bind = [f"fd://{sock.fileno()}" for sock in sockets]
    return sockets


def port_problem(settings: Settings, error: OSError) -> str:
    where = f"{settings.host}:{settings.port}"
    if error.errno == errno.EADDRINUSE:
        return (
            f"port {settings.port} is already in use ({where}): stop what runs there, "
            f"or choose another port with --port {settings.port + 1} or PORT={settings.port + 1}"
        )
    if error.errno == errno.EACCES:
        return (
            f"not allowed to listen on {where} (ports below 1024 need privileges): "
            "choose another port with --port or PORT"
        )
    reason = error.strerror or str(error)
    return f"cannot listen on {where}: {reason} (check --host/HOST and --port/PORT)"


async def _serve(
    settings: Settings, config: Config, listening: list[socket.socket], generated_secret: bool
) -> None:
    await upgrade_async(settings.database_url)
    setup = Runtime(settings, background=False)
    try:
        async with setup.db.transaction() as session:
            first_admin = await ensure_first_admin(session)
    finally:
        await setup.stop()

    app = create_app(settings)
    shown_host = "localhost" if settings.host in ("127.0.0.1", "0.0.0.0", "::") else settings.host  # noqa: S104
    url = f"http://{shown_host}:{settings.port}"

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)

    # True now: the port is ours and listening; connections wait in its backlog until
    # hypercorn accepts them a moment later.
    say(f"smsproxy is running at {url}  (carrier: {settings.carrier}, Ctrl+C to stop)")
    if first_admin:
        username, password = first_admin
        say(f"First start: log in as {username!r} with the one-time password: {password}")
        say(f"Lost it? `smsproxy users reset-password {username}` prints a new one.")
    if settings.background_jobs == "off":
        say("BACKGROUND_JOBS=off: nothing is sent until `smsproxy worker` runs beside this.")
    if generated_secret:
        say("SECRET_KEY is kept in a file beside the database (set SECRET_KEY to override).")
    try:
        await serve(app, config, shutdown_trigger=stop.wait)
    finally:
        # hypercorn made sockets of its own over the same descriptors and closed them;
        # ours must not close those numbers again.
        for sock in listening:
            sock.detach()
