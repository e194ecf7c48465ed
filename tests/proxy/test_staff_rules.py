"""Staff administration rules: one-time passwords, resets, disabling, roles, and the
rules that always keep an active admin."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlmodel.ext.asyncio.session import AsyncSession

from smsproxy.errors import Conflict, NotFound, ProxyError
from smsproxy.models import Role
from smsproxy.proxy import users
from smsproxy.runtime import Runtime
from tests.staff_accounts import NEW_PASSWORD, PASSWORD, audit_actions, load, make

# One-time passwords


@pytest.mark.parametrize("one_time", [False, True])
async def test_create_user_records_whether_the_password_is_one_time(
    runtime: Runtime, one_time: bool
) -> None:
    await make(runtime, "alice", one_time=one_time)
    assert (await load(runtime, "alice")).must_change_password is one_time


async def test_first_admin_must_choose_a_password(runtime: Runtime) -> None:
    async with runtime.db.transaction() as session:
        first = await users.ensure_first_admin(session)
    assert first is not None
    admin = await load(runtime, first[0])
    assert admin.role == Role.admin and admin.must_change_password


async def test_change_own_password_clears_the_flag(runtime: Runtime) -> None:
    user = await make(runtime, "alice", one_time=True)
    before = users.credential_fingerprint(user)
    async with runtime.db.transaction() as session:
        assert user.id is not None
        changed = await users.change_own_password(session, user.id, PASSWORD, NEW_PASSWORD)
    assert not changed.must_change_password
    assert users.credential_fingerprint(changed) != before
    async with runtime.db.transaction() as session:
        assert await users.authenticate(session, "alice", PASSWORD) is None
        assert await users.authenticate(session, "alice", NEW_PASSWORD) is not None
    assert ("staff:alice", "staff.password", "alice") in await audit_actions(runtime)


@pytest.mark.parametrize(
    ("current", "new", "field", "message"),
    [
        ("not my password", NEW_PASSWORD, "current_password", "not your current password"),
        ("", NEW_PASSWORD, "current_password", "not your current password"),
        (PASSWORD, "short", "new_password", "at least 10 characters"),
        (PASSWORD, "x" * 1025, "new_password", "at most 1024 characters"),
        (PASSWORD, PASSWORD, "new_password", "not the one you have now"),
    ],
)
async def test_change_own_password_refusals(
    runtime: Runtime, current: str, new: str, field: str, message: str
) -> None:
    user = await make(runtime, "alice", one_time=True)
    assert user.id is not None
    async with runtime.db.transaction() as session:
        with pytest.raises(ProxyError) as caught:
            await users.change_own_password(session, user.id, current, new)
    assert caught.value.field == field and message in caught.value.message
    saved = await load(runtime, "alice")
    assert saved.must_change_password and saved.password_hash == user.password_hash


async def test_disabled_user_cannot_change_password(runtime: Runtime) -> None:
    user = await make(runtime, "alice")
    async with runtime.db.transaction() as session:
        await users.set_active(session, "alice", False, actor="tests")
    assert user.id is not None
    async with runtime.db.transaction() as session:
        with pytest.raises(NotFound):
            await users.change_own_password(session, user.id, PASSWORD, NEW_PASSWORD)


async def test_reset_password_gives_a_new_one_time_password(runtime: Runtime) -> None:
    await make(runtime, "boss", "admin")
    user = await make(runtime, "alice")
    async with runtime.db.transaction() as session:
        reset, password = await users.reset_password(
            session, "alice", actor="staff:boss", by="boss"
        )
    assert reset.must_change_password and password != PASSWORD
    assert users.credential_fingerprint(reset) != users.credential_fingerprint(user)
    async with runtime.db.transaction() as session:
        assert await users.authenticate(session, "alice", PASSWORD) is None
        assert await users.authenticate(session, "alice", password) is not None
    assert ("staff:boss", "staff.password_reset", "alice") in await audit_actions(runtime)


async def test_reset_password_of_oneself_is_refused(runtime: Runtime) -> None:
    await make(runtime, "boss", "admin")
    async with runtime.db.transaction() as session:
        with pytest.raises(Conflict, match="account page"):
            await users.reset_password(session, "Boss", actor="staff:boss", by="boss")
    assert not (await load(runtime, "boss")).must_change_password


# Disable, enable, roles: never without an active admin


async def test_disable_and_enable(runtime: Runtime) -> None:
    await make(runtime, "boss", "admin")
    await make(runtime, "alice")
    async with runtime.db.transaction() as session:
        await users.set_active(session, "alice", False, actor="staff:boss", by="boss")
    async with runtime.db.transaction() as session:
        assert await users.authenticate(session, "alice", PASSWORD) is None
        await users.set_active(session, "alice", True, actor="staff:boss", by="boss")
    async with runtime.db.transaction() as session:
        assert await users.authenticate(session, "alice", PASSWORD) is not None
    actions = await audit_actions(runtime)
    assert ("staff:boss", "staff.disable", "alice") in actions
    assert ("staff:boss", "staff.enable", "alice") in actions


async def test_nobody_disables_themselves(runtime: Runtime) -> None:
    await make(runtime, "boss", "admin")
    await make(runtime, "other", "admin")
    async with runtime.db.transaction() as session:
        with pytest.raises(Conflict, match="your own account"):
            await users.set_active(session, "boss", False, actor="staff:boss", by="boss")
    assert (await load(runtime, "boss")).active


@pytest.mark.parametrize("others", [[], [("agent", True)], [("admin", False)]])
async def test_the_last_active_admin_is_kept(
    runtime: Runtime, others: list[tuple[str, bool]]
) -> None:
    await make(runtime, "boss", "admin")
    for number, (role, active) in enumerate(others):
        await make(runtime, f"other{number}", role)
        if not active:
            async with runtime.db.transaction() as session:
                await users.set_active(session, f"other{number}", False, actor="tests")
    async with runtime.db.transaction() as session:
        with pytest.raises(Conflict) as disabling:
            await users.set_active(session, "boss", False, actor="cli")
        with pytest.raises(Conflict) as demoting:
            await users.set_role(session, "boss", "agent", actor="cli")
    # Whole sentences: the page shows them as they are.
    assert disabling.value.message == (
        "'boss' is the last active admin: make someone else an admin before you disable them"
    )
    assert demoting.value.message == (
        "'boss' is the last active admin: make someone else an admin before you make them an agent"
    )
    saved = await load(runtime, "boss")
    assert saved.active and saved.role == Role.admin


async def test_an_admin_goes_when_another_stays(runtime: Runtime) -> None:
    await make(runtime, "boss", "admin")
    await make(runtime, "other", "admin")
    async with runtime.db.transaction() as session:
        await users.set_role(session, "other", "agent", actor="staff:boss")
    assert (await load(runtime, "other")).role == Role.agent
    async with runtime.db.transaction() as session:
        await users.set_role(session, "other", Role.admin, actor="staff:boss")
        await users.set_active(session, "other", False, actor="staff:boss", by="boss")
    saved = await load(runtime, "other")
    assert saved.role == Role.admin and not saved.active
    assert ("staff:boss", "staff.role", "other") in await audit_actions(runtime)


async def test_two_admins_disabling_each_other_at_once_leave_one(runtime: Runtime) -> None:
    await make(runtime, "ann", "admin")
    await make(runtime, "bob", "admin")

    async def ann_disables_bob() -> None:
        async with runtime.db.transaction() as session:
            await users.set_active(session, "bob", False, actor="staff:ann", by="ann")

    async with runtime.db.transaction() as session:
        await users.set_active(session, "ann", False, actor="staff:bob", by="bob")
        # Ann's attempt runs while Bob's change is not committed yet: it must wait for
        # it and then see that Bob is the last admin, not read the old state.
        other = asyncio.create_task(ann_disables_bob())
        await asyncio.sleep(0.3)
    with pytest.raises(Conflict, match="'bob' is the last active admin"):
        await other
    assert not (await load(runtime, "ann")).active
    assert (await load(runtime, "bob")).active


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda s: users.set_active(s, "nobody", False, actor="t"), NotFound),
        (lambda s: users.set_role(s, "nobody", "agent", actor="t"), NotFound),
        (lambda s: users.reset_password(s, "nobody", actor="t"), NotFound),
        (lambda s: users.set_role(s, "alice", "owner", actor="t"), ProxyError),
    ],
)
async def test_unknown_users_and_roles(
    runtime: Runtime, call: Callable[[AsyncSession], Awaitable[Any]], error: type[Exception]
) -> None:
    await make(runtime, "alice")
    async with runtime.db.transaction() as session:
        with pytest.raises(error):
            await call(session)
