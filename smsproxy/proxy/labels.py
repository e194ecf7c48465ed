"""Free labels on chats ("refund", "vip"): staff add and remove them; the list shows
them and filters by them.

A label is normalised before it is stored or looked for: trimmed, inner spaces made
single, lowercase, 1 to 32 characters, no control characters. Changes are audited
(`chat.label`, `chat.unlabel`) and heard live (`chat.labelled`, with the whole set).
"""

from __future__ import annotations

import re

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .. import events
from ..db import insert_for
from ..errors import InvalidInput
from ..models import Chat, ChatLabel
from . import audit

MAX_LABEL = 32
MAX_LABELS_PER_CHAT = 20
_SPACES = re.compile(r"\s+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def normalise_label(raw: str | None) -> str:
    if raw is not None and _CONTROL.search(raw.strip()):
        raise InvalidInput("A label cannot hold control characters", field="label")
    label = _SPACES.sub(" ", (raw or "").strip()).lower()
    if not label:
        raise InvalidInput("Write a label: 1 to 32 characters", field="label")
    if len(label) > MAX_LABEL:
        raise InvalidInput(
            f"A label is at most {MAX_LABEL} characters; {label[:12]!r}… has {len(label)}",
            field="label",
        )
    return label


async def labels_of(session: AsyncSession, chat_ids: list[int]) -> dict[int, list[str]]:
    """Each chat's labels, sorted."""
    if not chat_ids:
        return {}
    rows = await session.exec(
        select(ChatLabel)
        .where(col(ChatLabel.chat_id).in_(chat_ids))
        .order_by(col(ChatLabel.chat_id), col(ChatLabel.label))
    )
    found: dict[int, list[str]] = {}
    for row in rows.all():
        found.setdefault(row.chat_id, []).append(row.label)
    return found


async def add_label(session: AsyncSession, chat: Chat, raw: str, *, actor: str) -> bool:
    """Put a label on a chat; False when it already had it."""
    label = normalise_label(raw)
    assert chat.id is not None
    current = (await labels_of(session, [chat.id])).get(chat.id, [])
    if label in current:
        return False
    if len(current) >= MAX_LABELS_PER_CHAT:
        raise InvalidInput(
            f"A chat has at most {MAX_LABELS_PER_CHAT} labels: remove one first", field="label"
        )
    table = ChatLabel.__table__  # type: ignore[attr-defined]
    statement = (
        insert_for(session)(table)
        .values(chat_id=chat.id, label=label)
        .on_conflict_do_nothing(index_elements=[table.c.chat_id, table.c.label])
    )
    await session.exec(statement)
    _changed(session, chat, sorted([*current, label]), "chat.label", label, actor)
    return True


async def remove_label(session: AsyncSession, chat: Chat, raw: str, *, actor: str) -> bool:
    """Take a label off a chat; False when it did not have it."""
    label = normalise_label(raw)
    assert chat.id is not None
    result = await session.exec(
        delete(ChatLabel).where(col(ChatLabel.chat_id) == chat.id, col(ChatLabel.label) == label)
    )
    if not result.rowcount:
        return False
    current = (await labels_of(session, [chat.id])).get(chat.id, [])
    _changed(session, chat, current, "chat.unlabel", label, actor)
    return True


def _changed(
    session: AsyncSession, chat: Chat, labels: list[str], action: str, label: str, actor: str
) -> None:
    audit.record(
        session, actor=actor, action=action, target=chat.public_id, detail={"label": label}
    )
    events.emit(session, events.ChatLabelled(chat.public_id, labels, actor))
