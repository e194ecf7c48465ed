"""What the staff tests share: passwords, accounts made and read, the audit trail."""

from __future__ import annotations

from sqlmodel import col, select

from smsproxy.models import AuditEvent, StaffUser
from smsproxy.proxy import users
from smsproxy.runtime import Runtime

PASSWORD = "a long enough password"
NEW_PASSWORD = "my very own new password"


async def make(
    rt: Runtime, username: str, role: str = "agent", *, one_time: bool = False
) -> StaffUser:
    async with rt.db.transaction() as session:
        return await users.create_user(session, username, PASSWORD, role, one_time=one_time)


async def load(rt: Runtime, username: str) -> StaffUser:
    async with rt.db.read() as session:
        user = await users.get_user_by_username(session, username)
    assert user is not None
    return user


async def audit_actions(rt: Runtime) -> list[tuple[str, str, str]]:
    async with rt.db.read() as session:
        found = (await session.exec(select(AuditEvent).order_by(col(AuditEvent.id)))).all()
    return [(event.actor, event.action, event.target or "") for event in found]
