"""The sandbox's simulated handsets as staff look through them: a page at a time, most
recently active first, found by number or by the names people have in their chats.

A handset is any real number the service knows: a participant of a chat, past or
present, or a number that texted through the sandbox.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, literal, or_, union_all
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..models import Chat, ChatStatus, OptOut, Participant, SandboxSms

PAGE_SIZE = 12
# The newest SMS shown on each phone: a handset's whole history would make a heavy page.
SMS_SHOWN = 50
NAMES_SHOWN = 3
OPTED_OUT = "Opted out"


@dataclass
class Route:
    proxy_number: str  # what this handset texts to reach the chat
    chat_id: str


@dataclass
class Handset:
    number: str
    sms: list[SandboxSms] = field(default_factory=list)  # the newest SMS_SHOWN, oldest first
    routes: list[Route] = field(default_factory=list)  # its active chats
    names: list[str] = field(default_factory=list)  # what its chats call it, newest first
    # What the service holds about this number beyond its chats, shown beside it as
    # badges: "Opted out" after a STOP.
    states: list[str] = field(default_factory=list)


@dataclass
class HandsetPage:
    handsets: list[Handset]
    total: int  # handsets matching the search, on every page
    page: int  # from 1
    pages: int


def _activity() -> Any:
    """Every known number with the time it last did anything."""
    joined: Any = select(
        col(Participant.real_number).label("number"),
        func.max(Participant.created_at).label("at"),
    ).group_by(col(Participant.real_number))
    texted: Any = select(
        col(SandboxSms.handset_number).label("number"),
        func.max(SandboxSms.created_at).label("at"),
    ).group_by(col(SandboxSms.handset_number))
    both = union_all(joined, texted).subquery()
    return select(both.c.number, func.max(both.c.at).label("at")).group_by(both.c.number).subquery()


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _matching(activity: Any, query: str) -> list[Any]:
    """A search matches part of the number (its digits, however typed) or part of a
    name the number has in any chat."""
    text = query.strip()
    if not text:
        return []
    named = select(Participant.real_number).where(
        col(Participant.name).ilike(_like(text), escape="\\")
    )
    either = [activity.c.number.in_(named)]
    digits = _digits(text)
    if digits:
        either.append(activity.c.number.like(_like(digits), escape="\\"))
    return [or_(*either)]


NUMBERLIKE = re.compile(r"[\d\s+().-]+")


def _digits(text: str) -> str:
    """The digits to look for in numbers, when the text is (part of) a phone number.
    Leading zeros are a trunk or international prefix ("07700 …", "0044 …"): what
    follows them is part of the E.164 number."""
    if not NUMBERLIKE.fullmatch(text):
        return ""  # words, perhaps with a digit ("Cab 3"): a name
    return re.sub(r"\D", "", text).lstrip("0")


def matches(number: str, names: Sequence[str], query: str) -> bool:
    """The same test for a handset that is not in the database yet (one just added)."""
    text = query.strip()
    digits = _digits(text)
    if not text:
        return True
    return bool(digits and digits in number) or any(text.lower() in n.lower() for n in names)


async def find_handsets(
    session: AsyncSession, *, query: str = "", page: int = 1, per_page: int = PAGE_SIZE
) -> HandsetPage:
    """One page of handsets, most recently active first, with their newest SMS, their
    active chats and their names."""
    activity = _activity()
    wanted = _matching(activity, query)
    total = int(
        (await session.exec(select(func.count()).select_from(activity).where(*wanted))).one()
    )
    pages = max(1, math.ceil(total / per_page))
    page = min(max(page, 1), pages)
    numbers = list(
        (
            await session.exec(
                select(activity.c.number)
                .where(*wanted)
                .order_by(activity.c.at.desc(), activity.c.number)
                .offset((page - 1) * per_page)
                .limit(per_page)
            )
        ).all()
    )
    handsets = await describe(session, numbers)
    return HandsetPage(handsets, total, page, pages)


async def describe(session: AsyncSession, numbers: Sequence[str]) -> list[Handset]:
    """These handsets, in this order, with what the page shows of each."""
    found = {number: Handset(number) for number in numbers}
    if not found:
        return []
    for sms in await _newest_sms(session, list(found)):
        found[sms.handset_number].sms.append(sms)
    rows = await session.exec(
        select(Participant.real_number, Participant.name, Participant.proxy_number, Chat)
        .join(Chat, col(Chat.id) == Participant.chat_id)
        .where(col(Participant.real_number).in_(list(found)))
        .order_by(col(Participant.id).desc())
    )
    for number, name, proxy, chat in rows.all():
        handset = found[number]
        if name and name not in handset.names and len(handset.names) < NAMES_SHOWN:
            handset.names.append(name)
        if chat.status == ChatStatus.active:
            handset.routes.append(Route(proxy, chat.public_id))
    opted_out = select(OptOut.number).where(col(OptOut.number).in_(list(found)))
    for number in (await session.exec(opted_out)).all():
        found[number].states.append(OPTED_OUT)
    for handset in found.values():
        handset.routes.reverse()  # oldest chat first, as they were opened
    return [found[number] for number in numbers]


async def _newest_sms(session: AsyncSession, numbers: list[str]) -> list[SandboxSms]:
    """The newest SMS_SHOWN of each handset, oldest first."""
    rank = (
        func.row_number()
        .over(
            partition_by=col(SandboxSms.handset_number),
            order_by=(col(SandboxSms.created_at).desc(), col(SandboxSms.id).desc()),
        )
        .label("rank")
    )
    ranked = select(SandboxSms, rank).where(col(SandboxSms.handset_number).in_(numbers)).subquery()
    newest = aliased(SandboxSms, ranked)
    query = (
        select(newest)
        .where(ranked.c.rank <= literal(SMS_SHOWN))
        .order_by(ranked.c.created_at, ranked.c.id)
    )
    return list((await session.exec(query)).all())
