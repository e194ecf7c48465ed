"""Staff accounts: validation, argon2 hashes, authentication, the first admin."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from sqlmodel import select

from smsproxy.db import utcnow
from smsproxy.errors import Conflict, NotFound, ProxyError
from smsproxy.models import AuditEvent, Role, StaffUser
from smsproxy.proxy import passwords, users
from smsproxy.runtime import Runtime

PASSWORD = "a long enough password"


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("alice", "alice"),
        ("  Bob.Smith_2-x ", "bob.smith_2-x"),
        ("abc", "abc"),
        ("a" * 64, "a" * 64),
    ],
)
async def test_create_user_normalizes_username_and_hashes(
    runtime: Runtime, raw: str, stored: str
) -> None:
    async with runtime.db.transaction() as session:
        user = await users.create_user(session, raw, PASSWORD, "admin")
    async with runtime.db.read() as session:
        saved = (await session.exec(select(StaffUser))).one()
    assert saved.id == user.id and saved.username == stored and saved.role == Role.admin
    assert saved.password_hash.startswith("$argon2id$")
    assert PASSWORD not in saved.password_hash
    assert PasswordHasher().verify(saved.password_hash, PASSWORD)


@pytest.mark.parametrize(
    ("username", "password", "role", "field"),
    [
        ("ab", PASSWORD, "agent", "username"),
        ("a" * 65, PASSWORD, "agent", "username"),
        ("has space", PASSWORD, "agent", "username"),
        ("émile", PASSWORD, "agent", "username"),
        ("alice@example", PASSWORD, "agent", "username"),
        ("", PASSWORD, "agent", "username"),
        ("alice", "short", "agent", "password"),
        ("alice", "123456789", "agent", "password"),
        ("alice", "x" * 1025, "agent", "password"),
        ("alice", PASSWORD, "owner", "role"),
    ],
)
async def test_create_user_rejects_bad_input(
    runtime: Runtime, username: str, password: str, role: str, field: str
) -> None:
    async with runtime.db.transaction() as session:
        with pytest.raises(ProxyError) as caught:
            await users.create_user(session, username, password, role)
    assert caught.value.field == field
    assert caught.value.message
    async with runtime.db.read() as session:
        assert (await session.exec(select(StaffUser))).all() == []


async def test_password_of_exactly_ten_characters_is_accepted(runtime: Runtime) -> None:
    async with runtime.db.transaction() as session:
        user = await users.create_user(session, "alice", "0123456789")
    assert user.role == Role.agent


@pytest.mark.parametrize("second", ["alice", "ALICE", " alice "])
async def test_duplicate_username_is_a_conflict(runtime: Runtime, second: str) -> None:
    async with runtime.db.transaction() as session:
        await users.create_user(session, "alice", PASSWORD)
    async with runtime.db.transaction() as session:
        with pytest.raises(Conflict, match="'alice' already exists"):
            await users.create_user(session, second, PASSWORD)
    async with runtime.db.read() as session:
        assert len((await session.exec(select(StaffUser))).all()) == 1


@pytest.mark.parametrize(
    ("username", "password", "ok"),
    [
        ("alice", PASSWORD, True),
        ("ALICE ", PASSWORD, True),
        ("alice", PASSWORD + "x", False),
        ("alice", "", False),
        ("nobody", PASSWORD, False),
    ],
)
async def test_authenticate(runtime: Runtime, username: str, password: str, ok: bool) -> None:
    async with runtime.db.transaction() as session:
        await users.create_user(session, "alice", PASSWORD)
    before = utcnow()
    async with runtime.db.transaction() as session:
        user = await users.authenticate(session, username, password)
    assert (user is not None) == ok
    async with runtime.db.read() as session:
        saved = await users.get_user_by_username(session, "alice")
        logins = await session.exec(select(AuditEvent).where(AuditEvent.action == "staff.login"))
        login_events = logins.all()
    assert saved is not None
    if ok:
        assert saved.last_login_at is not None and saved.last_login_at >= before
        assert [event.actor for event in login_events] == ["staff:alice"]
    else:
        assert saved.last_login_at is None
        assert login_events == []


async def test_inactive_user_cannot_authenticate(runtime: Runtime) -> None:
    async with runtime.db.transaction() as session:
        user = await users.create_user(session, "alice", PASSWORD)
        user.active = False
    async with runtime.db.transaction() as session:
        assert await users.authenticate(session, "alice", PASSWORD) is None


async def test_authenticate_rehashes_when_parameters_change(runtime: Runtime) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    async with runtime.db.transaction() as session:
        session.add(StaffUser(username="alice", password_hash=weak.hash(PASSWORD)))
    async with runtime.db.transaction() as session:
        assert await users.authenticate(session, "alice", PASSWORD) is not None
    async with runtime.db.read() as session:
        saved = await users.get_user_by_username(session, "alice")
    assert saved is not None
    assert not passwords.hasher.check_needs_rehash(saved.password_hash)
    assert passwords.hasher.verify(saved.password_hash, PASSWORD)


async def test_unparseable_hash_fails_closed(runtime: Runtime) -> None:
    async with runtime.db.transaction() as session:
        session.add(StaffUser(username="alice", password_hash="not-a-hash"))
    async with runtime.db.transaction() as session:
        assert await users.authenticate(session, "alice", "not-a-hash") is None


async def test_set_password_replaces_hash_and_fingerprint(runtime: Runtime) -> None:
    async with runtime.db.transaction() as session:
        user = await users.create_user(session, "alice", PASSWORD)
        old_fingerprint = users.credential_fingerprint(user)
    async with runtime.db.transaction() as session:
        await users.set_password(session, "alice", "a brand new password")
    async with runtime.db.transaction() as session:
        assert await users.authenticate(session, "alice", PASSWORD) is None
        changed = await users.authenticate(session, "alice", "a brand new password")
    assert changed is not None
    assert users.credential_fingerprint(changed) != old_fingerprint


@pytest.mark.parametrize(
    ("username", "password", "error"),
    [("nobody", PASSWORD, NotFound), ("alice", "short", ProxyError)],
)
async def test_set_password_errors(
    runtime: Runtime, username: str, password: str, error: type[Exception]
) -> None:
    async with runtime.db.transaction() as session:
        await users.create_user(session, "alice", PASSWORD)
    async with runtime.db.transaction() as session:
        with pytest.raises(error):
            await users.set_password(session, username, password)


async def test_ensure_first_admin_only_when_nobody_exists(runtime: Runtime) -> None:
    async with runtime.db.transaction() as session:
        first = await users.ensure_first_admin(session)
    assert first is not None
    username, password = first
    assert username == "admin" and len(password) >= 16
    async with runtime.db.transaction() as session:
        admin = await users.authenticate(session, username, password)
        again = await users.ensure_first_admin(session)
    assert admin is not None and admin.role == Role.admin
    assert again is None
    async with runtime.db.read() as session:
        assert [user.username for user in await users.list_users(session)] == ["admin"]


async def test_ensure_first_admin_leaves_existing_staff_alone(runtime: Runtime) -> None:
    async with runtime.db.transaction() as session:
        await users.create_user(session, "zoe", PASSWORD, Role.agent)
    async with runtime.db.transaction() as session:
        assert await users.ensure_first_admin(session) is None
    async with runtime.db.read() as session:
        assert [user.username for user in await users.list_users(session)] == ["zoe"]


async def test_list_users_sorted_by_username(runtime: Runtime) -> None:
    async with runtime.db.transaction() as session:
        for name in ("mallory", "alice", "bob"):
            await users.create_user(session, name, PASSWORD)
    async with runtime.db.read() as session:
        names = [user.username for user in await users.list_users(session)]
    assert names == ["alice", "bob", "mallory"]


def test_generated_passwords_are_long_and_distinct() -> None:
    made = {passwords.generate_password() for _ in range(50)}
    assert len(made) == 50
    assert all(len(p) >= passwords.MIN_PASSWORD_LENGTH and p.strip() == p for p in made)


async def test_unknown_username_still_verifies_a_hash(runtime: Runtime) -> None:
    # Timing is not asserted (slow machines); what is: the unknown-user path does the
    # same argon2 verification as a wrong password.
    passwords.dummy_hash.cache_clear()
    async with runtime.db.transaction() as session:
        assert await users.authenticate(session, "nobody", PASSWORD) is None
    assert passwords.dummy_hash.cache_info().misses == 1
