"""The right to erasure (`smsproxy erase NUMBER`): everything about one real number is
removed or irreversibly replaced, in one transaction.

Its active chats are closed first (without a goodbye: nothing more is sent to it).
Then: its participant rows lose the number and the name staff gave; what it wrote loses
its text and sender; SMS to it lose the text and the number; staff's notes on its
chats lose their text; its buffered parts, simulated SMS and "ended" notices go; its
opt-out survives as a keyed hash only
(`optouts.forget`), so erasing someone never subscribes them again. Every spelling of
the number (E.164, national, international, masked) is then replaced wherever it is
still written: others' texts, the SMS they caused, notes, event payloads, the audit log.
Idempotency replays that mention it are dropped. One audit entry records the erasure
and its counts, never the number.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..db import utcnow
from ..events.log import PENDING_KEY
from ..models import (
    AuditEvent,
    Chat,
    ChatNote,
    ChatStatus,
    Delivery,
    EndedNotice,
    EventRecord,
    IdempotencyRecord,
    InboundPart,
    Message,
    OptOut,
    Participant,
    SandboxSms,
)
from ..phone import ERASED_NUMBER, spellings
from . import audit
from .chats import Templates, close_chat
from .notes import erase_notes
from .optout_hashes import forget

log = logging.getLogger(__name__)

ERASED_TEXT = "[erased]"  # what a spelling of the number becomes inside others' texts
_BATCH = 500


@dataclass
class Erasure:
    chats_closed: int = 0
    participants: int = 0
    messages: int = 0
    deliveries: int = 0
    opted_out: bool = False
    other_rows: int = 0  # parts, simulated SMS, notices, replays, events, audit entries


async def survey(session: AsyncSession, number: str) -> Erasure:
    """What erasing the number would touch (nothing is changed)."""
    people = await _participants(session, number)
    ids = [p.id for p in people]
    return Erasure(
        chats_closed=len(await _active_chats(session, people)),
        participants=len(people),
        messages=len(await _their_messages(session, number, ids)),
        deliveries=len(
            (await session.exec(select(Delivery.id).where(Delivery.to_number == number))).all()
        ),
        opted_out=(await session.exec(select(OptOut.id).where(OptOut.number == number))).first()
        is not None,
    )


async def erase_number(
    session: AsyncSession,
    number: str,
    *,
    actor: str,
    templates: Templates,
    now: datetime | None = None,
) -> Erasure:
    """Erase one real number (E.164) everywhere; returns what was erased."""
    now = now or utcnow()
    done = Erasure()
    people = await _participants(session, number)
    for chat in await _active_chats(session, people):
        await close_chat(
            session, chat, reason="erasure", actor=actor, goodbye=False, templates=templates
        )
        done.chats_closed += 1
    ids = [p.id for p in people if p.id is not None]
    messages = await _their_messages(session, number, ids)
    message_ids = [m.id for m in messages]
    done.participants = len(people)
    done.messages = len(messages)
    for participant in people:
        participant.real_number, participant.name = ERASED_NUMBER, ""
        session.add(participant)
    await session.exec(
        update(Message)
        .where(col(Message.id).in_(message_ids))
        .values(body="", sender_number=None, erased_at=now)
    )
    done.deliveries = (
        await session.exec(
            update(Delivery)
            .where(col(Delivery.to_number) == number)
            .values(to_number=ERASED_NUMBER, body="")
        )
    ).rowcount
    # What the person wrote, as others received it.
    await session.exec(
        update(Delivery).where(col(Delivery.message_id).in_(message_ids)).values(body="")
    )
    done.opted_out = await forget(session, number, now)
    done.other_rows = await _drop_traces(session, number)
    # Staff's notes on the person's chats are about them: they go whole.
    done.other_rows += await erase_notes(session, list({p.chat_id for p in people}), now)
    forms = spellings(number)
    ids_seen = {p.public_id for p in people} | {m.public_id for m in messages}
    done.other_rows += await _scrub_texts(session, forms)
    done.other_rows += await _scrub_events(session, forms, ids_seen)
    done.other_rows += await _scrub_audit(session, forms)
    done.other_rows += await _drop_replays(session, forms, ids_seen)
    audit.record(session, actor=actor, action="number.erase", detail=asdict(done))
    log.info("a number was erased: %s", asdict(done))
    return done


async def _participants(session: AsyncSession, number: str) -> list[Participant]:
    query = select(Participant).where(col(Participant.real_number) == number)
    return list((await session.exec(query)).all())


async def _active_chats(session: AsyncSession, people: list[Participant]) -> list[Chat]:
    chat_ids = [p.chat_id for p in people if p.active]
    if not chat_ids:
        return []
    query = select(Chat).where(col(Chat.id).in_(chat_ids), col(Chat.status) == ChatStatus.active)
    return list((await session.exec(query)).all())


async def _their_messages(
    session: AsyncSession, number: str, participant_ids: Sequence[int | None]
) -> list[Message]:
    query = select(Message).where(
        or_(col(Message.sender_number) == number, col(Message.participant_id).in_(participant_ids))
    )
    return list((await session.exec(query)).all())


async def _drop_traces(session: AsyncSession, number: str) -> int:
    results = [
        await session.exec(delete(EndedNotice).where(col(EndedNotice.sender_number) == number)),
        await session.exec(delete(InboundPart).where(col(InboundPart.sender_number) == number)),
        await session.exec(delete(SandboxSms).where(col(SandboxSms.handset_number) == number)),
    ]
    return sum(max(result.rowcount, 0) for result in results)


def _scrub(text: str, forms: list[str]) -> str:
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, ERASED_TEXT if text != form else ERASED_NUMBER)
    return text


async def _scrub_texts(session: AsyncSession, forms: list[str]) -> int:
    """Others' texts (and the SMS they caused, and simulated SMS) that wrote the number."""
    changed = 0
    models: tuple[Any, ...] = (Message, Delivery, SandboxSms, ChatNote)
    for model in models:
        body = col(model.body)
        rows = (
            await session.exec(select(model).where(or_(*(body.contains(f) for f in forms))))
        ).all()
        for row in rows:
            row.body = _scrub(row.body, forms)
            session.add(row)
            changed += 1
    return changed


def _scrub_value(value: Any, forms: list[str], ids: set[str]) -> Any:
    """A payload with the number's spellings replaced, and the text and names of the
    erased person's messages and participant entries emptied."""
    if isinstance(value, str):
        return _scrub(value, forms)
    if isinstance(value, list):
        return [_scrub_value(item, forms, ids) for item in value]
    if not isinstance(value, dict):
        return value
    scrubbed = {key: _scrub_value(item, forms, ids) for key, item in value.items()}
    if scrubbed.get("id") in ids:
        for key in ("body", "name"):
            if key in scrubbed:
                scrubbed[key] = ""
        if "number" in scrubbed:
            scrubbed["number"] = ERASED_NUMBER
    if scrubbed.get("participant_id") in ids:
        for key in ("author", "participant"):
            if key in scrubbed:
                scrubbed[key] = ""
    return scrubbed


async def _scrub_events(session: AsyncSession, forms: list[str], ids: set[str]) -> int:
    """The event log, and the events of this transaction not written yet (the closing
    of the person's chats, which names them)."""
    pending: list[EventRecord] = session.info.get(PENDING_KEY, [])
    for record in pending:
        record.payload = _scrub_value(record.payload, forms, ids)
    changed = 0
    async for batch in _batches(session, EventRecord):
        for row in batch:
            payload = _scrub_value(row.payload, forms, ids)
            if payload != row.payload:
                row.payload = payload
                session.add(row)
                changed += 1
    return changed


async def _scrub_audit(session: AsyncSession, forms: list[str]) -> int:
    changed = 0
    async for batch in _batches(session, AuditEvent):
        for row in batch:
            target = _scrub(row.target, forms) if row.target else row.target
            detail = _scrub_value(row.detail, forms, set())
            if (target, detail) != (row.target, row.detail):
                row.target, row.detail = target, detail
                session.add(row)
                changed += 1
    return changed


async def _drop_replays(session: AsyncSession, forms: list[str], ids: set[str]) -> int:
    """Idempotency replays repeat an answer that named the person: they go."""
    dropped = 0
    async for batch in _batches(session, IdempotencyRecord):
        for row in batch:
            named = _scrub_value(row.response, forms, ids) != row.response
            if named or _mentions(row.response, ids):
                await session.delete(row)
                dropped += 1
    return dropped


def _mentions(value: Any, ids: Iterable[str]) -> bool:
    text = repr(value)
    return any(public_id in text for public_id in ids)


async def _batches(session: AsyncSession, model: Any) -> AsyncIterator[list[Any]]:
    """Every row of a table, a batch at a time (erasure is rare, and may take a while)."""
    last = 0
    while True:
        query = select(model).where(col(model.id) > last).order_by(col(model.id)).limit(_BATCH)
        batch = list((await session.exec(query)).all())
        if batch:
            yield batch
        if len(batch) < _BATCH:
            return
        last = batch[-1].id
