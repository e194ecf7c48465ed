"""The pool's load: active routes and chats per proxy number, kept as counters on the
number's own row.

Allocation used to count every active participant per number on each chat creation,
which grows with the whole table. The counters change in the same transaction as the
routes they count, and only through `change_routes`, so they cannot drift from the
participants; `count_drift` recomputes them the slow way to prove it (and
`smsproxy numbers recount` repairs them should a hand-edited database ever need it).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..models import Participant, ProxyNumber


async def open_routes(session: AsyncSession, participants: Sequence[Participant]) -> None:
    """Insert a new chat's participants as active routes."""
    for participant in participants:
        participant.active = True
    session.add_all(participants)
    await change_routes(session, participants)


async def close_routes(session: AsyncSession, participants: Sequence[Participant]) -> None:
    """Deactivate these participants' routes (a closing chat frees them at once)."""
    closing = [participant for participant in participants if participant.active]
    for participant in closing:
        participant.active = False
        session.add(participant)
    await change_routes(session, closing)


async def change_routes(session: AsyncSession, changed: Sequence[Participant]) -> None:
    """Bring the counters in step with participants whose `active` flag was just set
    (the one way routes open or close).

    A chat counts on a number while it has at least one active route there, so the
    chat count moves only for a chat whose first route there opened or last one closed.
    """
    if not changed:
        return
    await session.flush()
    pairs = Counter((p.chat_id, p.proxy_number, p.active) for p in changed)
    chat_ids = sorted({p.chat_id for p in changed})
    rows = await session.exec(
        select(Participant.chat_id, Participant.proxy_number, func.count())
        .where(col(Participant.chat_id).in_(chat_ids), col(Participant.active))
        .group_by(col(Participant.chat_id), col(Participant.proxy_number))
    )
    active_now = {(chat_id, number): count for chat_id, number, count in rows.all()}
    routes: Counter[str] = Counter()
    chats: Counter[str] = Counter()
    for (chat_id, number, opened), count in pairs.items():
        now = active_now.get((chat_id, number), 0)
        routes[number] += count if opened else -count
        if opened and now == count:
            chats[number] += 1  # none there before these
        elif not opened and now == 0:
            chats[number] -= 1  # these were the last
    # In number order: two transactions touching the same numbers lock them alike.
    for number in sorted(routes):
        await session.exec(
            update(ProxyNumber)
            .where(col(ProxyNumber.number) == number)
            .values(
                active_routes=ProxyNumber.active_routes + routes[number],
                active_chats=ProxyNumber.active_chats + chats[number],
            )
        )


@dataclass(frozen=True)
class Drift:
    number: str
    stored: tuple[int, int]  # (routes, chats) on the number's row
    actual: tuple[int, int]  # counted from the participants


async def count_drift(session: AsyncSession, *, repair: bool = False) -> list[Drift]:
    """Numbers whose counters differ from a full count of active participants (a scan
    of the whole table: for checks and repairs, never for a request)."""
    rows = await session.exec(
        select(
            Participant.proxy_number,
            func.count(),
            func.count(func.distinct(Participant.chat_id)),
        )
        .where(col(Participant.active))
        .group_by(col(Participant.proxy_number))
    )
    actual = {number: (int(routes), int(chats)) for number, routes, chats in rows.all()}
    numbers = (await session.exec(select(ProxyNumber).order_by(col(ProxyNumber.number)))).all()
    drift = [
        Drift(n.number, (n.active_routes, n.active_chats), actual.get(n.number, (0, 0)))
        for n in numbers
        if (n.active_routes, n.active_chats) != actual.get(n.number, (0, 0))
    ]
    if repair:
        for item in drift:
            await session.exec(
                update(ProxyNumber)
                .where(col(ProxyNumber.number) == item.number)
                .values(active_routes=item.actual[0], active_chats=item.actual[1])
            )
    return drift
