"""`smsproxy erase NUMBER`: the right to erasure, for one real number."""

from __future__ import annotations

import argparse

from ..phone import mask, parse_number
from ..proxy.erasure import Erasure, erase_number, survey
from ..runtime import Runtime
from .output import say


def describe(found: Erasure) -> str:
    parts = [
        f"{found.participants} participant row(s)",
        f"{found.chats_closed} active chat(s) to close",
        f"{found.messages} message(s) it wrote",
        f"{found.deliveries} SMS to it",
    ]
    if found.opted_out:
        parts.append("an opt-out, kept as a hash so that STOP still holds")
    return ", ".join(parts)


async def erase(runtime: Runtime, args: argparse.Namespace) -> int:
    number = parse_number(args.number, runtime.settings.default_region)
    shown = mask(number)
    if not args.yes:
        async with runtime.db.read() as session:
            found = await survey(session, number)
        say(f"{shown}: {describe(found)}.")
        say("Nothing was erased: run again with --yes to erase it for good.")
        return 1
    async with runtime.db.transaction() as session:
        done = await erase_number(session, number, actor="cli", templates=runtime.templates)
    closed = f"closed {done.chats_closed} active chat(s), " if done.chats_closed else ""
    say(
        f"Erased {shown}: {closed}{done.participants} participant row(s), "
        f"{done.messages} message(s), {done.deliveries} SMS"
        + (", its opt-out kept as a hash" if done.opted_out else "")
        + ". The audit log records the erasure without the number."
    )
    return 0
