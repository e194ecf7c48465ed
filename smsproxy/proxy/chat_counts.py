"""How many chats each option of the chat list's filter would show.

Counts are faceted, as in most agent workspaces: an option's count applies every other
part of the current filter, but not the part the option would replace (the "Closed"
status tab counts closed chats of the chosen view and labels, whatever the status chosen
now). Each facet is one grouped query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..models import Chat, ChatLabel, Participant
from .assignment import usernames
from .chat_filter import VIEWS, ChatFilter, conditions, failed_chats, view_condition

MAX_OPTIONS = 100  # labels, assignees or numbers listed, most used first


@dataclass
class FilterCounts:
    statuses: dict[str, int] = field(default_factory=dict)  # active, closed, all
    views: dict[str, int] = field(default_factory=dict)
    labels: list[tuple[str, int]] = field(default_factory=list)
    assignees: list[tuple[str, int]] = field(default_factory=list)
    numbers: list[tuple[str, int]] = field(default_factory=list)
    failed: int = 0


async def filter_counts(
    session: AsyncSession, search: ChatFilter, staff_user_id: int
) -> FilterCounts:
    counts = FilterCounts()
    counts.statuses = await _statuses(session, conditions(search, staff_user_id, without="status"))
    counts.views = await _views(
        session, conditions(search, staff_user_id, without="view"), staff_user_id
    )
    counts.labels = await _grouped(
        session,
        select(ChatLabel.label, func.count())
        .join(Chat, col(Chat.id) == ChatLabel.chat_id)
        .where(*conditions(search, staff_user_id, without="label"))
        .group_by(col(ChatLabel.label)),
    )
    counts.numbers = await _grouped(
        session,
        select(Participant.proxy_number, func.count(func.distinct(Participant.chat_id)))
        .join(Chat, col(Chat.id) == Participant.chat_id)
        .where(*conditions(search, staff_user_id, without="number"))
        .group_by(col(Participant.proxy_number)),
    )
    by_id = await _grouped(
        session,
        select(Chat.assignee_id, func.count())
        .where(col(Chat.assignee_id).is_not(None))
        .where(*conditions(search, staff_user_id, without="assignee"))
        .group_by(col(Chat.assignee_id)),
    )
    names = await usernames(session, {int(user_id) for user_id, _ in by_id})
    counts.assignees = sorted(
        ((names[int(user_id)], count) for user_id, count in by_id if int(user_id) in names),
        key=lambda pair: pair[0],
    )
    failed = (
        select(func.count())
        .select_from(Chat)
        .where(
            *conditions(search, staff_user_id, without="failed"), col(Chat.id).in_(failed_chats())
        )
    )
    counts.failed = int((await session.exec(failed)).one())
    return counts


async def _statuses(session: AsyncSession, where: list[Any]) -> dict[str, int]:
    query = select(Chat.status, func.count()).where(*where).group_by(col(Chat.status))
    found = {str(status): int(count) for status, count in (await session.exec(query)).all()}
    return {
        "active": found.get("active", 0),
        "closed": found.get("closed", 0),
        "all": sum(found.values()),
    }


async def _views(session: AsyncSession, where: list[Any], staff_user_id: int) -> dict[str, int]:
    """Every view's count in one pass over the matching chats."""
    columns: list[Any] = []
    for view in VIEWS:
        condition = view_condition(view, staff_user_id)
        matches = case((condition, 1), else_=0) if condition is not None else 1
        columns.append(func.sum(matches))
    row = (await session.exec(select(*columns).select_from(Chat).where(*where))).one()
    return {view: int(value or 0) for view, value in zip(VIEWS, row, strict=True)}


async def _grouped(session: AsyncSession, query: Any) -> list[tuple[Any, int]]:
    rows = (await session.exec(query)).all()
    ranked = sorted(
        ((key, int(count)) for key, count in rows), key=lambda pair: (-pair[1], str(pair[0]))
    )
    return sorted(ranked[:MAX_OPTIONS], key=lambda pair: str(pair[0]))
