"""How many chats each option of the chat list's filter would show.

Counts are faceted, as in most agent workspaces: an option's count applies every other
part of the current filter, but not the part the option would replace (the "Closed"
status tab counts closed chats of the chosen view and labels, whatever the status chosen
now).

Each count is one query that stops at a cap (shown as "1000+"), so a count costs at most
that many index steps when matches are common, however many chats there are. The tabs
(statuses, views) count up to COUNT_CAP; the options of the drop-downs (the pool's
numbers, the active staff, the labels in use, at most MAX_OPTIONS of each) up to
OPTION_CAP, as there may be many of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..models import Chat, ChatLabel, ChatStatus, ProxyNumber, StaffUser
from .chat_filter import VIEWS, ChatFilter, conditions, failed_chats, on_number, view_condition

COUNT_CAP = 1000
OPTION_CAP = 100
MAX_OPTIONS = 100


@dataclass(frozen=True)
class Count:
    value: int
    cap: int = COUNT_CAP

    @property
    def capped(self) -> bool:
        return self.value > self.cap

    def __str__(self) -> str:
        return f"{self.cap}+" if self.capped else str(self.value)


@dataclass
class FilterCounts:
    statuses: dict[str, Count] = field(default_factory=dict)  # active, closed, all
    views: dict[str, Count] = field(default_factory=dict)
    labels: list[tuple[str, Count]] = field(default_factory=list)
    assignees: list[tuple[str, Count]] = field(default_factory=list)
    numbers: list[tuple[str, Count]] = field(default_factory=list)
    failed: Count = Count(0)


async def count_chats(session: AsyncSession, where: list[Any], cap: int = COUNT_CAP) -> Count:
    """Chats matching `where`, counted up to `cap` + 1."""
    matching = select(Chat.id).where(*where).limit(cap + 1).subquery()
    found = (await session.exec(select(func.count()).select_from(matching))).one()
    return Count(int(found), cap)


async def filter_counts(
    session: AsyncSession, search: ChatFilter, staff_user_id: int
) -> FilterCounts:
    def others(facet: str) -> list[Any]:
        return conditions(search, staff_user_id, without=facet)

    counts = FilterCounts()
    for name, status in (("active", ChatStatus.active), ("closed", ChatStatus.closed)):
        counts.statuses[name] = await count_chats(
            session, [*others("status"), Chat.status == status]
        )
    counts.statuses["all"] = await count_chats(session, others("status"))
    for view in VIEWS:
        condition = view_condition(view, staff_user_id)
        extra = [condition] if condition is not None else []
        counts.views[view] = await count_chats(session, [*others("view"), *extra])
    for label in await _labels_in_use(session):
        labelled = col(Chat.id).in_(select(ChatLabel.chat_id).where(ChatLabel.label == label))
        counts.labels.append(
            (label, await count_chats(session, [*others("label"), labelled], OPTION_CAP))
        )
    for user_id, username in await _staff(session):
        theirs = col(Chat.assignee_id) == user_id
        counts.assignees.append(
            (username, await count_chats(session, [*others("assignee"), theirs], OPTION_CAP))
        )
    for number in await _pool(session):
        on_it = on_number(number)
        counts.numbers.append(
            (number, await count_chats(session, [*others("number"), on_it], OPTION_CAP))
        )
    failed = col(Chat.id).in_(failed_chats())
    counts.failed = await count_chats(session, [*others("failed"), failed])
    return counts


async def _labels_in_use(session: AsyncSession) -> list[str]:
    query = select(ChatLabel.label).distinct().order_by(col(ChatLabel.label)).limit(MAX_OPTIONS)
    return list((await session.exec(query)).all())


async def _staff(session: AsyncSession) -> list[tuple[int, str]]:
    query = (
        select(StaffUser.id, StaffUser.username)
        .where(col(StaffUser.active))
        .order_by(col(StaffUser.username))
        .limit(MAX_OPTIONS)
    )
    return [(int(user_id), name) for user_id, name in (await session.exec(query)).all() if user_id]


async def _pool(session: AsyncSession) -> list[str]:
    query = select(ProxyNumber.number).order_by(col(ProxyNumber.number)).limit(MAX_OPTIONS)
    return list((await session.exec(query)).all())
