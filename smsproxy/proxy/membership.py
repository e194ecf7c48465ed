"""Growing and shrinking a live chat: add a participant (a proxy number under the same
rules as at creation, and an intro SMS), or remove one (their route is freed at once).

Both lock the chat row first, so two changes at once cannot, say, each remove one of
the last three participants and leave one alone.
"""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from .. import events
from ..db import utcnow
from ..errors import Conflict, InvalidChat, InvalidNumber, NotFound
from ..models import AuthorKind, Chat, ChatStatus, DeliveryKind, Message, Participant
from ..phone import mask, parse_number
from . import audit
from .chats import MAX_PARTICIPANTS, MIN_PARTICIPANTS, NewParticipant, Templates, render
from .edits import lock_chat
from .fanout import fan_out
from .load import close_routes, open_routes
from .pool import allocate, is_proxy_number
from .queries import ChatView, participants_of


def _open(chat: Chat, doing: str) -> None:
    if chat.status != ChatStatus.active:
        raise Conflict(f"Chat {chat.public_id} is closed: {doing}")


async def _new_number(
    session: AsyncSession, person: NewParticipant, active: list[Participant], region: str | None
) -> str:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in person.name):
        raise InvalidChat("name has control characters", field="name")
    number = parse_number(person.number, region)
    if any(p.real_number == number for p in active):
        raise Conflict(f"{mask(number)} is in this chat already", field="number")
    if await is_proxy_number(session, number):
        raise InvalidChat(
            f"{number} is one of the pool's proxy numbers; participants need their own "
            "real numbers",
            field="number",
        )
    return number


async def add_participant(
    session: AsyncSession,
    chat_public_id: str,
    person: NewParticipant,
    *,
    intro: bool,
    templates: Templates,
    actor: str,
    default_region: str | None = None,
) -> tuple[ChatView, Participant]:
    """Add someone to an active chat. Raises PoolExhausted when no proxy number is free
    for them; an IntegrityError (a concurrent change took the route) means: retry."""
    chat = await lock_chat(session, chat_public_id)
    _open(chat, "no one can join it")
    everyone = await participants_of(session, chat)
    active = [p for p in everyone if p.active]
    if len(active) >= MAX_PARTICIPANTS:
        raise Conflict(f"Chat {chat.public_id} has {MAX_PARTICIPANTS} participants, the most")
    try:
        number = await _new_number(session, person, active, default_region)
    except InvalidNumber as error:
        error.field = "number"
        raise
    (proxy,) = await allocate(session, [number], prefer=[p.proxy_number for p in active])
    assert chat.id is not None
    participant = Participant(
        chat_id=chat.id,
        real_number=number,
        name=person.name.strip()[:100],
        proxy_number=proxy,
        position=max((p.position for p in everyone), default=-1) + 1,
    )
    await open_routes(session, [participant])
    view = ChatView(chat, [*everyone, participant])
    audit.record(
        session,
        actor=actor,
        action="chat.participant_add",
        target=chat.public_id,
        detail={"participant": participant.public_id},
    )
    events.emit(session, events.ParticipantAdded(chat, participant))
    if intro and templates.intro:
        await _introduce(session, view, participant, templates.intro)
    return view, participant


async def _introduce(
    session: AsyncSession, view: ChatView, newcomer: Participant, template: str
) -> None:
    """The intro SMS to the newcomer alone, naming the others still in the chat."""
    assert view.chat.id is not None
    present = ChatView(view.chat, [p for p in view.participants if p.active])
    body = render(template, present, newcomer)
    message = Message(chat_id=view.chat.id, author_kind=AuthorKind.system, body=body)
    session.add(message)
    await session.flush()
    await fan_out(session, view.chat, message, [newcomer], DeliveryKind.intro, body, utcnow())
    events.emit(session, events.MessageCreated(message, view.chat.public_id))


async def remove_participant(
    session: AsyncSession, chat_public_id: str, participant_public_id: str, *, actor: str
) -> ChatView:
    """Take someone out of an active chat: their SMS to its number stop being forwarded,
    and the route is free for another chat. A chat keeps at least two people."""
    chat = await lock_chat(session, chat_public_id)
    everyone = await participants_of(session, chat)
    leaving = next((p for p in everyone if p.public_id == participant_public_id), None)
    if leaving is None:
        raise NotFound(f"Chat {chat.public_id} has no participant {participant_public_id!r}")
    _open(chat, "its participants have left already")
    if not leaving.active:
        raise Conflict(f"Participant {participant_public_id} has left this chat already")
    remaining = sum(p.active for p in everyone) - 1
    if remaining < MIN_PARTICIPANTS:
        raise Conflict(
            f"Chat {chat.public_id} would keep {remaining} participant; a chat needs at "
            f"least {MIN_PARTICIPANTS}: close it instead"
        )
    await close_routes(session, [leaving])
    audit.record(
        session,
        actor=actor,
        action="chat.participant_remove",
        target=chat.public_id,
        detail={"participant": leaving.public_id},
    )
    events.emit(session, events.ParticipantRemoved(chat, leaving))
    return ChatView(chat, everyone)
