"""The `smsproxy` command: run the server and administer the pool, users and API keys.

Output meant for scripts (an API key, a password) goes to stdout alone; everything
said to a person goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import NoReturn

from ..config import ConfigError
from ..errors import ProxyError
from .admin import HANDLERS, admin_settings, with_runtime
from .output import say
from .serve import run_server
from .worker import run_worker


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # One line, not argparse's usage block: scripts log it, people read it.
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="smsproxy", description="Self-hosted SMS proxy (number masking).")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="start the server (applies migrations first)")
    run.add_argument("--host", help="address to listen on (default HOST or 127.0.0.1)")
    run.add_argument("--port", type=int, help="port to listen on (default PORT or 8000)")

    commands.add_parser(
        "worker", help="run the sender and the sweepers without the web (applies migrations first)"
    )

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
    recount = number_commands.add_parser(
        "recount", help="check each number's route counts against its chats, and fix them"
    )
    recount.add_argument(
        "--check", action="store_true", help="only report; exit 1 when a count is off"
    )
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
    user_commands.add_parser("list", help="list staff users and their state")
    reset = user_commands.add_parser(
        "reset-password", help="give a user a new one-time password (printed once)"
    )
    reset.add_argument("username")

    keys = commands.add_parser("api-keys", help="API keys")
    key_commands = keys.add_subparsers(dest="action", required=True, parser_class=_Parser)
    key_create = key_commands.add_parser("create", help="create a key; prints only the key")
    key_create.add_argument("name")
    key_create.add_argument(
        "--reveal",
        action="store_true",
        help="the key may ask for participants' real numbers (each answer is audited)",
    )
    key_commands.add_parser("list", help="list keys (never the keys themselves)")
    revoke = key_commands.add_parser("revoke", help="revoke by id, prefix or name")
    revoke.add_argument("key")

    erase = commands.add_parser(
        "erase", help="erase everything about one real number (right to erasure)"
    )
    erase.add_argument("number", help="the real number, in any format with a country code")
    erase.add_argument("--yes", action="store_true", help="erase; without it, only say what")
    erase.set_defaults(action="")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "run":
            run_server(args)
            return
        settings = admin_settings()
        if args.command == "worker":
            run_worker(settings)
            return
        handler = HANDLERS[(args.command, args.action)]
        code = asyncio.run(with_runtime(settings, lambda rt: handler(rt, args)))
    except ConfigError as error:
        for line in error.lines:
            say(f"smsproxy: configuration: {line}")
        sys.exit(2)
    except ProxyError as error:
        say(f"smsproxy: error: {error.message}")
        sys.exit(1)
    sys.exit(code or 0)
