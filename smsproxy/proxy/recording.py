"""Recording an inbound SMS exactly once, however often the carrier retries it, and in
whichever of Vonage's webhook formats it comes.

A retry carries the same id, which the unique index on Message.carrier_message_id
catches. While an account switches between the SMS API and the Messages API, one SMS
can reach us once in each format (a webhook queued for retry in one format, the SMS
delivered again in the other), and the two formats share no id: the SMS API's
`messageId` and the Messages API's `message_uuid` are unrelated. Such a twin is
recognised by what they do share: sender, number, text, and Vonage's time of receipt
within TWIN_WINDOW, and only across formats, so that someone who sends the same text
twice through one format is heard twice.

The twin has no unique key to collide on: on PostgreSQL, two processes inserting the two
formats of one SMS in the same instant could each miss the other. Vonage sends the two a
retry interval apart, not together; SQLite lets one writer in at a time.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, literal, not_
from sqlalchemy import select as sa_select
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..carrier import InboundSms
from ..db import insert_for
from ..models import AuthorKind, Message

log = logging.getLogger(__name__)

# How far apart Vonage's two formats may date one SMS. Both stamps are Vonage's clock;
# the SMS API's says when it first pushed the webhook, the Messages API's when the SMS
# came, so they differ by seconds, plus whatever a retry queue adds to the first.
TWIN_WINDOW = timedelta(minutes=10)


async def is_recorded(session: AsyncSession, carrier_message_id: str) -> bool:
    query = select(Message.id).where(Message.carrier_message_id == carrier_message_id)
    return (await session.exec(query)).first() is not None


async def record_once(session: AsyncSession, message: Message) -> bool:
    """Insert an inbound message; False when it is already recorded: its carrier message
    id (by an earlier webhook, or by another process at the same moment), or the same
    SMS in the other webhook format (`TWIN_WINDOW`).

    One statement: the unique index on the carrier message id turns a retry's insert
    into a no-op (a concurrent one waits for the first to commit, then finds it), and
    the twin check rides in the insert's own WHERE NOT EXISTS, so neither a lookup first
    nor a savepoint around the insert is needed.
    """
    table = Message.__table__  # type: ignore[attr-defined]
    values = {
        column.name: getattr(message, column.name) for column in table.c if column.name != "id"
    }
    insert = insert_for(session)(table)
    twin = _twin_exists(table, message)
    if twin is None:
        statement = insert.values(**values)
    else:
        row = sa_select(*(literal(value, table.c[name].type) for name, value in values.items()))
        statement = insert.from_select(list(values), row.where(not_(twin)))
    statement = statement.on_conflict_do_nothing(
        index_elements=[table.c.carrier_message_id]
    ).returning(table.c.id)
    row_id = (await session.exec(statement)).first()
    if row_id is None:
        log.info(
            "inbound %s was recorded before (a retry, or the same SMS in the other webhook format)",
            message.carrier_message_id,
        )
        return False
    message.id = row_id[0]
    # Now a row like any loaded one: later changes to it are flushed as updates.
    make_transient_to_detached(message)
    session.add(message)
    return True


def _twin_exists(table: Any, message: Message) -> Any:
    """EXISTS (the same SMS, recorded from the other webhook format), or None when the
    message came through no carrier webhook (the sandbox) and has no twin to look for."""
    at = message.carrier_received_at
    if not (message.carrier_api and message.sender_number and message.proxy_number and at):
        return None
    twin = table.alias("twin")
    return exists().where(
        and_(
            twin.c.sender_number == message.sender_number,
            twin.c.proxy_number == message.proxy_number,
            twin.c.carrier_api.is_not(None),
            twin.c.carrier_api != message.carrier_api,
            twin.c.carrier_received_at.between(at - TWIN_WINDOW, at + TWIN_WINDOW),
            twin.c.body == message.body,
        )
    )


async def recorded_whole(
    session: AsyncSession, sender: str, proxy_number: str, texts: list[str], at: datetime
) -> bool:
    """Whether an SMS holding every one of `texts` (parts of a long SMS that came
    through the SMS API) was recorded from the Messages API, which hands a long SMS over
    whole, within TWIN_WINDOW of `at`."""
    query = select(Message.body).where(
        Message.sender_number == sender,
        Message.proxy_number == proxy_number,
        Message.carrier_api == "messages",
        col(Message.carrier_received_at).between(at - TWIN_WINDOW, at + TWIN_WINDOW),
    )
    bodies = (await session.exec(query)).all()
    return any(all(text in body for text in texts) for body in bodies)


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
        carrier_api=inbound.carrier_api,
        carrier_received_at=inbound.received_at or now,
        created_at=now,
    )
