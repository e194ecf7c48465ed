"""The SMS that reached a proxy number with no active chat for their sender, and what
staff did with each: nothing yet (it waits, and the navigation counts it), handled (a
chat was started from it, or someone dealt with it otherwise) or dismissed.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .. import events
from ..db import utcnow
from ..errors import InvalidChat, InvalidInput, NotFound
from ..models import AuditEvent, AuthorKind, Message, UnroutedState
from .inbox import PAGE_SIZE, decode_cursor, encode_cursor

# Beyond this the navigation says "99+": counting further would only cost time.
COUNT_CAP = 100


class UnroutedView(StrEnum):
    """Which of them a page lists."""

    waiting = "waiting"
    handled = "handled"
    dismissed = "dismissed"
    all = "all"


def parse_view(raw: str) -> UnroutedView:
    try:
        return UnroutedView(raw or UnroutedView.waiting)
    except ValueError:
        names = ", ".join(view.value for view in UnroutedView)
        raise InvalidInput(f"view must be one of: {names}", field="view") from None


def _unrouted() -> list[Any]:
    return [col(Message.chat_id).is_(None), col(Message.author_kind) == AuthorKind.unrouted]


def _in_view(view: UnroutedView) -> list[Any]:
    if view is UnroutedView.all:
        return []
    if view is UnroutedView.waiting:
        return [col(Message.unrouted_state).is_(None)]
    return [col(Message.unrouted_state) == view.value]


async def list_unrouted(
    session: AsyncSession,
    *,
    view: UnroutedView = UnroutedView.waiting,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> tuple[list[Message], str | None]:
    """Newest first; returns a page and the cursor of the next one."""
    query = (
        select(Message)
        .where(*_unrouted(), *_in_view(view))
        .order_by(col(Message.id).desc())
        .limit(limit + 1)
    )
    if cursor:
        (raw,) = decode_cursor(cursor, 1)
        if not raw.isdigit():
            raise InvalidChat("That page link is not valid any more", field="cursor")
        query = query.where(col(Message.id) < int(raw))
    messages = list((await session.exec(query)).all())
    next_cursor = None
    if len(messages) > limit:
        messages = messages[:limit]
        next_cursor = encode_cursor(messages[-1].id)
    return messages, next_cursor


async def get_unrouted(session: AsyncSession, public_id: str) -> Message:
    query = select(Message).where(col(Message.public_id) == public_id, *_unrouted())
    message = (await session.exec(query)).first()
    if message is None:
        raise NotFound("That unrouted message does not exist (any more)")
    return message


def in_view(message: Message, view: UnroutedView) -> bool:
    if view is UnroutedView.all:
        return True
    if view is UnroutedView.waiting:
        return message.unrouted_state is None
    return message.unrouted_state == view.value


async def count_waiting(session: AsyncSession, cap: int = COUNT_CAP) -> int:
    """How many wait for staff, up to `cap` (ix_message_unrouted_open keeps it small)."""
    waiting = select(Message.id).where(*_unrouted(), *_in_view(UnroutedView.waiting)).limit(cap)
    return int((await session.exec(select(func.count()).select_from(waiting.subquery()))).one())


def parse_state(raw: str) -> UnroutedState | None:
    """A state a staff member may set; "waiting" opens an item again."""
    if raw == UnroutedView.waiting:
        return None
    try:
        return UnroutedState(raw)
    except ValueError:
        raise InvalidInput("state must be handled, dismissed or waiting", field="state") from None


async def set_state(
    session: AsyncSession,
    public_id: str,
    state: UnroutedState | None,
    *,
    by: str,
    chat: str | None = None,
) -> Message:
    """Mark one handled or dismissed (`by`: a staff username), or waiting again (None).
    Setting the state it already has changes nothing and tells nobody."""
    message = await get_unrouted(session, public_id)
    await _set(session, [message], state, by=by, chat=chat)
    return message


async def handled_by_chat(
    session: AsyncSession, messages: Sequence[Message], chat: str, *, by: str
) -> None:
    """A chat was started from these SMS: they are handled, in the chat's transaction."""
    await _set(session, messages, UnroutedState.handled, by=by, chat=chat)


async def _set(
    session: AsyncSession,
    messages: Sequence[Message],
    state: UnroutedState | None,
    *,
    by: str,
    chat: str | None,
) -> None:
    now = utcnow()
    for message in messages:
        value = state.value if state is not None else None
        if message.unrouted_state == value and message.unrouted_chat == chat:
            continue
        message.unrouted_state = value
        message.unrouted_state_at = now if state is not None else None
        message.unrouted_state_by = by if state is not None else None
        message.unrouted_chat = chat if state is not None else None
        session.add(message)
        detail = {"state": value or UnroutedView.waiting.value, "chat": chat}
        session.add(
            AuditEvent(
                actor=f"staff:{by}",
                action="unrouted.state",
                target=message.public_id,
                detail=detail,
            )
        )
        events.emit(session, events.UnroutedUpdated(message))
