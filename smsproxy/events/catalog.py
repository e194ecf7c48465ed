"""The domain events, one dataclass each, and the only place their payloads are built.

Payloads reach browsers (and, later, integrations), so this is where the rule "events
carry masked numbers only" lives: every real number goes through `mask` here, and
nothing else in the project writes an event's data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from ..models import Chat, Delivery, Message, Participant
from ..phone import is_alphanumeric_sender, mask


@dataclass(frozen=True)
class ChatCreated:
    name: ClassVar[str] = "chat.created"
    chat: Chat
    participants: Sequence[Participant]

    @property
    def chat_id(self) -> str | None:
        return self.chat.public_id

    def payload(self) -> dict[str, Any]:
        return _chat(self.chat, self.participants)


@dataclass(frozen=True)
class ChatClosed:
    name: ClassVar[str] = "chat.closed"
    chat: Chat
    participants: Sequence[Participant]

    @property
    def chat_id(self) -> str | None:
        return self.chat.public_id

    def payload(self) -> dict[str, Any]:
        return _chat(self.chat, self.participants)


@dataclass(frozen=True)
class MessageCreated:
    """Someone wrote: a participant, staff, the system, or an unrouted sender (no chat)."""

    name: ClassVar[str] = "message.created"
    message: Message
    chat_id: str | None
    author: Participant | None = None

    def payload(self) -> dict[str, Any]:
        message, author = self.message, self.author
        data: dict[str, Any] = {
            "id": message.public_id,
            "author_kind": message.author_kind,
            "participant_id": author.public_id if author else None,
            "author": author.display_name if author else None,
            "body": message.body,
            "created_at": message.created_at.isoformat(),
        }
        if self.chat_id is None:
            # An alphanumeric sender is a company's name, not personal data: shown as sent.
            sender = message.sender_number
            data["sender"] = sender if is_alphanumeric_sender(sender) else mask(sender)
            data["proxy_number"] = message.proxy_number
        return data


@dataclass(frozen=True)
class DeliveryUpdated:
    name: ClassVar[str] = "delivery.updated"
    delivery: Delivery
    chat_id: str | None
    message_id: str | None

    def payload(self) -> dict[str, Any]:
        delivery = self.delivery
        return {
            "delivery_id": delivery.public_id,
            "message_id": self.message_id,
            "kind": delivery.kind,
            "to": mask(delivery.to_number),
            "from": delivery.from_number,
            "status": delivery.status,
            "error": delivery.error,
            "error_code": delivery.error_code,
            "ambiguous_attempts": delivery.ambiguous_attempts,
        }


@dataclass(frozen=True)
class NumberChanged:
    name: ClassVar[str] = "number.changed"
    number: str  # a proxy number: ours, not personal data
    change: str  # added, removed, enabled, disabled
    chat_id: ClassVar[str | None] = None

    def payload(self) -> dict[str, Any]:
        return {"number": self.number, "change": self.change}


@dataclass(frozen=True)
class StaffSessionsEnded:
    """A staff member's sessions ended (new password, account disabled): their open live
    sockets, in every process, close."""

    name: ClassVar[str] = "staff.sessions_ended"
    user_id: int
    chat_id: ClassVar[str | None] = None

    def payload(self) -> dict[str, Any]:
        return {"user_id": self.user_id}


DomainEvent = (
    ChatCreated | ChatClosed | MessageCreated | DeliveryUpdated | NumberChanged | StaffSessionsEnded
)
EVENT_TYPES: tuple[type[DomainEvent], ...] = (
    ChatCreated,
    ChatClosed,
    MessageCreated,
    DeliveryUpdated,
    NumberChanged,
    StaffSessionsEnded,
)
EVENT_NAMES = tuple(kind.name for kind in EVENT_TYPES)


def _chat(chat: Chat, participants: Sequence[Participant]) -> dict[str, Any]:
    return {
        "id": chat.public_id,
        "status": chat.status,
        "reference": chat.reference,
        "close_reason": chat.close_reason,
        "participants": [
            {
                "id": p.public_id,
                "name": p.display_name,
                "number": mask(p.real_number),
                "proxy_number": p.proxy_number,
            }
            for p in participants
        ],
    }
