"""API keys: shown once, stored as a digest, found by it, revocable."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from quart import Quart
from sqlmodel import select

from smsproxy.errors import Conflict, InvalidInput, NotFound
from smsproxy.models import ApiKey, AuditEvent
from smsproxy.proxy import keys
from smsproxy.runtime import Runtime


async def make(rt: Runtime, name: str) -> tuple[ApiKey, str]:
    async with rt.db.transaction() as session:
        return await keys.create_key(session, name, actor="admin")


async def verify(rt: Runtime, presented: str) -> ApiKey | None:
    return await keys.check_key(rt.db, presented)


async def revoke(rt: Runtime, ident: str) -> ApiKey:
    async with rt.db.transaction() as session:
        return await keys.revoke_key(session, ident, actor="admin")


async def test_a_key_is_stored_only_as_its_digest(runtime: Runtime) -> None:
    record, key = await make(runtime, "  billing  ")
    assert key.startswith("spx_") and len(key) > 40
    assert record.name == "billing"
    assert record.prefix == key[:12]
    assert record.key_hash == keys.digest(key) != key
    async with runtime.db.read() as session:
        stored = (await session.exec(select(ApiKey))).one()
        audit = (await session.exec(select(AuditEvent))).one()
    assert key not in (stored.key_hash, stored.prefix, stored.name)
    assert (audit.actor, audit.action, audit.target) == ("admin", "api_key.create", key[:12])


async def test_keys_are_unique(runtime: Runtime) -> None:
    (_, first), (_, second) = await make(runtime, "a"), await make(runtime, "b")
    assert first != second


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
async def test_a_key_needs_a_sensible_name(runtime: Runtime, name: str) -> None:
    with pytest.raises(InvalidInput, match="1 to 100 characters") as refused:
        await make(runtime, name)
    assert (refused.value.status, refused.value.code, refused.value.field) == (
        422,
        "invalid_request",
        "name",
    )


async def test_verify_finds_the_key_and_notes_its_use(runtime: Runtime) -> None:
    record, key = await make(runtime, "ops")
    assert record.last_used_at is None
    found = await verify(runtime, key)
    assert found is not None and found.id == record.id
    assert found.last_used_at is not None


async def test_last_use_is_written_at_most_once_a_minute(runtime: Runtime) -> None:
    _, key = await make(runtime, "ops")
    first = await verify(runtime, key)
    assert first is not None and first.last_used_at is not None
    again = await verify(runtime, key)
    assert again is not None and again.last_used_at == first.last_used_at
    async with runtime.db.transaction() as session:
        stored = (await session.exec(select(ApiKey))).one()
        stored.last_used_at = first.last_used_at - timedelta(minutes=2)
        session.add(stored)
    later = await verify(runtime, key)
    assert later is not None and later.last_used_at is not None
    assert later.last_used_at >= first.last_used_at  # written again, not left 2 min back


@pytest.mark.parametrize(
    "presented",
    ["", "spx_", "spx_not-a-key", "Bearer spx_x", "sk_live_something", "spx_" + "a" * 300],
)
async def test_unknown_keys_are_not_found(runtime: Runtime, presented: str) -> None:
    await make(runtime, "ops")
    assert await verify(runtime, presented) is None


async def test_a_key_with_one_character_changed_is_unknown(runtime: Runtime) -> None:
    _, key = await make(runtime, "ops")
    changed = key[:-1] + ("A" if key[-1] != "A" else "B")
    assert await verify(runtime, changed) is None


@pytest.mark.parametrize("how", ["id", "prefix", "whole key", "name"])
async def test_revoke_by_id_prefix_or_name(runtime: Runtime, how: str) -> None:
    record, key = await make(runtime, "old integration")
    _, other = await make(runtime, "current")
    ident = {
        "id": str(record.id),
        "prefix": record.prefix,
        "whole key": key,
        "name": "old integration",
    }[how]
    revoked = await revoke(runtime, ident)
    assert revoked.id == record.id and revoked.revoked_at is not None
    assert await verify(runtime, key) is None
    assert await verify(runtime, other) is not None
    with pytest.raises(NotFound, match="No active API key"):
        await revoke(runtime, ident)


async def test_list_keys_in_creation_order(runtime: Runtime) -> None:
    for name in ("b", "a", "c"):
        await make(runtime, name)
    async with runtime.db.read() as session:
        assert [k.name for k in await keys.list_keys(session)] == ["b", "a", "c"]


async def test_an_api_call_notes_the_key_use_at_most_once_a_minute(app: Quart) -> None:
    rt: Runtime = app.extensions["smsproxy"]
    record, key = await make(rt, "integration")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}

    async def last_used() -> datetime | None:
        async with rt.db.read() as session:
            stored = await session.get(ApiKey, record.id)
            assert stored is not None
            return stored.last_used_at

    assert (await client.get("/api/v1/numbers", headers=headers)).status_code == 200
    first = await last_used()
    assert first is not None
    assert (await client.get("/api/v1/numbers", headers=headers)).status_code == 200
    assert await last_used() == first
    async with rt.db.transaction() as session:
        stored = await session.get(ApiKey, record.id)
        assert stored is not None
        stored.last_used_at = first - timedelta(minutes=2)
        session.add(stored)
    assert (await client.get("/api/v1/numbers", headers=headers)).status_code == 200
    later = await last_used()
    assert later is not None and later >= first


async def test_active_key_names_are_unique(runtime: Runtime) -> None:
    first, _ = await make(runtime, "billing")
    with pytest.raises(Conflict, match="already named 'billing'") as refused:
        await make(runtime, " billing ")
    assert refused.value.field == "name" and refused.value.status == 409
    await revoke(runtime, str(first.id))
    second, _ = await make(runtime, "billing")
    assert second.id != first.id


async def test_two_keys_named_alike_at_once_make_one(runtime: Runtime) -> None:
    """The index decides when both checks pass before either insert commits."""
    results = await asyncio.gather(
        make(runtime, "race"), make(runtime, "race"), return_exceptions=True
    )
    assert sorted(type(result).__name__ for result in results) == ["Conflict", "tuple"]
