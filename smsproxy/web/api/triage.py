"""Triage through the API: who looks after a chat."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from quart_rate_limiter import rate_limit
from quart_schema import validate_request, validate_response

from ...proxy import queries
from ...proxy.assignment import assign_chat, find_assignee
from .. import services
from .base import API_LIMITS, actor, api_key_required, blueprint


class AssigneeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: str | None = Field(
        max_length=64, description="The username of an active staff member; null: nobody"
    )


class AssigneeOut(BaseModel):
    id: str = Field(description="The chat's id")
    assignee: str | None = Field(description="The staff member's username, or null")
    changed: bool = Field(description="False when the chat was already so assigned")


@blueprint.post("/chats/<chat_id>/assignee")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_request(AssigneeIn)
@validate_response(AssigneeOut)
async def post_chat_assignee(chat_id: str, data: AssigneeIn) -> AssigneeOut:
    """Assign a chat to a staff member, or to nobody.

    `{"assignee": null}` leaves it to nobody. Audited, and shown live on the dashboard;
    422 when no active staff member has that username.
    """
    async with services().db.transaction() as session:
        view = await queries.get_chat(session, chat_id)
        assignee = await find_assignee(session, data.assignee)
        changed = await assign_chat(session, view.chat, assignee, actor=actor())
    return AssigneeOut(
        id=view.chat.public_id,
        assignee=assignee.username if assignee is not None else None,
        changed=changed,
    )
