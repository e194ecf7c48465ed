"""An erased number's opt-out, kept as a keyed hash so that erasure never subscribes
anyone again.

`forget` (erasure) turns an opt-out row into a hash of the number (`ErasedOptOut`).
When the number comes back (a new chat, a text in), `restore_erased` finds the hash
and makes the opt-out a plain row again, so every later check stays one indexed
lookup. The hash is scrypt with a salt this installation generated once (`SiteKey`):
someone holding the whole database could still test candidate numbers against it,
slowly. That is the price of STOP still holding after an erasure.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..db import insert_for
from ..models import ErasedOptOut, OptOut, SiteKey

log = logging.getLogger(__name__)

SALT_KEY = "opt_out_salt"
# scrypt's cost: about 40 ms a number here; paid only while erased opt-outs exist.
_SCRYPT = {"n": 2**12, "r": 8, "p": 1, "dklen": 32}


async def restore_erased(session: AsyncSession, number: str) -> bool:
    """An erased number came back (a new chat, a text): when it had opted out, its
    opt-out is a plain row again, so every later check is one indexed lookup."""
    erased = await erased_match(session, number)
    if erased is None:
        return False
    table = OptOut.__table__  # type: ignore[attr-defined]
    await session.exec(
        insert_for(session)(table)
        .values(number=number, source=erased.source, created_at=erased.opted_out_at)
        .on_conflict_do_nothing(index_elements=[table.c.number])
    )
    await session.delete(erased)
    await session.flush()
    log.info("an erased number came back; its opt-out still holds")
    return True


async def forget(session: AsyncSession, number: str, now: datetime) -> bool:
    """Erasure: the number's opt-out (if any) survives as a keyed hash only."""
    row = (await session.exec(select(OptOut).where(col(OptOut.number) == number))).first()
    if row is None:
        return False
    digest = await number_digest(session, number)
    table = ErasedOptOut.__table__  # type: ignore[attr-defined]
    await session.exec(
        insert_for(session)(table)
        .values(digest=digest, source=row.source, opted_out_at=row.created_at, erased_at=now)
        .on_conflict_do_nothing(index_elements=[table.c.digest])
    )
    await session.delete(row)
    await session.flush()
    return True


async def number_digest(session: AsyncSession, number: str) -> str:
    salt = await _salt(session)
    digest = await asyncio.to_thread(hashlib.scrypt, number.encode(), salt=salt, **_SCRYPT)
    return digest.hex()


async def any_erased(session: AsyncSession) -> bool:
    """Whether any erased opt-out is kept: hashing costs tens of milliseconds, paid only
    while there is something to compare with."""
    return (await session.exec(select(ErasedOptOut.digest).limit(1))).first() is not None


async def erased_match(session: AsyncSession, number: str) -> ErasedOptOut | None:
    if not await any_erased(session):
        return None
    return await session.get(ErasedOptOut, await number_digest(session, number))


async def _salt(session: AsyncSession) -> bytes:
    table = SiteKey.__table__  # type: ignore[attr-defined]
    # Of two processes creating it at once, the first insert wins and both read it.
    await session.exec(
        insert_for(session)(table)
        .values(name=SALT_KEY, value=secrets.token_hex(32))
        .on_conflict_do_nothing(index_elements=[table.c.name])
    )
    value = (await session.exec(select(SiteKey.value).where(SiteKey.name == SALT_KEY))).one()
    return bytes.fromhex(value)
