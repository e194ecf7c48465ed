"""Revealing one participant's real number to someone entitled to see it.

Pages, API answers, events and logs only ever show numbers masked. An admin (or an API
key granted the permission) may ask for one participant's number; every such answer is
an audit entry naming who asked and which participant, never the number itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from ..errors import NotFound
from ..models import Participant
from . import audit
from .queries import ChatView, get_chat

ACTION = "participant.reveal"


@dataclass(frozen=True)
class Revealed:
    view: ChatView
    participant: Participant

    @property
    def number(self) -> str:
        return self.participant.real_number


async def reveal_number(
    session: AsyncSession, chat_public_id: str, participant_public_id: str, *, actor: str
) -> Revealed:
    view = await get_chat(session, chat_public_id)
    participant = next((p for p in view.participants if p.public_id == participant_public_id), None)
    if participant is None:
        raise NotFound(
            f"Chat {view.chat.public_id} has no participant {participant_public_id[:40]!r}",
            field="participant_id",
        )
    audit.record(
        session,
        actor=actor,
        action=ACTION,
        target=participant.public_id,
        detail={"chat": view.chat.public_id},
    )
    return Revealed(view, participant)
