"""Growing and shrinking a live chat through the API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from quart import request
from quart_rate_limiter import rate_limit
from quart_schema import validate_request, validate_response

from ...proxy.chats import NewParticipant
from ...proxy.membership import add_participant, remove_participant
from .. import services
from .base import API_LIMITS, actor, api_key_required, blueprint, current_key
from .chats import ParticipantOut, participant_out
from .idempotency import idempotent
from .responses import no_content


class ParticipantAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: str = Field(max_length=40, description="Real phone number, any common format")
    name: str = Field("", max_length=100, description="Display name used in SMS")
    intro: bool = Field(True, description="Send the newcomer the intro SMS")


@blueprint.post("/chats/<chat_id>/participants")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_request(ParticipantAdd)
@validate_response(ParticipantOut, 201)
async def post_chat_participant(chat_id: str, data: ParticipantAdd) -> tuple[Any, ...]:
    """Add someone to an active chat: they get a proxy number to text, and an intro SMS.

    The number is chosen by the same rules as at creation, preferring the numbers the
    chat already uses. 409 when the chat is closed or full, the person is in it
    already, or no proxy number is free for them. Honours `Idempotency-Key`.
    """
    svc = services()
    person = NewParticipant(data.number, data.name)

    async def add(session: Any) -> tuple[dict[str, Any], int]:
        _, participant = await add_participant(
            session,
            chat_id,
            person,
            intro=data.intro,
            templates=svc.templates,
            actor=actor(),
            default_region=svc.settings.default_region,
        )
        return participant_out(participant).model_dump(mode="json"), 201

    key = request.headers.get("Idempotency-Key")
    body = {"chat_id": chat_id, **data.model_dump(mode="json")}
    return await idempotent(svc.db, current_key(), key, body, add)


@blueprint.delete("/chats/<chat_id>/participants/<participant_id>")
@rate_limit(limits=API_LIMITS)
@api_key_required
@no_content
async def delete_chat_participant(chat_id: str, participant_id: str) -> tuple[str, int]:
    """Remove someone from an active chat: their route is freed at once.

    A chat keeps at least two active participants: removing one more is refused (409);
    close the chat instead.
    """
    async with services().db.transaction() as session:
        await remove_participant(session, chat_id, participant_id, actor=actor())
    return "", 204
