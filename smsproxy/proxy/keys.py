"""API keys: shown once, stored as a SHA-256 digest.

A key is 32 random bytes, so a fast digest is safe against guessing (unlike a
password) and lets a request find its key with one indexed lookup.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..db import Database, utcnow
from ..errors import Conflict, InvalidInput, NotFound
from ..models import ApiKey
from . import audit

KEY_PREFIX = "spx_"
# Touching last_used_at on every request would turn each API read into a write.
LAST_USED_GRANULARITY = timedelta(minutes=1)


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_key(
    session: AsyncSession, name: str, *, actor: str, can_reveal: bool = False
) -> tuple[ApiKey, str]:
    """A new key named `name`, unique among active keys (the name is what people tell
    keys apart by, and what `revoke` accepts), returned once. `can_reveal`: it may ask
    for participants' real numbers (each answer audited); keys are made without that
    unless asked."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("An API key needs a name of 1 to 100 characters", field="name")
    taken = select(ApiKey.id).where(ApiKey.name == name, col(ApiKey.revoked_at).is_(None))
    if (await session.exec(taken)).first() is not None:
        raise _name_taken(name)
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKey(name=name, prefix=key[:12], key_hash=digest(key), can_reveal=can_reveal)
    try:
        # A savepoint: losing a race with another admin leaves the caller's transaction
        # usable, and the unique index says who lost.
        async with session.begin_nested():
            session.add(record)
    except IntegrityError:
        raise _name_taken(name) from None
    detail = {"name": name, "can_reveal": can_reveal}
    audit.record(session, actor=actor, action="api_key.create", target=record.prefix, detail=detail)
    return record, key


def _name_taken(name: str) -> Conflict:
    return Conflict(
        f"An active API key is already named {name!r}: choose another name, or revoke "
        "that key first",
        field="name",
    )


async def find_key(session: AsyncSession, presented: str) -> ApiKey | None:
    """The active key a request presents, or None. Reads only."""
    if not presented.startswith(KEY_PREFIX) or len(presented) > 200:
        return None
    record = (
        await session.exec(select(ApiKey).where(ApiKey.key_hash == digest(presented)))
    ).first()
    if record is None or record.revoked_at is not None:
        return None
    return record


async def check_key(db: Database, presented: str, now: datetime | None = None) -> ApiKey | None:
    """The active key a request presents, or None, noting its use at most once a minute.

    Looked up with a read, not a transaction: on SQLite a transaction takes the write
    lock, and most API calls write nothing.
    """
    async with db.read() as session:
        record = await find_key(session, presented)
    now = now or utcnow()
    if record is not None and _use_is_stale(record, now):
        async with db.transaction() as session:
            await session.exec(
                update(ApiKey).where(col(ApiKey.id) == record.id).values(last_used_at=now)
            )
        record.last_used_at = now
    return record


def _use_is_stale(record: ApiKey, now: datetime) -> bool:
    """Whether last_used_at is old enough to be worth a write."""
    return record.last_used_at is None or now - record.last_used_at > LAST_USED_GRANULARITY


async def list_keys(session: AsyncSession) -> list[ApiKey]:
    return list((await session.exec(select(ApiKey).order_by(col(ApiKey.id)))).all())


async def revoke_key(session: AsyncSession, ident: str, *, actor: str) -> ApiKey:
    """Revoke by id, prefix (the key's first 12 characters) or name (active keys'
    names are unique)."""
    query = select(ApiKey).where(col(ApiKey.revoked_at).is_(None))
    if ident.isdigit():
        query = query.where(ApiKey.id == int(ident))
    elif ident.startswith(KEY_PREFIX):
        query = query.where(ApiKey.prefix == ident[:12])
    else:
        query = query.where(ApiKey.name == ident)
    record = (await session.exec(query)).first()
    if record is None:
        raise NotFound(f"No active API key matches {ident!r}")
    record.revoked_at = utcnow()
    session.add(record)
    audit.record(session, actor=actor, action="api_key.revoke", target=record.prefix)
    return record
