"""Staff accounts: who may use the dashboard, and how their passwords are checked.

Passwords are argon2id hashes (`passwords`).
"""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from .. import events
from ..db import utcnow
from ..errors import Conflict, NotFound, ProxyError
from ..models import Role, StaffUser
from . import audit
from .passwords import (
    dummy_hash,
    generate_password,
    hash_password,
    hasher,
    validate_password,
    verify_password,
)

USERNAME_PATTERN = re.compile(r"[a-z0-9._-]{3,64}")
FIRST_ADMIN = "admin"


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


def validate_role(raw: Role | str) -> Role:
    try:
        return Role(raw)
    except ValueError:
        names = ", ".join(role.value for role in Role)
        raise ProxyError(f"Role must be one of: {names}", field="role") from None


def credential_fingerprint(user: StaffUser) -> str:
    """Changes whenever the password hash or the session version changes: part of the
    login cookie, so a new password, or disabling the account, ends every other session
    of that user (for good: enabling the account again does not bring them back)."""
    material = f"{user.session_version}:{user.password_hash}"
    return hashlib.sha256(material.encode()).hexdigest()[:16]


class AccountState(StrEnum):
    """What the CLI and the Staff page call an account: one vocabulary for both."""

    active = "active"
    invited = "invited"  # still holds a one-time password: has not chosen their own yet
    disabled = "disabled"


def account_state(user: StaffUser) -> AccountState:
    if not user.active:
        return AccountState.disabled
    if user.must_change_password:
        return AccountState.invited
    return AccountState.active


async def get_user(session: AsyncSession, user_id: int) -> StaffUser | None:
    return await session.get(StaffUser, user_id)


async def get_user_by_username(session: AsyncSession, username: str) -> StaffUser | None:
    statement = select(StaffUser).where(StaffUser.username == normalize_username(username))
    return (await session.exec(statement)).first()


async def require_user(session: AsyncSession, username: str) -> StaffUser:
    user = await get_user_by_username(session, username)
    if user is None:
        raise NotFound(f"No staff user named {normalize_username(username)!r}")
    return user


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
    one_time: bool = False,
) -> StaffUser:
    """`one_time`: the password was generated and shown to someone, so the user must
    choose their own at first login."""
    username = validate_username(username)
    validate_password(password)
    chosen_role = validate_role(role)
    if await get_user_by_username(session, username) is not None:
        raise Conflict(f"A staff user named {username!r} already exists", field="username")
    user = StaffUser(
        username=username,
        password_hash=await hash_password(password),
        role=chosen_role,
        must_change_password=one_time,
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
    audit.record(session, actor=actor, action="staff.create", target=username, detail=detail)
    return user


async def authenticate(
    session: AsyncSession, username: str, password: str, *, address: str | None = None
) -> StaffUser | None:
    """The active user with these credentials, or None. Records the login, or the
    failed attempt (the username tried and the address, never the password)."""
    user = await get_user_by_username(session, username)
    where = {"address": address} if address else {}
    if user is None or not user.active:
        await verify_password(dummy_hash(), password)
        reason = "unknown user" if user is None else "disabled"
        _login_failed(session, username, {**where, "reason": reason})
        return None
    if not await verify_password(user.password_hash, password):
        _login_failed(session, username, {**where, "reason": "wrong password"})
        return None
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = await hash_password(password)
    user.last_login_at = utcnow()
    session.add(user)
    actor = audit.staff_actor(user.username)
    audit.record(session, actor=actor, action="staff.login", target=user.username, detail=where)
    await session.flush()
    return user


def _login_failed(session: AsyncSession, username: str, detail: dict[str, str]) -> None:
    audit.record(
        session,
        actor=audit.ANONYMOUS,
        action="staff.login_failed",
        target=normalize_username(username),
        detail=detail,
    )


async def set_password(
    session: AsyncSession,
    username: str,
    password: str,
    *,
    actor: str = "system",
    one_time: bool = False,
) -> StaffUser:
    """Replace a user's password, ending their other sessions. `one_time` as for
    create_user."""
    user = await require_user(session, username)
    validate_password(password)
    user.password_hash = await hash_password(password)
    user.must_change_password = one_time
    session.add(user)
    action = "staff.password_reset" if one_time else "staff.password"
    audit.record(session, actor=actor, action=action, target=user.username)
    await session.flush()
    await _sessions_ended(session, user)
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
        await create_user(session, FIRST_ADMIN, password, Role.admin, one_time=True)
    except Conflict:
        # Another process created it first; its caller shows the password.
        return None
    return FIRST_ADMIN, password


# Managing staff. `by` is the username of the staff member acting (None for the CLI):
# nobody locks themselves out, and the last active admin stays an active admin.


async def change_own_password(
    session: AsyncSession, user_id: int, current: str, new: str
) -> StaffUser:
    """A signed-in user replaces their password, proving they know the current one.
    Clears the one-time flag and ends their other sessions."""
    user = await get_user(session, user_id)
    if user is None or not user.active:
        raise NotFound("This account no longer exists or is disabled")
    if not await verify_password(user.password_hash, current or ""):
        raise ProxyError("That is not your current password", field="current_password")
    validate_password(new, field="new_password")
    if new == current:
        raise ProxyError("Choose a new password, not the one you have now", field="new_password")
    return await set_password(session, user.username, new, actor=f"staff:{user.username}")


async def reset_password(
    session: AsyncSession, username: str, *, actor: str, by: str | None = None
) -> tuple[StaffUser, str]:
    """A new generated one-time password for someone else: returns it to show once."""
    user = await require_user(session, username)
    if by is not None and normalize_username(by) == user.username:
        raise Conflict("Change your own password on your account page, not here")
    password = generate_password()
    await set_password(session, user.username, password, actor=actor, one_time=True)
    return user, password


async def set_active(
    session: AsyncSession, username: str, active: bool, *, actor: str, by: str | None = None
) -> StaffUser:
    """Enable or disable an account. A disabled user's sessions end at their next
    request (the login cookie is checked against the account every time)."""
    user = await require_user(session, username)
    if not active:
        if by is not None and normalize_username(by) == user.username:
            raise Conflict("You cannot disable your own account")
        await _keep_an_admin(session, user, "disable them")
    if user.active == active:
        return user
    user.active = active
    if not active:
        user.session_version += 1
        await _sessions_ended(session, user)
    session.add(user)
    action = "staff.enable" if active else "staff.disable"
    audit.record(session, actor=actor, action=action, target=user.username)
    await session.flush()
    return user


async def _sessions_ended(session: AsyncSession, user: StaffUser) -> None:
    # Cookies are checked on every request; an open live socket is not, so it is told.
    assert user.id is not None
    events.emit(session, events.StaffSessionsEnded(user.id))


async def set_role(
    session: AsyncSession, username: str, role: Role | str, *, actor: str
) -> StaffUser:
    chosen = validate_role(role)
    user = await require_user(session, username)
    if chosen != Role.admin:
        await _keep_an_admin(session, user, "make them an agent")
    if user.role == chosen:
        return user
    user.role = chosen
    session.add(user)
    detail = {"role": chosen.value}
    audit.record(session, actor=actor, action="staff.role", target=user.username, detail=detail)
    await session.flush()
    return user


async def _keep_an_admin(session: AsyncSession, user: StaffUser, doing: str) -> None:
    """Refuse to take the last active admin away.

    The active admins' rows are locked (FOR UPDATE, which SQLite's BEGIN IMMEDIATE makes
    unnecessary), so two admins disabling each other at once cannot both succeed: the
    second one sees the first one's change.
    """
    statement = (
        select(StaffUser)
        .where(StaffUser.role == Role.admin, StaffUser.active == True)  # noqa: E712
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    admins = list((await session.exec(statement)).all())
    if any(admin.id == user.id for admin in admins) and len(admins) == 1:
        raise Conflict(
            f"{user.username!r} is the last active admin: make someone else an admin "
            f"before you {doing}"
        )
