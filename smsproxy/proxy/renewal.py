"""A chat's second wind: reopen a closed chat on its old routes, or extend a live one's
expiry and idle limit.

Reopening gives back the routes the chat had when it closed, never new ones: the
people already texted those proxy numbers, and a different number would be a different
conversation. So each route must still be free (no other active chat holds the same
(real number, proxy number) pair, DESIGN.md's invariant) and its number still enabled
in the pool; otherwise a Conflict names the participant (masked) and what holds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from .. import events
from ..db import utcnow
from ..errors import Conflict, InvalidChat
from ..models import AuditEvent, Chat, ChatStatus, Participant, ProxyNumber
from ..phone import ERASED_NUMBER, mask
from . import audit
from .chats import MIN_PARTICIPANTS, touch
from .edits import check_expiry, lock_chat, set_ttl
from .load import open_routes
from .optouts import opted_out_among
from .pool import lock_people
from .queries import ChatView, participants_of

# The longest one extension may add: a year, as the idle limit's own bound.
MAX_EXTENSION_SECONDS = 366 * 86400


async def reopen_chat(
    session: AsyncSession,
    public_id: str,
    *,
    actor: str,
    expires_at: datetime | None = None,
) -> ChatView:
    """Make a closed chat active again on the routes it had when it closed.

    Its idle limit counts again from now; an absolute expiry that has passed is
    dropped (or replaced by `expires_at`). No SMS is sent. An IntegrityError (a
    concurrent chat took a route between the check and the update) means: retry, and
    the retry says which route is taken.
    """
    chat = await lock_chat(session, public_id)
    if chat.status == ChatStatus.active:
        raise Conflict(f"Chat {chat.public_id} is active already")
    everyone = await participants_of(session, chat)
    returning = await _returning(session, chat, everyone)
    await lock_people(session, [p.real_number for p in returning])
    await _check_routes(session, chat, everyone, returning)
    now = utcnow()
    new_expiry = check_expiry(expires_at) if expires_at is not None else None
    chat.status = ChatStatus.active
    chat.closed_at = None
    chat.close_reason = None
    if new_expiry is not None or (chat.expires_at is not None and chat.expires_at <= now):
        chat.expires_at = new_expiry
    touch(chat, now)
    session.add(chat)
    opted_out = await opted_out_among(session, [p.real_number for p in returning])
    for participant in returning:
        participant.opted_out = participant.real_number in opted_out
    await open_routes(session, returning)
    audit.record(session, actor=actor, action="chat.reopen", target=chat.public_id)
    events.emit(session, events.ChatReopened(chat, everyone))
    return ChatView(chat, everyone)


async def _returning(
    session: AsyncSession, chat: Chat, everyone: list[Participant]
) -> list[Participant]:
    """The participants who were in the chat when it closed: those staff or the API
    removed earlier stay out (the audit log, written with each removal, says who)."""
    entries = await session.exec(
        select(AuditEvent.detail).where(
            col(AuditEvent.target) == chat.public_id,
            col(AuditEvent.action) == "chat.participant_remove",
        )
    )
    removed = {str(detail.get("participant")) for detail in entries.all() if detail}
    returning = [p for p in everyone if p.public_id not in removed]
    for index, participant in enumerate(everyone):
        if participant in returning and participant.real_number == ERASED_NUMBER:
            raise Conflict(
                f"Participant {index + 1} ({participant.display_name}) was erased: this chat "
                "cannot be reopened; start a new one"
            )
    if len(returning) < MIN_PARTICIPANTS:
        raise Conflict(
            f"Chat {chat.public_id} had {len(returning)} participant when it closed; a chat "
            f"needs at least {MIN_PARTICIPANTS}: start a new one"
        )
    return returning


async def _check_routes(
    session: AsyncSession, chat: Chat, everyone: list[Participant], returning: list[Participant]
) -> None:
    """Refuse, naming the first participant whose route is not available any more."""
    numbers = sorted({p.proxy_number for p in returning})
    # Locked like allocation locks them: nobody removes or disables one meanwhile.
    rows = await session.exec(
        select(ProxyNumber.number, ProxyNumber.enabled)
        .where(col(ProxyNumber.number).in_(numbers))
        .order_by(col(ProxyNumber.number))
        .with_for_update()
    )
    usable = {number for number, enabled in rows.all() if enabled}
    taken = await _routes_taken(session, returning)
    for participant in returning:
        who = (
            f"Participant {everyone.index(participant) + 1} ({participant.display_name}, "
            f"{mask(participant.real_number)})"
        )
        if participant.proxy_number not in usable:
            raise Conflict(
                f"{who} texted {participant.proxy_number}, which is no longer an enabled "
                "number of the pool: start a new chat instead"
            )
        holder = taken.get((participant.real_number, participant.proxy_number))
        if holder is not None:
            raise Conflict(
                f"{who} has an active chat ({holder}) on {participant.proxy_number}, the "
                "number this chat used for them: close that chat first, or start a new one"
            )


async def _routes_taken(
    session: AsyncSession, people: list[Participant]
) -> dict[tuple[str, str], str]:
    """(real number, proxy number) pairs of these people held by active chats, and by
    which chat (its public id)."""
    query = (
        select(Participant.real_number, Participant.proxy_number, Chat.public_id)
        .join(Chat, col(Chat.id) == Participant.chat_id)
        .where(
            col(Participant.active),
            col(Participant.real_number).in_([p.real_number for p in people]),
        )
    )
    wanted = {(p.real_number, p.proxy_number) for p in people}
    return {
        (real, proxy): chat_id
        for real, proxy, chat_id in (await session.exec(query)).all()
        if (real, proxy) in wanted
    }


@dataclass(frozen=True)
class Extension:
    """What to change: add `by_seconds` to the current expiry, or set `expires_at`; and,
    apart from either, set the idle limit (`ttl_seconds`, `clear_ttl` to remove it)."""

    by_seconds: int | None = None
    expires_at: datetime | None = None
    ttl_seconds: int | None = None
    clear_ttl: bool = False

    def fields(self) -> list[str]:
        named = {
            "by_seconds": self.by_seconds is not None,
            "expires_at": self.expires_at is not None,
            "ttl_seconds": self.ttl_seconds is not None or self.clear_ttl,
        }
        return [name for name, given in named.items() if given]


async def extend_chat(
    session: AsyncSession, public_id: str, extension: Extension, *, actor: str
) -> ChatView:
    """Give a live chat more time: a later absolute expiry and/or another idle limit."""
    given = extension.fields()
    if not given:
        raise InvalidChat("Say how to extend: by_seconds, expires_at or ttl_seconds")
    if extension.by_seconds is not None and extension.expires_at is not None:
        raise InvalidChat("Give by_seconds or expires_at, not both", field="expires_at")
    chat = await lock_chat(session, public_id)
    if chat.status != ChatStatus.active:
        raise Conflict(f"Chat {chat.public_id} is closed: reopen it first")
    if extension.by_seconds is not None:
        chat.expires_at = _later(chat, extension.by_seconds)
    if extension.expires_at is not None:
        chat.expires_at = check_expiry(extension.expires_at)
    if extension.ttl_seconds is not None or extension.clear_ttl:
        set_ttl(chat, extension.ttl_seconds)
    session.add(chat)
    audit.record(
        session, actor=actor, action="chat.extend", target=chat.public_id, detail={"fields": given}
    )
    participants = await participants_of(session, chat)
    events.emit(session, events.ChatExtended(chat, participants))
    return ChatView(chat, participants)


def _later(chat: Chat, seconds: int) -> datetime:
    if not 60 <= seconds <= MAX_EXTENSION_SECONDS:
        raise InvalidChat(
            f"by_seconds must be between 60 and {MAX_EXTENSION_SECONDS}", field="by_seconds"
        )
    if chat.expires_at is None:
        raise Conflict(
            f"Chat {chat.public_id} has no expiry to extend: set expires_at instead",
            field="by_seconds",
        )
    # An expiry the sweeper has not reached yet counts from now: the chat is still live.
    return max(chat.expires_at, utcnow()) + timedelta(seconds=seconds)
