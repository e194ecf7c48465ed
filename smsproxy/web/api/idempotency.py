"""Idempotency-Key: a retried POST gets the first answer again instead of a second chat."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from ...db import Database
from ...errors import InvalidInput
from ...models import ApiKey, IdempotencyRecord
from ...proxy.chats import retry_on_route_conflict

Work = Callable[[AsyncSession], Awaitable[tuple[dict[str, Any], int]]]


def _fingerprint(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


async def idempotent(
    db: Database, key: ApiKey, idempotency_key: str | None, body: dict[str, Any], work: Work
) -> tuple[Any, ...]:
    """Run `work` once per (API key, Idempotency-Key); replay its answer afterwards.

    The record is written in the same transaction as the work, so a crash leaves
    either both or neither, and two concurrent requests with one key create one chat.
    """
    if idempotency_key is None:
        return await retry_on_route_conflict(db, work)
    if not idempotency_key.strip() or len(idempotency_key) > 200:
        raise InvalidInput("Idempotency-Key must be 1 to 200 characters", field="Idempotency-Key")
    fingerprint = _fingerprint(body)
    key_id = key.id
    assert key_id is not None

    async def once(session: AsyncSession) -> tuple[Any, ...]:
        earlier = await _lookup(session, key, idempotency_key)
        if earlier is not None:
            return _replay(earlier, fingerprint)
        payload, status = await work(session)
        session.add(
            IdempotencyRecord(
                api_key_id=key_id,
                key=idempotency_key,
                request_hash=fingerprint,
                status_code=status,
                response=payload,
            )
        )
        await session.flush()
        return payload, status

    try:
        return await retry_on_route_conflict(db, once)
    except IntegrityError:
        # A concurrent request with the same key committed first: answer as it did.
        async with db.read() as session:
            earlier = await _lookup(session, key, idempotency_key)
        if earlier is None:
            raise
        return _replay(earlier, fingerprint)


async def _lookup(
    session: AsyncSession, key: ApiKey, idempotency_key: str
) -> IdempotencyRecord | None:
    query = select(IdempotencyRecord).where(
        IdempotencyRecord.api_key_id == key.id, IdempotencyRecord.key == idempotency_key
    )
    return (await session.exec(query)).first()


def _replay(record: IdempotencyRecord, fingerprint: str) -> tuple[Any, int, dict[str, str]]:
    if record.request_hash != fingerprint:
        raise InvalidInput(
            "This Idempotency-Key was already used with a different request body",
            field="Idempotency-Key",
        )
    return record.response, record.status_code, {"Idempotent-Replayed": "true"}
