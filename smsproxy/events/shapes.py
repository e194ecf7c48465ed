"""The shapes catalog events are built from: a chat, a participant, a sender, a time.

Only `catalog` uses them; they live apart to keep the catalog short. Every real number
passes through `mask` here too.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..models import Chat, Participant
from ..phone import is_alphanumeric_sender, mask


def when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def sender(number: str | None) -> str:
    # An alphanumeric sender is a company's name, not personal data: shown as sent.
    return number if number and is_alphanumeric_sender(number) else mask(number)


def participant_resource(p: Participant) -> dict[str, Any]:
    """A participant as the API and integrations show it."""
    return {
        "id": p.public_id,
        "name": p.display_name,
        "number": mask(p.real_number),
        "proxy_number": p.proxy_number,
        "channel": p.channel,
        "active": p.active,
        "opted_out": p.opted_out,
    }


def chat_resource(chat: Chat, participants: Sequence[Participant]) -> dict[str, Any]:
    """A chat as integrations get it in events: the API's chat, field for field."""
    return {
        "id": chat.public_id,
        "status": chat.status,
        "reference": chat.reference,
        "metadata": chat.custom_metadata or {},
        "created_at": when(chat.created_at),
        "expires_at": when(chat.expires_at),
        "ttl_seconds": chat.idle_ttl_seconds,
        "closed_at": when(chat.closed_at),
        "close_reason": chat.close_reason,
        "participants": [participant_resource(p) for p in participants],
    }


def live_chat(
    chat: Chat, participants: Sequence[Participant], assignee: str | None = None
) -> dict[str, Any]:
    """A chat as live pages get it; `assignee` is the username of `chat.assignee_id`."""
    return {
        "id": chat.public_id,
        "status": chat.status,
        "reference": chat.reference,
        "close_reason": chat.close_reason,
        "assignee_id": chat.assignee_id,
        "assignee": assignee if chat.assignee_id is not None else None,
        "participants": [
            {
                "id": p.public_id,
                "name": p.display_name,
                "number": mask(p.real_number),
                "proxy_number": p.proxy_number,
                "opted_out": p.opted_out,
            }
            for p in participants
        ],
    }
