"""An admin reveals one participant's real number on the chat page, for that view only.

A POST (with the CSRF token), never a link: the answer is the chat page itself with the
number shown, not stored anywhere and not cached, and every reveal is an audit entry.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint

from ...proxy.reveal import reveal_number
from .. import services
from ..guards import admin_required
from .base import actor_of, signed_in
from .chat import render_chat

blueprint = Blueprint("reveal", __name__)

NO_STORE = {"Cache-Control": "no-store"}


@blueprint.post("/chats/<chat_id>/participants/<participant_id>/reveal")
@admin_required
async def post_reveal(chat_id: str, participant_id: str) -> Any:
    staff = await signed_in()
    async with services().db.transaction() as session:
        revealed = await reveal_number(session, chat_id, participant_id, actor=actor_of(staff))
    html, status = await render_chat(
        chat_id, revealed={revealed.participant.public_id: revealed.number}
    )
    return html, status, NO_STORE
