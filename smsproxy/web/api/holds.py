"""Held texts through the API (CONTACT_POLICY=hold): release or reject one."""

from __future__ import annotations

from quart_rate_limiter import rate_limit
from quart_schema import validate_response

from ...proxy.holds import reject_held, release_held
from ...proxy.transcripts import transcript_entry
from .. import services
from .base import API_LIMITS, actor, api_key_required, blueprint
from .chats import MessageOut, message_out


@blueprint.post("/chats/<chat_id>/messages/<message_id>/release")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_response(MessageOut)
async def post_message_release(chat_id: str, message_id: str) -> MessageOut:
    """Release a held message: it is forwarded, as the sender wrote it, to the chat's
    other participants. 409 when it is not held (any more) or the chat is closed."""
    svc = services()
    async with svc.db.transaction() as session:
        decision = await release_held(
            session, chat_id, message_id, actor=actor(), policy=svc.routing.contact_policy
        )
        entry = await transcript_entry(session, decision.view, decision.message.public_id)
    return message_out(entry)


@blueprint.post("/chats/<chat_id>/messages/<message_id>/reject")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_response(MessageOut)
async def post_message_reject(chat_id: str, message_id: str) -> MessageOut:
    """Reject a held message: it is never forwarded, and stays in the transcript marked
    rejected. 409 when it is not held (any more)."""
    async with services().db.transaction() as session:
        decision = await reject_held(session, chat_id, message_id, actor=actor())
        entry = await transcript_entry(session, decision.view, decision.message.public_id)
    return message_out(entry)
