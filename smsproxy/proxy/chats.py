"""Chat lifecycle: create a chat (with its routes), close it, and the SMS each sends."""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from .. import events
from ..db import Database, utcnow
from ..errors import Conflict, InvalidChat, InvalidNumber
from ..models import AuthorKind, Chat, ChatStatus, DeliveryKind, Message, Participant
from ..phone import mask, parse_number
from . import audit
from .assignment import username_of
from .edits import check_metadata
from .fanout import fan_out
from .load import close_routes, open_routes
from .optouts import opted_out_among
from .pool import allocate, is_proxy_number
from .queries import ChatView, participants_of
from .screening import Policy, regions_of, sms_name

log = logging.getLogger(__name__)

MIN_PARTICIPANTS = 2
MAX_PARTICIPANTS = 10
T = TypeVar("T")


@dataclass(frozen=True)
class NewParticipant:
    number: str  # as typed
    name: str = ""
    channel: str = "sms"  # how they are reached; SMS is the only channel for now


@dataclass(frozen=True)
class ChatSpec:
    participants: list[NewParticipant]
    reference: str | None = None
    ttl_seconds: int | None = None
    expires_at: datetime | None = None
    intro: bool = True
    metadata: dict[str, Any] | None = None  # the integrator's own, size-limited


@dataclass(frozen=True)
class Templates:
    intro: str = ""
    goodbye: str = ""
    # Names in these texts lose contact details as forwarded texts do.
    contact_policy: Policy = "off"


async def validate_spec(
    session: AsyncSession, spec: ChatSpec, default_region: str | None
) -> list[str]:
    """Parse and check the participants; return their E.164 numbers in order."""
    count = len(spec.participants)
    if count < MIN_PARTICIPANTS or count > MAX_PARTICIPANTS:
        raise InvalidChat(
            f"A chat needs {MIN_PARTICIPANTS} to {MAX_PARTICIPANTS} participants, got {count}",
            field="participants",
        )
    numbers: list[str] = []
    for index, person in enumerate(spec.participants):
        numbers.append(await _participant_number(session, index, person, numbers, default_region))
    _check_terms(spec)
    return numbers


async def _participant_number(
    session: AsyncSession,
    index: int,
    person: NewParticipant,
    earlier: list[str],
    default_region: str | None,
) -> str:
    if _has_control_characters(person.name):
        raise InvalidChat(
            f"Participant {index + 1}'s name has control characters",
            field=f"participants.{index}.name",
        )
    where = f"participants.{index}.number"
    try:
        number = parse_number(person.number, default_region)
    except InvalidNumber as error:
        error.field = where
        error.message = f"Participant {index + 1}'s number {error.message}"
        raise
    if number in earlier:
        first = earlier.index(number) + 1
        raise InvalidChat(
            f"Participants {first} and {index + 1} have the same number "
            f"({mask(number)}): a person can be in a chat only once",
            field=where,
        )
    if await is_proxy_number(session, number):
        raise InvalidChat(
            f"Participant {index + 1}'s number {number} is one of the pool's proxy "
            "numbers; participants need their own real numbers",
            field=where,
        )
    return number


def _check_terms(spec: ChatSpec) -> None:
    """Expiry, idle TTL and reference."""
    if spec.expires_at is not None and spec.expires_at <= utcnow():
        raise InvalidChat("expires_at is in the past", field="expires_at")
    if spec.expires_at is not None and spec.expires_at.year >= 9999:
        # Year 9999 in another zone is year 10000 in UTC, which no datetime can hold.
        raise InvalidChat("expires_at is too far in the future", field="expires_at")
    if spec.ttl_seconds is not None and spec.ttl_seconds < 60:
        raise InvalidChat("ttl_seconds must be at least 60", field="ttl_seconds")
    if spec.reference is not None and len(spec.reference) > 200:
        raise InvalidChat("reference is longer than 200 characters", field="reference")
    if spec.reference is not None and _has_control_characters(spec.reference):
        raise InvalidChat("reference has control characters", field="reference")


def _has_control_characters(text: str) -> bool:
    # Names go into SMS text and both go onto pages; PostgreSQL refuses NUL outright.
    return any(unicodedata.category(ch) == "Cc" for ch in text)


async def create_chat(
    session: AsyncSession,
    spec: ChatSpec,
    *,
    templates: Templates,
    actor: str,
    default_region: str | None = None,
) -> ChatView:
    """Create a chat and its routes in the caller's transaction.

    Raises PoolExhausted when a participant has no free number; an IntegrityError from
    the route index means a concurrent creation took a route first: retry the whole
    transaction (`retry_on_route_conflict`).
    """
    numbers = await validate_spec(session, spec, default_region)
    proxies = await allocate(session, numbers)
    opted_out = await opted_out_among(session, numbers)
    now = utcnow()
    chat = Chat(
        reference=spec.reference or None,
        expires_at=spec.expires_at.astimezone(UTC) if spec.expires_at else None,
        idle_ttl_seconds=spec.ttl_seconds,
        custom_metadata=check_metadata(spec.metadata),
        last_activity_at=now,
        created_at=now,
    )
    touch(chat, now)
    session.add(chat)
    await session.flush()
    assert chat.id is not None
    participants = [
        Participant(
            chat_id=chat.id,
            real_number=number,
            name=person.name.strip()[:100],
            proxy_number=proxy,
            channel=person.channel,
            position=index,
            opted_out=number in opted_out,
        )
        for index, (person, number, proxy) in enumerate(
            zip(spec.participants, numbers, proxies, strict=True)
        )
    ]
    await open_routes(session, participants)
    view = ChatView(chat, participants)
    audit.record(session, actor=actor, action="chat.create", target=chat.public_id)
    events.emit(session, events.ChatCreated(chat, participants))
    if spec.intro and templates.intro:
        await _send_to_each(
            session, view, DeliveryKind.intro, templates.intro, templates.contact_policy
        )
    return view


def touch(chat: Chat, now: datetime) -> None:
    """Record activity: moves the idle expiry forward."""
    chat.last_activity_at = now
    if chat.idle_ttl_seconds:
        chat.idle_expires_at = now + timedelta(seconds=chat.idle_ttl_seconds)


async def close_chat(
    session: AsyncSession,
    chat: Chat,
    *,
    reason: str,
    actor: str,
    goodbye: bool,
    templates: Templates,
) -> bool:
    """Close a chat and free its routes at once. False when it was already closed (by
    someone else, perhaps in another process): closing twice is harmless."""
    now = utcnow()
    result = await session.exec(
        update(Chat)
        .where(col(Chat.id) == chat.id, col(Chat.status) == ChatStatus.active)
        .values(status=ChatStatus.closed, closed_at=now, close_reason=reason)
    )
    if result.rowcount == 0:
        await session.refresh(chat)
        return False
    await session.refresh(chat)
    participants = await participants_of(session, chat)
    await close_routes(session, participants)
    view = ChatView(chat, participants)
    audit.record(
        session, actor=actor, action="chat.close", target=chat.public_id, detail={"reason": reason}
    )
    if goodbye and templates.goodbye:
        await _send_to_each(
            session, view, DeliveryKind.goodbye, templates.goodbye, templates.contact_policy
        )
    assignee = await username_of(session, chat.assignee_id)
    events.emit(session, events.ChatClosed(chat, participants, assignee))
    return True


async def _send_to_each(
    session: AsyncSession, view: ChatView, kind: DeliveryKind, template: str, policy: Policy
) -> None:
    """A system message (intro, goodbye) to every participant from their own number."""
    assert view.chat.id is not None
    message = Message(
        chat_id=view.chat.id,
        author_kind=AuthorKind.system,
        body=render(template, view, None, policy),
    )
    session.add(message)
    await session.flush()
    await fan_out(
        session,
        view.chat,
        message,
        view.participants,
        kind,
        lambda participant: render(template, view, participant, policy),
        utcnow(),
    )
    events.emit(session, events.MessageCreated(message, view.chat.public_id))


def render(
    template: str, view: ChatView, participant: Participant | None, policy: Policy = "off"
) -> str:
    """Fill {other}, {reference} and {name}; unknown placeholders are left as typed."""
    others = [p for p in view.participants if participant is None or p.id != participant.id]
    regions = regions_of(view.participants)
    values = {
        "other": ", ".join(sms_name(p, regions, policy) for p in others) or "your contact",
        "reference": view.chat.reference or "",
        "name": sms_name(participant, regions, policy) if participant else "",
    }

    class _Keep(dict[str, str]):
        def __missing__(self, key: str) -> str:
            return "{" + key + "}"

    try:
        return template.format_map(_Keep(values))
    except (ValueError, IndexError, KeyError, AttributeError, TypeError):
        # A template typo ("{other.name}") must not make every chat creation fail.
        return template


def is_route_conflict(error: IntegrityError) -> bool:
    text = str(error.orig) if error.orig is not None else str(error)
    return "uq_participant_active_route" in text or (
        "participant.real_number, participant.proxy_number" in text
    )


async def retry_on_route_conflict(
    db: Database, work: Callable[[AsyncSession], Awaitable[T]], attempts: int = 5
) -> T:
    """Run `work` in its own transaction, again when a concurrent creation took one of
    the routes it chose (the partial unique index refused the insert)."""
    for attempt in range(1, attempts + 1):
        try:
            async with db.transaction() as session:
                return await work(session)
        except IntegrityError as error:
            if not is_route_conflict(error):
                raise
            log.info("route conflict on attempt %d; retrying chat creation", attempt)
            await asyncio.sleep(0.01 * attempt)
    raise Conflict("The number pool is busy: concurrent chats kept taking the same routes. Retry.")
