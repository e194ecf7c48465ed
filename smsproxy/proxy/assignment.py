"""Who looks after a chat: one staff member (its assignee) or nobody yet.

Anyone on the staff may take a chat, give it to an active colleague or leave it to
nobody; every change is audited (`chat.assign`, the username in its detail) and heard
live (`chat.assigned`) by every open list and chat page.
"""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .. import events
from ..errors import InvalidInput
from ..models import Chat, StaffUser
from . import audit
from .queries import participants_of
from .users import normalize_username


async def username_of(session: AsyncSession, staff_user_id: int | None) -> str | None:
    if staff_user_id is None:
        return None
    user = await session.get(StaffUser, staff_user_id)
    return user.username if user is not None else None


async def usernames(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.exec(
        select(StaffUser.id, StaffUser.username).where(col(StaffUser.id).in_(ids))
    )
    return {int(user_id): name for user_id, name in rows.all() if user_id is not None}


async def assignable_staff(session: AsyncSession) -> list[StaffUser]:
    """Who a chat may be given to: every active staff member, by name."""
    query = select(StaffUser).where(col(StaffUser.active)).order_by(col(StaffUser.username))
    return list((await session.exec(query)).all())


async def find_assignee(session: AsyncSession, username: str | None) -> StaffUser | None:
    """The active staff member named `username`; None for an empty name (nobody).
    A name that is nobody's, or a disabled account's, is refused, saying so."""
    name = normalize_username(username or "")
    if not name:
        return None
    query = select(StaffUser).where(func.lower(StaffUser.username) == name)
    user = (await session.exec(query)).first()
    if user is None:
        raise InvalidInput(f"No staff member is named {name!r}", field="assignee")
    if not user.active:
        raise InvalidInput(
            f"{user.username} is disabled: a chat goes to an active staff member",
            field="assignee",
        )
    return user


async def assign_chat(
    session: AsyncSession, chat: Chat, assignee: StaffUser | None, *, actor: str
) -> bool:
    """Give `chat` to `assignee` (None: to nobody). False when that changes nothing."""
    new_id = assignee.id if assignee is not None else None
    if chat.assignee_id == new_id:
        return False
    chat.assignee_id = new_id
    session.add(chat)
    name = assignee.username if assignee is not None else None
    audit.record(
        session,
        actor=actor,
        action="chat.assign" if assignee is not None else "chat.unassign",
        target=chat.public_id,
        detail={"assignee": name},
    )
    participants = await participants_of(session, chat)
    events.emit(session, events.ChatAssigned(chat, participants, name, actor))
    return True
