"""A participant's real number, for keys allowed to ask (each answer audited)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, Field
from quart_rate_limiter import RateLimit, rate_limit
from quart_schema import validate_response
from werkzeug.exceptions import Forbidden

from ...proxy.reveal import reveal_number
from .. import services
from .base import API_LIMITS, actor, api_key_or_address, api_key_required, blueprint, current_key
from .responses import documents_errors

# Besides the usual limits: a key leaked with the permission cannot dump the whole
# database quickly, only as fast as a person working through cases would ask.
REVEAL_LIMITS = [*API_LIMITS, RateLimit(60, timedelta(minutes=1), key_function=api_key_or_address)]
NOT_ALLOWED = (
    "This API key may not reveal real numbers: an admin creates keys with that permission "
    "(`smsproxy api-keys create NAME --reveal`, or the box on the API keys page)"
)


class RevealedNumber(BaseModel):
    participant_id: str
    chat_id: str
    number: str = Field(description="The participant's real number, in E.164")


@blueprint.post("/chats/<chat_id>/participants/<participant_id>/reveal")
@rate_limit(limits=REVEAL_LIMITS)
@api_key_required
@documents_errors(403)
@validate_response(RevealedNumber)
async def post_participant_reveal(chat_id: str, participant_id: str) -> Any:
    """Reveal one participant's real number; the audit log records the key that asked.

    Only for keys created with the reveal permission (403 otherwise). Everywhere else
    the API shows numbers masked.
    """
    if not current_key().can_reveal:
        raise Forbidden(NOT_ALLOWED)
    async with services().db.transaction() as session:
        revealed = await reveal_number(session, chat_id, participant_id, actor=actor())
    answer = RevealedNumber(
        participant_id=revealed.participant.public_id,
        chat_id=revealed.view.chat.public_id,
        number=revealed.number,
    )
    return answer, 200, {"Cache-Control": "no-store"}
