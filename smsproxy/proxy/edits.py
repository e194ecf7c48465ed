"""Changing a chat's terms after creation: its reference, idle TTL, absolute expiry and
the integrator's own metadata (what Twilio Proxy's Session update offers)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..db import utcnow
from ..errors import Conflict, InvalidChat
from ..models import AuditEvent, Chat, ChatStatus
from .queries import ChatView, get_chat, participants_of

MAX_METADATA_BYTES = 4096
MIN_TTL_SECONDS = 60
MAX_TTL_SECONDS = 366 * 86400


class Unset(Enum):
    """A value left out of a change (as opposed to None, which clears it)."""

    token = 0


UNSET = Unset.token


@dataclass(frozen=True)
class ChatChanges:
    reference: str | Unset | None = UNSET
    ttl_seconds: int | Unset | None = UNSET
    expires_at: datetime | Unset | None = UNSET
    metadata: dict[str, Any] | Unset | None = UNSET

    def given(self) -> list[str]:
        return [name for name, value in vars(self).items() if value is not UNSET]


def check_metadata(value: Any, field: str = "metadata") -> dict[str, Any] | None:
    """A JSON object of at most MAX_METADATA_BYTES (encoded), or None."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidChat("metadata must be a JSON object", field=field)
    try:
        size = len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
    except (TypeError, ValueError):
        raise InvalidChat("metadata must be plain JSON", field=field) from None
    if size > MAX_METADATA_BYTES:
        raise InvalidChat(
            f"metadata is {size} bytes as JSON; at most {MAX_METADATA_BYTES} are kept",
            field=field,
        )
    return value


async def lock_chat(session: AsyncSession, public_id: str) -> Chat:
    """The chat, locked until the transaction ends (404 when there is none)."""
    found = await get_chat(session, public_id)
    query = (
        select(Chat)
        .where(col(Chat.id) == found.chat.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.exec(query)).one()


async def update_chat(
    session: AsyncSession, public_id: str, changes: ChatChanges, *, actor: str
) -> ChatView:
    """Apply what `changes` gives. Reference and metadata may change on a closed chat
    (they are the integrator's bookkeeping); its TTL and expiry may not."""
    chat = await lock_chat(session, public_id)
    given = changes.given()
    timing = [name for name in given if name in ("ttl_seconds", "expires_at")]
    if timing and chat.status != ChatStatus.active:
        raise Conflict(
            f"Chat {chat.public_id} is closed: its {timing[0]} can no longer change",
            field=timing[0],
        )
    if not isinstance(changes.reference, Unset):
        chat.reference = _reference(changes.reference)
    if not isinstance(changes.ttl_seconds, Unset):
        set_ttl(chat, changes.ttl_seconds)
    if not isinstance(changes.expires_at, Unset):
        chat.expires_at = check_expiry(changes.expires_at)
    if not isinstance(changes.metadata, Unset):
        chat.custom_metadata = check_metadata(changes.metadata)
    if given:
        session.add(chat)
        session.add(
            AuditEvent(
                actor=actor, action="chat.update", target=chat.public_id, detail={"fields": given}
            )
        )
        await session.flush()
    return ChatView(chat, await participants_of(session, chat))


def _reference(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value) > 200:
        raise InvalidChat("reference is longer than 200 characters", field="reference")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidChat("reference has control characters", field="reference")
    return value


def set_ttl(chat: Chat, ttl: int | None) -> None:
    """The idle limit counts from the last activity, as it always has: a new TTL shorter
    than the quiet so far closes the chat at the next sweep."""
    if ttl is not None and not MIN_TTL_SECONDS <= ttl <= MAX_TTL_SECONDS:
        raise InvalidChat(
            f"ttl_seconds must be between {MIN_TTL_SECONDS} and {MAX_TTL_SECONDS}",
            field="ttl_seconds",
        )
    chat.idle_ttl_seconds = ttl
    chat.idle_expires_at = chat.last_activity_at + timedelta(seconds=ttl) if ttl else None


def check_expiry(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidChat("expires_at needs a time zone (e.g. Z)", field="expires_at")
    if value.year >= 9999:
        raise InvalidChat("expires_at is too far in the future", field="expires_at")
    if value <= utcnow():
        raise InvalidChat("expires_at is in the past", field="expires_at")
    return value.astimezone(UTC)
