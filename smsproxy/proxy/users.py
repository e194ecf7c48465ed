"""Staff accounts: who may use the dashboard, and how their passwords are checked.

Passwords are hashed with argon2id. Hashing takes a noticeable fraction of a second on
purpose, so it runs in a worker thread (argon2's C code releases the GIL) and never
stalls the event loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..db import utcnow
from ..models import AuditEvent, Role, StaffUser
from .errors import Conflict, NotFound, ProxyError

USERNAME_PATTERN = re.compile(r"[a-z0-9._-]{3,64}")
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
FIRST_ADMIN = "admin"

hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    # Verified against when the username is unknown, so a wrong username takes as long
    # as a wrong password and response times do not reveal which usernames exist.
    return hasher.hash(secrets.token_urlsafe(16))


def normalize_username(raw: str) -> str:
    return (raw or "").strip().lower()


def validate_username(raw: str) -> str:
    username = normalize_username(raw)
    if not USERNAME_PATTERN.fullmatch(username):
        raise ProxyError(
            "Username must be 3 to 64 characters: lowercase letters, digits, '.', '_' or '-'",
            field="username",
        )
    return username


def validate_password(password: str) -> str:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise ProxyError(
            f"Password must be at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ProxyError(
            f"Password must be at most {MAX_PASSWORD_LENGTH} characters", field="password"
        )
    return password


def validate_role(raw: Role | str) -> Role:
    try:
        return Role(raw)
    except ValueError:
        names = ", ".join(role.value for role in Role)
        raise ProxyError(f"Role must be one of: {names}", field="role") from None


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(hasher.hash, password)


async def _verify(stored_hash: str, password: str) -> bool:
    try:
        return await asyncio.to_thread(hasher.verify, stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    """A random password of 20 URL-safe characters (about 120 bits)."""
    return secrets.token_urlsafe(15)


def credential_fingerprint(user: StaffUser) -> str:
    """Changes whenever the password hash changes: part of the login cookie, so setting
    a new password ends every other session of that user."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


async def get_user(session: AsyncSession, user_id: int) -> StaffUser | None:
    return await session.get(StaffUser, user_id)


async def get_user_by_username(session: AsyncSession, username: str) -> StaffUser | None:
    statement = select(StaffUser).where(StaffUser.username == normalize_username(username))
    return (await session.exec(statement)).first()


async def list_users(session: AsyncSession) -> list[StaffUser]:
    statement = select(StaffUser).order_by(StaffUser.username)
    return list((await session.exec(statement)).all())


async def create_user(
    session: AsyncSession,
    username: str,
    password: str,
    role: Role | str = Role.agent,
    *,
    actor: str = "system",
) -> StaffUser:
    username = validate_username(username)
    validate_password(password)
    chosen_role = validate_role(role)
    if await get_user_by_username(session, username) is not None:
        raise Conflict(f"A staff user named {username!r} already exists", field="username")
    user = StaffUser(
        username=username, password_hash=await hash_password(password), role=chosen_role
    )
    try:
        # A savepoint, so losing a race with another process leaves the caller's
        # transaction usable.
        async with session.begin_nested():
            session.add(user)
    except IntegrityError:
        raise Conflict(
            f"A staff user named {username!r} already exists", field="username"
        ) from None
    detail = {"role": chosen_role.value}
    session.add(AuditEvent(actor=actor, action="staff.create", target=username, detail=detail))
    return user


async def authenticate(session: AsyncSession, username: str, password: str) -> StaffUser | None:
    """The active user with these credentials, or None. Records the login time."""
    user = await get_user_by_username(session, username)
    if user is None or not user.active:
        await _verify(_dummy_hash(), password)
        return None
    if not await _verify(user.password_hash, password):
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = await hash_password(password)
    user.last_login_at = utcnow()
    session.add(user)
    session.add(AuditEvent(actor=user.username, action="staff.login", target=user.username))
    await session.flush()
    return user


async def set_password(
    session: AsyncSession, username: str, password: str, *, actor: str = "system"
) -> StaffUser:
    user = await get_user_by_username(session, username)
    if user is None:
        raise NotFound(f"No staff user named {normalize_username(username)!r}")
    validate_password(password)
    user.password_hash = await hash_password(password)
    session.add(user)
    session.add(AuditEvent(actor=actor, action="staff.password", target=user.username))
    await session.flush()
    return user


async def ensure_first_admin(session: AsyncSession) -> tuple[str, str] | None:
    """Create the first admin when there is no staff user at all.

    Returns (username, one-time password) for the caller to show once, or None when
    staff users already exist.
    """
    if (await session.exec(select(StaffUser.id).limit(1))).first() is not None:
        return None
    password = generate_password()
    try:
        await create_user(session, FIRST_ADMIN, password, Role.admin)
    except Conflict:
        # Another process created it first; its caller shows the password.
        return None
    return FIRST_ADMIN, password
