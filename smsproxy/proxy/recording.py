"""Recording an inbound SMS exactly once, however often the carrier retries it."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..carrier import InboundSms
from ..db import insert_for
from ..models import AuthorKind, Message

log = logging.getLogger(__name__)


async def is_recorded(session: AsyncSession, carrier_message_id: str) -> bool:
    query = select(Message.id).where(Message.carrier_message_id == carrier_message_id)
    return (await session.exec(query)).first() is not None


async def record_once(session: AsyncSession, message: Message) -> bool:
    """Insert an inbound message; False when its carrier message id is already recorded,
    by an earlier webhook or by another process at the same moment.

    One statement: the unique index on the carrier message id turns a retry's insert
    into a no-op (a concurrent one waits for the first to commit, then finds it), so
    neither a lookup first nor a savepoint around the insert is needed.
    """
    table = Message.__table__  # type: ignore[attr-defined]
    values = {
        column.name: getattr(message, column.name) for column in table.c if column.name != "id"
    }
    statement = (
        insert_for(session)(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[table.c.carrier_message_id])
        .returning(table.c.id)
    )
    row = (await session.exec(statement)).first()
    if row is None:
        log.info("inbound %s was recorded before", message.carrier_message_id)
        return False
    message.id = row[0]
    # Now a row like any loaded one: later changes to it are flushed as updates.
    make_transient_to_detached(message)
    session.add(message)
    return True


def inbound_message(
    inbound: InboundSms,
    now: datetime,
    *,
    chat_id: int | None,
    author_kind: AuthorKind,
    participant_id: int | None = None,
) -> Message:
    """The Message an inbound SMS records, routed or not."""
    return Message(
        chat_id=chat_id,
        author_kind=author_kind,
        participant_id=participant_id,
        sender_number=inbound.sender,
        proxy_number=inbound.to,
        body=inbound.text,
        carrier_message_id=inbound.carrier_message_id,
        created_at=now,
    )
