"""The administrative commands: the pool, staff accounts, API keys, the schema.

Each runs on a Runtime of its own without background loops, after migrations.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Awaitable, Callable

from ..config import Settings, ensure_secret_key, load_settings
from ..migrate import upgrade_async
from ..proxy import keys, load, passwords, pool, users
from ..runtime import Runtime
from .erase import erase
from .output import say


def admin_settings() -> Settings:
    """Settings for one-off admin commands, which sign nothing: they need the database,
    not a SECRET_KEY, so a missing one is not an error here."""
    ensure_secret_key()
    if os.environ.get("SECRET_KEY"):
        return load_settings()
    return load_settings(secret_key="unused-by-admin-commands-" + os.urandom(8).hex())


async def with_runtime(settings: Settings, work: Callable[[Runtime], Awaitable[int]]) -> int:
    await upgrade_async(settings.database_url)
    runtime = Runtime(settings, background=False)
    try:
        return await work(runtime)
    finally:
        await runtime.stop()


async def db_upgrade(runtime: Runtime, args: argparse.Namespace) -> int:
    say("Database is up to date.")
    return 0


async def numbers_add(runtime: Runtime, args: argparse.Namespace) -> int:

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


async def numbers_list(runtime: Runtime, args: argparse.Namespace) -> int:

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


async def numbers_recount(runtime: Runtime, args: argparse.Namespace) -> int:
    """Compare each number's route counters with a full count; fix them unless --check."""
    async with runtime.db.transaction() as session:
        drift = await load.count_drift(session, repair=not args.check)
    if not drift:
        say("Every number's route and chat counts match its participants.")
        return 0
    for item in drift:
        (routes, chats), (real_routes, real_chats) = item.stored, item.actual
        say(
            f"{item.number}: counted {real_routes} routes in {real_chats} chats, "
            f"stored {routes} in {chats}" + ("" if args.check else " (fixed)")
        )
    return 1 if args.check else 0


async def numbers_remove(runtime: Runtime, args: argparse.Namespace) -> int:

    async with runtime.db.transaction() as session:
        record = await pool.remove_number(session, args.number, runtime.settings.default_region)
    say(f"Removed {record.number}")
    return 0


def _numbers_toggle(enabled: bool) -> Callable[[Runtime, argparse.Namespace], Awaitable[int]]:
    async def toggle(runtime: Runtime, args: argparse.Namespace) -> int:

        async with runtime.db.transaction() as session:
            record = await pool.set_enabled(
                session, args.number, enabled, runtime.settings.default_region
            )
        say(f"{record.number} is {'enabled' if enabled else 'disabled'}")
        return 0

    return toggle


async def users_create(runtime: Runtime, args: argparse.Namespace) -> int:

    generated = not args.password_stdin
    password = passwords.generate_password() if generated else sys.stdin.readline().rstrip("\n")
    async with runtime.db.transaction() as session:
        user = await users.create_user(
            session, args.username, password, args.role, actor="cli", one_time=generated
        )
    say(f"Created {user.role} {user.username!r}")
    if generated:
        say("One-time password (shown once; a new one is chosen at first login):")
        print(password)
    return 0


async def users_list(runtime: Runtime, args: argparse.Namespace) -> int:

    async with runtime.db.read() as session:
        people = await users.list_users(session)
    print(f"{'USERNAME':<24}{'ROLE':<8}{'STATE':<10}LAST LOGIN")
    for user in people:
        last = user.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if user.last_login_at else "never"
        state = users.account_state(user)
        print(f"{user.username:<24}{user.role:<8}{state:<10}{last}")
    return 0


async def users_reset_password(runtime: Runtime, args: argparse.Namespace) -> int:
    """The way back in for someone who lost their password, the first admin's too."""
    async with runtime.db.transaction() as session:
        user, password = await users.reset_password(session, args.username, actor="cli")
    say(f"{user.username!r} has a new one-time password (shown once; their other sessions")
    say("have ended, and a password of their own is chosen at the next login):")
    print(password)
    return 0


async def keys_create(runtime: Runtime, args: argparse.Namespace) -> int:

    async with runtime.db.transaction() as session:
        record, key = await keys.create_key(session, args.name, actor="cli", can_reveal=args.reveal)
    allowed = " It may reveal participants' real numbers." if record.can_reveal else ""
    say(f"Created API key {record.name!r} (id {record.id}).{allowed} It is shown once:")
    print(key)
    return 0


async def keys_list(runtime: Runtime, args: argparse.Namespace) -> int:

    async with runtime.db.read() as session:
        for record in await keys.list_keys(session):
            state = "revoked" if record.revoked_at else "active"
            reveal = "reveal" if record.can_reveal else "-"
            print(f"{record.id:<5}{record.prefix:<14}{state:<9}{reveal:<8}{record.name}")
    return 0


async def keys_revoke(runtime: Runtime, args: argparse.Namespace) -> int:

    async with runtime.db.transaction() as session:
        record = await keys.revoke_key(session, args.key, actor="cli")
    say(f"Revoked API key {record.name!r} ({record.prefix}…)")
    return 0


HANDLERS: dict[tuple[str, str], Callable[[Runtime, argparse.Namespace], Awaitable[int]]] = {
    ("db", "upgrade"): db_upgrade,
    ("numbers", "add"): numbers_add,
    ("numbers", "list"): numbers_list,
    ("numbers", "remove"): numbers_remove,
    ("numbers", "recount"): numbers_recount,
    ("numbers", "enable"): _numbers_toggle(True),
    ("numbers", "disable"): _numbers_toggle(False),
    ("users", "create"): users_create,
    ("users", "list"): users_list,
    ("users", "reset-password"): users_reset_password,
    ("api-keys", "create"): keys_create,
    ("api-keys", "list"): keys_list,
    ("api-keys", "revoke"): keys_revoke,
    ("erase", ""): erase,
}
