"""The domain events, one dataclass each, and the only place their payloads are built.

Payloads reach browsers (and, later, integrations), so this is where the rule "events
carry masked numbers only" lives: every real number goes through `mask` here, and
nothing else in the project writes an event's data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
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
            # What the contact guard or a keyword did with it (None: forwarded as written).
            "screening": message.screening,
            "screening_note": message.screening_note,
        }
        if self.chat_id is None:
            # An alphanumeric sender is a company's name, not personal data: shown as sent.
            sender = message.sender_number
            data["sender"] = sender if is_alphanumeric_sender(sender) else mask(sender)
            data["proxy_number"] = message.proxy_number
        return data


@dataclass(frozen=True)
class MessageHeld:
    """A participant's text with contact details in it waits for staff
    (CONTACT_POLICY=hold): nothing of it is forwarded until someone releases it."""

    name: ClassVar[str] = "message.held"
    message: Message
    chat_id: str | None
    author: Participant | None = None

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.message.public_id,
            "participant_id": self.author.public_id if self.author else None,
            "author": self.author.display_name if self.author else None,
            "found": self.message.screening_note,
            "created_at": self.message.created_at.isoformat(),
        }


@dataclass(frozen=True)
class MessageReleased:
    """Staff released a held text: it is forwarded, as written, to `recipients` people."""

    name: ClassVar[str] = "message.released"
    message: Message
    chat_id: str | None
    actor: str  # "staff:<username>" or "api_key:<prefix>"
    recipients: int

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.message.public_id,
            "released_by": self.actor,
            "recipients": self.recipients,
            "found": self.message.screening_note,
        }


@dataclass(frozen=True)
class MessageRejected:
    """Staff rejected a held text: it is never forwarded."""

    name: ClassVar[str] = "message.rejected"
    message: Message
    chat_id: str | None
    actor: str

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.message.public_id,
            "rejected_by": self.actor,
            "found": self.message.screening_note,
        }


@dataclass(frozen=True)
class ParticipantOptedOut:
    """A real number asked for no more SMS (a STOP keyword to any proxy number, or its
    carrier said so): no proxy number sends to it any more. One event per chat the
    number is active in, or one without a chat when it is in none."""

    name: ClassVar[str] = "participant.opted_out"
    number: str
    chat_id: str | None
    participant: Participant | None
    source: str  # "keyword" or "carrier"
    keyword: str | None
    proxy_number: str | None  # the number the keyword was texted to
    at: datetime

    def payload(self) -> dict[str, Any]:
        return _opt_change(self)


@dataclass(frozen=True)
class ParticipantOptedIn:
    """A real number that had opted out texted START: it gets SMS again."""

    name: ClassVar[str] = "participant.opted_in"
    number: str
    chat_id: str | None
    participant: Participant | None
    source: str
    keyword: str | None
    proxy_number: str | None
    at: datetime

    def payload(self) -> dict[str, Any]:
        return _opt_change(self)


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
        }


@dataclass(frozen=True)
class ChatRead:
    """A staff member read a chat past messages that were unread to them: their unread
    count there changed, in every tab they have open. Counts are per person, so pages
    of other staff members ignore it."""

    name: ClassVar[str] = "chat.read"
    chat_id: str | None
    staff_user_id: int

    def payload(self) -> dict[str, Any]:
        return {"staff_user_id": self.staff_user_id}


@dataclass(frozen=True)
class UnroutedUpdated:
    """Staff dealt with an unrouted SMS (handled, dismissed) or opened it again. Not an
    event of any chat: a chat started from it has its own chat.created."""

    name: ClassVar[str] = "unrouted.updated"
    message: Message
    chat_id: ClassVar[str | None] = None

    def payload(self) -> dict[str, Any]:
        message = self.message
        return {
            "id": message.public_id,
            "state": message.unrouted_state,  # "handled", "dismissed", or None: waiting
            "chat": message.unrouted_chat,  # the chat started from it, if any
            "by": message.unrouted_state_by,  # a staff username
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
    ChatCreated
    | ChatClosed
    | MessageCreated
    | MessageHeld
    | MessageReleased
    | MessageRejected
    | ParticipantOptedOut
    | ParticipantOptedIn
    | DeliveryUpdated
    | ChatRead
    | UnroutedUpdated
    | NumberChanged
    | StaffSessionsEnded
)
EVENT_TYPES: tuple[type[DomainEvent], ...] = (
    ChatCreated,
    ChatClosed,
    MessageCreated,
    MessageHeld,
    MessageReleased,
    MessageRejected,
    ParticipantOptedOut,
    ParticipantOptedIn,
    DeliveryUpdated,
    ChatRead,
    UnroutedUpdated,
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
                "opted_out": p.opted_out,
            }
            for p in participants
        ],
    }


def _opt_change(event: ParticipantOptedOut | ParticipantOptedIn) -> dict[str, Any]:
    participant = event.participant
    return {
        "number": mask(event.number),
        "participant_id": participant.public_id if participant else None,
        "participant": participant.display_name if participant else None,
        "source": event.source,
        "keyword": event.keyword,
        "proxy_number": event.proxy_number,
        "at": event.at.isoformat(),
    }
