"""The number pool: proxy numbers, their load, and route allocation."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .. import events
from ..errors import Conflict, InvalidInput, NotFound, PoolExhausted
from ..models import Chat, ChatStatus, Participant, ProxyNumber
from ..phone import mask, parse_number, region_of

_ROUTE_LOCK_NAMESPACE = 0x52544E  # "RTN": keeps these advisory locks apart from others
# Each retry means a chosen number was removed or disabled meanwhile: rare, not endless.
ALLOCATION_ATTEMPTS = 3


@dataclass(frozen=True)
class NumberUsage:
    number: ProxyNumber
    active_routes: int
    active_chats: int


async def add_number(
    session: AsyncSession, raw: str, *, label: str = "", default_region: str | None = None
) -> ProxyNumber:
    number = parse_number(raw, default_region)
    if await get_number(session, number) is not None:
        raise Conflict(f"{number} is already in the pool", field="number")
    if await _is_participant_number(session, number):
        raise Conflict(
            f"{mask(number)} belongs to a participant of an active chat; a person's own number "
            "cannot be a proxy number",
            field="number",
        )
    record = ProxyNumber(number=number, country=region_of(number), label=label.strip())
    try:
        async with session.begin_nested():
            session.add(record)
    except IntegrityError:
        # Another transaction added the same number between the check and the insert.
        raise Conflict(f"{number} is already in the pool", field="number") from None
    events.emit(session, events.NumberChanged(number, "added"))
    return record


async def get_number(session: AsyncSession, number: str) -> ProxyNumber | None:
    query = select(ProxyNumber).where(ProxyNumber.number == number)
    return (await session.exec(query)).first()


async def require_number(
    session: AsyncSession, raw: str, default_region: str | None = None
) -> ProxyNumber:
    number = parse_number(raw, default_region)
    record = await get_number(session, number)
    if record is None:
        raise NotFound(f"{number} is not in the pool")
    return record


async def list_numbers(session: AsyncSession) -> list[NumberUsage]:
    numbers = (await session.exec(select(ProxyNumber).order_by(col(ProxyNumber.number)))).all()
    return [NumberUsage(n, n.active_routes, n.active_chats) for n in numbers]


async def active_chats_on(session: AsyncSession, number: str) -> int:
    query = select(func.count(func.distinct(Participant.chat_id))).where(
        col(Participant.active), Participant.proxy_number == number
    )
    return int((await session.exec(query)).one())


async def remove_number(
    session: AsyncSession, raw: str, default_region: str | None = None
) -> ProxyNumber:
    number = parse_number(raw, default_region)
    # FOR UPDATE waits for chats being created on the number (allocate holds it FOR
    # SHARE), so the count below sees them; and of two removals at once, the second
    # waits here and then finds the number gone (404), rather than delete nothing and
    # report success too.
    query = (
        select(ProxyNumber)
        .where(ProxyNumber.number == number)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    record = (await session.exec(query)).first()
    if record is None:
        raise NotFound(f"{number} is not in the pool")
    busy = await active_chats_on(session, record.number)
    if busy:
        raise Conflict(
            f"{record.number} carries {busy} active chat{'s' if busy != 1 else ''}: close "
            "them or disable the number (no new chats) and remove it later"
        )
    await session.delete(record)
    events.emit(session, events.NumberChanged(record.number, "removed"))
    return record


async def set_enabled(
    session: AsyncSession, raw: str, enabled: bool, default_region: str | None = None
) -> ProxyNumber:
    record = await require_number(session, raw, default_region)
    record.enabled = enabled
    session.add(record)
    events.emit(session, events.NumberChanged(record.number, "enabled" if enabled else "disabled"))
    return record


async def relabel(session: AsyncSession, record: ProxyNumber, label: str) -> None:
    label = label.strip()
    if len(label) > 100 or any(ord(ch) < 32 or ord(ch) == 127 for ch in label):
        raise InvalidInput(
            "label must be at most 100 characters, without control characters", field="label"
        )
    record.label = label
    session.add(record)
    events.emit(session, events.NumberChanged(record.number, "relabelled"))


async def usage_of(session: AsyncSession, number: str) -> NumberUsage | None:
    record = await get_number(session, number)
    if record is None:
        return None
    routes = select(func.count()).where(col(Participant.active), Participant.proxy_number == number)
    count = int((await session.exec(routes)).one())
    return NumberUsage(record, count, await active_chats_on(session, number))


async def is_proxy_number(session: AsyncSession, number: str) -> bool:
    return await get_number(session, number) is not None


async def _is_participant_number(session: AsyncSession, number: str) -> bool:
    query = (
        select(Participant.id)
        .join(Chat, col(Chat.id) == Participant.chat_id)
        .where(Participant.real_number == number, Chat.status == ChatStatus.active)
        .limit(1)
    )
    return (await session.exec(query)).first() is not None


async def allocate(
    session: AsyncSession, real_numbers: list[str], prefer: Sequence[str] = ()
) -> list[str]:
    """Choose a proxy number for each participant of a new chat (DESIGN.md rule 2), or
    for people joining a chat whose others use the numbers in `prefer`.

    A number is free for a person when they have no active route on it. Among the free
    ones: a number in the person's country first, then one already chosen for this chat
    (everyone texts the same number), then one free for the most other participants,
    then the least loaded. Any participant with at least one free number gets one; the
    database's unique index settles races between concurrent creations.
    """
    await lock_people(session, real_numbers)
    for _ in range(ALLOCATION_ATTEMPTS):
        chosen = await _choose(session, real_numbers, set(prefer))
        if await _hold_numbers(session, chosen):
            return chosen
    raise Conflict(
        "The number pool kept changing (numbers removed or disabled) while the chat was "
        "being created: retry"
    )


async def _hold_numbers(session: AsyncSession, numbers: list[str]) -> bool:
    """Lock the chosen numbers until the transaction ends, so none can be removed or
    disabled under the new chat. False when one was removed or disabled after the pool
    was read: choose again.

    FOR UPDATE, not FOR SHARE: this transaction updates the rows' route counters later
    (`load.open_routes`), and two creations each holding a shared lock on a number
    would deadlock upgrading it. Creations that share a number take turns from here to
    their commit; in number order, so they never wait on each other in a circle.

    Columns, not entities: the session already holds these rows as read before the
    lock, and would not refresh them.
    """
    wanted = sorted(set(numbers))
    query = (
        select(ProxyNumber.number, ProxyNumber.enabled)
        .where(col(ProxyNumber.number).in_(wanted))
        .order_by(col(ProxyNumber.number))
        .with_for_update()
    )
    held = [number for number, enabled in (await session.exec(query)).all() if enabled]
    return held == wanted


async def _choose(session: AsyncSession, real_numbers: list[str], in_chat: set[str]) -> list[str]:
    pool = await _enabled_numbers(session)
    busy = await _busy_routes(session, real_numbers)
    load = Counter({n.number: n.active_routes for n in pool})
    free_for = {
        n.number: sum((person, n.number) not in busy for person in real_numbers) for n in pool
    }
    chosen: list[str] = []
    for index, person in enumerate(real_numbers):
        region = region_of(person)
        free = [n for n in pool if (person, n.number) not in busy]
        if not free:
            raise PoolExhausted(
                f"No proxy number is free for participant {index + 1} ({mask(person)}): "
                f"they already have active chats on all {len(pool)} enabled number"
                f"{'s' if len(pool) != 1 else ''} of the pool. Add numbers or close chats.",
                field=f"participants.{index}.number",
            )
        best = min(
            free,
            key=lambda n: (
                n.country != region,
                n.number not in chosen and n.number not in in_chat,
                -free_for[n.number],
                load[n.number],
                n.number,
            ),
        )
        chosen.append(best.number)
        load[best.number] += 1
    return chosen


async def _enabled_numbers(session: AsyncSession) -> list[ProxyNumber]:
    query = select(ProxyNumber).where(col(ProxyNumber.enabled)).order_by(col(ProxyNumber.number))
    pool = list((await session.exec(query)).all())
    if not pool:
        raise PoolExhausted(
            "The number pool has no enabled proxy numbers: add one first "
            "(`smsproxy numbers add` or POST /api/v1/numbers)"
        )
    return pool


async def _busy_routes(session: AsyncSession, real_numbers: list[str]) -> set[tuple[str, str]]:
    """(real number, proxy number) pairs these people already use in active chats."""
    query = select(Participant.real_number, Participant.proxy_number).where(
        col(Participant.active), col(Participant.real_number).in_(real_numbers)
    )
    return {(real, proxy) for real, proxy in (await session.exec(query)).all()}


async def lock_people(session: AsyncSession, real_numbers: list[str]) -> None:
    """Serialise allocation per person until the transaction ends.

    Without it, concurrent chats for one person all read the same free numbers, all
    pick the same best one, and all but one lose to the route index on every retry.
    PostgreSQL: transaction-scoped advisory locks, taken in key order so two chats with
    the same people cannot deadlock. SQLite needs none: BEGIN IMMEDIATE already lets
    one writer in at a time.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    keys = sorted(
        {
            int.from_bytes(hashlib.sha256(number.encode()).digest()[:4], "big", signed=True)
            for number in real_numbers
        }
    )
    for key in keys:
        await session.exec(  # type: ignore[call-overload]
            text("SELECT pg_advisory_xact_lock(:namespace, :key)").bindparams(
                namespace=_ROUTE_LOCK_NAMESPACE, key=key
            )
        )
