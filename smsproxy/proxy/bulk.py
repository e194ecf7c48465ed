"""One change to many chats at once, from the chat list's checkboxes: close them,
assign them, or label them. Each chat changes (and is audited) exactly as if it were
changed alone, all in one transaction."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..errors import InvalidInput, NotFound
from ..models import Chat
from .assignment import assign_chat, find_assignee
from .chats import Templates, close_chat
from .labels import add_label, normalise_label

ACTIONS = ("close", "assign", "label")
MAX_CHATS = 200


@dataclass(frozen=True)
class BulkChange:
    action: str  # one of ACTIONS
    assignee: str = ""  # for "assign": a username, or empty for nobody
    label: str = ""  # for "label"


def check_change(change: BulkChange) -> BulkChange:
    if change.action not in ACTIONS:
        raise InvalidInput("Choose what to do: close, assign or label", field="action")
    if change.action == "label":
        return BulkChange("label", label=normalise_label(change.label))
    return change


async def apply_to_chats(
    session: AsyncSession,
    chat_ids: list[str],
    change: BulkChange,
    *,
    actor: str,
    templates: Templates,
) -> int:
    """Apply `change` to the chats named by public id; returns how many changed (a chat
    already closed, so assigned or so labelled does not count)."""
    change = check_change(change)
    wanted = list(dict.fromkeys(chat_ids))
    if not wanted:
        raise InvalidInput("Select at least one chat first", field="chat")
    if len(wanted) > MAX_CHATS:
        raise InvalidInput(f"Select at most {MAX_CHATS} chats at a time", field="chat")
    query = select(Chat).where(col(Chat.public_id).in_(wanted)).order_by(col(Chat.id))
    chats = list((await session.exec(query)).all())
    if len(chats) != len(wanted):
        missing = sorted(set(wanted) - {chat.public_id for chat in chats})
        raise NotFound(f"No chat with id {missing[0]!r}")
    assignee = await find_assignee(session, change.assignee) if change.action == "assign" else None
    changed = 0
    for chat in chats:
        if change.action == "close":
            done = await close_chat(
                session, chat, reason="staff", actor=actor, goodbye=False, templates=templates
            )
        elif change.action == "assign":
            done = await assign_chat(session, chat, assignee, actor=actor)
        else:
            done = await add_label(session, chat, change.label, actor=actor)
        changed += int(done)
    return changed
