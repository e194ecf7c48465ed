"""The `smsproxy` command: run the server and administer the pool, users and API keys.

Output meant for scripts (an API key, a password) goes to stdout alone; everything
said to a person goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

from .config import ConfigError, Settings, ensure_secret_key, load_settings
from .errors import ProxyError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, not argparse's usage block: scripts log it, people read it.
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="smsproxy", description="Self-hosted SMS proxy (number masking).")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="start the server (applies migrations first)")
    run.add_argument("--host", help="address to listen on (default HOST or 127.0.0.1)")
    run.add_argument("--port", type=int, help="port to listen on (default PORT or 8000)")

    db = commands.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="action", required=True, parser_class=_Parser)
    db_commands.add_parser("upgrade", help="apply every pending migration")

    numbers = commands.add_parser("numbers", help="the proxy number pool")
    number_commands = numbers.add_subparsers(dest="action", required=True, parser_class=_Parser)
    add = number_commands.add_parser("add", help="add numbers (E.164 or any format)")
    add.add_argument("number", nargs="+")
    add.add_argument("--label", default="")
    number_commands.add_parser("list", help="list numbers with their load")
    remove = number_commands.add_parser("remove", help="remove a number with no active chat")
    remove.add_argument("number")
    for action in ("enable", "disable"):
        toggle = number_commands.add_parser(action, help=f"{action} a number for new chats")
        toggle.add_argument("number")

    users = commands.add_parser("users", help="staff accounts")
    user_commands = users.add_subparsers(dest="action", required=True, parser_class=_Parser)
    create = user_commands.add_parser("create", help="create a staff user")
    create.add_argument("username")
    create.add_argument("--role", choices=["admin", "agent"], default="agent")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from stdin instead of generating one",
    )
    user_commands.add_parser("list", help="list staff users")

    keys = commands.add_parser("api-keys", help="API keys")
    key_commands = keys.add_subparsers(dest="action", required=True, parser_class=_Parser)
    key_create = key_commands.add_parser("create", help="create a key; prints only the key")
    key_create.add_argument("name")
    key_commands.add_parser("list", help="list keys (never the keys themselves)")
    revoke = key_commands.add_parser("revoke", help="revoke by id, prefix or name")
    revoke.add_argument("key")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            run_server(args)
            return
        settings = admin_settings()
        handler = HANDLERS[(args.command, args.action)]
        code = asyncio.run(_with_runtime(settings, lambda rt: handler(rt, args)))
    except ConfigError as error:
        for line in error.lines:
            say(f"smsproxy: configuration: {line}")
        sys.exit(2)
    except ProxyError as error:
        say(f"smsproxy: error: {error.message}")
        sys.exit(1)
    sys.exit(code or 0)


def admin_settings() -> Settings:
    """Settings for one-off admin commands, which sign nothing: they need the database,
    not a SECRET_KEY, so a missing one is not an error here."""
    ensure_secret_key()
    if os.environ.get("SECRET_KEY"):
        return load_settings()
    return load_settings(secret_key="unused-by-admin-commands-" + os.urandom(8).hex())


async def _with_runtime(settings: Settings, work: Callable[[Any], Awaitable[int]]) -> int:
    from .migrate import upgrade_async
    from .runtime import Runtime

    await upgrade_async(settings.database_url)
    runtime = Runtime(settings, background=False)
    try:
        return await work(runtime)
    finally:
        await runtime.stop()


async def db_upgrade(runtime: Any, args: argparse.Namespace) -> int:
    say("Database is up to date.")
    return 0


async def numbers_add(runtime: Any, args: argparse.Namespace) -> int:
    from .proxy import pool

    async with runtime.db.transaction() as session:
        added = [
            await pool.add_number(
                session,
                raw,
                label=args.label,
                default_region=runtime.settings.default_region,
            )
            for raw in args.number
        ]
    for record in added:
        say(f"Added {record.number} ({record.country})")
    return 0


async def numbers_list(runtime: Any, args: argparse.Namespace) -> int:
    from .proxy import pool

    async with runtime.db.read() as session:
        usage = await pool.list_numbers(session)
    if not usage:
        say("The pool is empty. Add a number: smsproxy numbers add +447700900100")
        return 0
    print(f"{'NUMBER':<18}{'COUNTRY':<9}{'ENABLED':<9}{'CHATS':>6}  LABEL")
    for item in usage:
        n = item.number
        enabled = "yes" if n.enabled else "no"
        print(f"{n.number:<18}{n.country:<9}{enabled:<9}{item.active_chats:>6}  {n.label}")
    return 0


async def numbers_remove(runtime: Any, args: argparse.Namespace) -> int:
    from .proxy import pool

    async with runtime.db.transaction() as session:
        record = await pool.remove_number(session, args.number, runtime.settings.default_region)
    say(f"Removed {record.number}")
    return 0


def _numbers_toggle(enabled: bool) -> Callable[[Any, argparse.Namespace], Awaitable[int]]:
    async def toggle(runtime: Any, args: argparse.Namespace) -> int:
        from .proxy import pool

        async with runtime.db.transaction() as session:
            record = await pool.set_enabled(
                session, args.number, enabled, runtime.settings.default_region
            )
        say(f"{record.number} is {'enabled' if enabled else 'disabled'}")
        return 0

    return toggle


async def users_create(runtime: Any, args: argparse.Namespace) -> int:
    from .proxy import users

    generated = not args.password_stdin
    password = users.generate_password() if generated else sys.stdin.readline().rstrip("\n")
    async with runtime.db.transaction() as session:
        user = await users.create_user(
            session, args.username, password, args.role, actor="cli", one_time=generated
        )
    say(f"Created {user.role} {user.username!r}")
    if generated:
        say("One-time password (shown once; a new one is chosen at first login):")
        print(password)
    return 0


async def users_list(runtime: Any, args: argparse.Namespace) -> int:
    from .proxy import users

    async with runtime.db.read() as session:
        for user in await users.list_users(session):
            print(f"{user.username:<24}{user.role:<8}{'active' if user.active else 'disabled'}")
    return 0


async def keys_create(runtime: Any, args: argparse.Namespace) -> int:
    from .proxy import keys

    async with runtime.db.transaction() as session:
        record, key = await keys.create_key(session, args.name, actor="cli")
    say(f"Created API key {record.name!r} (id {record.id}). It is shown once:")
    print(key)
    return 0


async def keys_list(runtime: Any, args: argparse.Namespace) -> int:
    from .proxy import keys

    async with runtime.db.read() as session:
        for record in await keys.list_keys(session):
            state = "revoked" if record.revoked_at else "active"
            print(f"{record.id:<5}{record.prefix:<14}{state:<9}{record.name}")
    return 0


async def keys_revoke(runtime: Any, args: argparse.Namespace) -> int:
    from .proxy import keys

    async with runtime.db.transaction() as session:
        record = await keys.revoke_key(session, args.key, actor="cli")
    say(f"Revoked API key {record.name!r} ({record.prefix}…)")
    return 0


HANDLERS: dict[tuple[str, str], Callable[[Any, argparse.Namespace], Awaitable[int]]] = {
    ("db", "upgrade"): db_upgrade,
    ("numbers", "add"): numbers_add,
    ("numbers", "list"): numbers_list,
    ("numbers", "remove"): numbers_remove,
    ("numbers", "enable"): _numbers_toggle(True),
    ("numbers", "disable"): _numbers_toggle(False),
    ("users", "create"): users_create,
    ("users", "list"): users_list,
    ("api-keys", "create"): keys_create,
    ("api-keys", "list"): keys_list,
    ("api-keys", "revoke"): keys_revoke,
}


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
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    from .app import create_app
    from .migrate import upgrade_async
    from .proxy.users import ensure_first_admin
    from .runtime import Runtime

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
    if generated_secret:
        say("SECRET_KEY is kept in a file beside the database (set SECRET_KEY to override).")
    await serve(app, config, shutdown_trigger=stop.wait)
