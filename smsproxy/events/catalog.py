"""The domain events, one dataclass each, and the only place their payloads are built.

Payloads reach browsers and integrations, so this is where the rule "events carry masked
numbers only" lives: every real number goes through `mask` here (or in `shapes`, the
chat and participant shapes several events share), and nothing else in the project
writes an event's data.

Two audiences, two shapes:

- `payload()` is what live pages get (every event has one).
- `integration_payload()` is the `data` of what integrators' webhook endpoints get, for
  the events that declare an `integration` type. Integrators see public ids (chats
  `ch_…`, participants `pt_…`, messages `msg_…`, deliveries `dl_…`), masked numbers and
  stable field names: a change there is a change to a public API.

To send an event to integrations, give its class one line:

    integration: ClassVar[str | None] = "participant.opted_out"

Endpoints can then subscribe to that type, and `emit` queues it for them in the same
transaction (see `log.emit` and `smsproxy.integrations`). Its `payload()` is sent as
the data unless the class overrides `integration_payload()`, which it should when live
pages get something integrators should not rely on. An event that is an integration
event only sometimes (a message is `message.received` from a participant, never from
staff) overrides `integration_type()` and lists its types in `integration_types()`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from ..models import (
    AuthorKind,
    Chat,
    ChatNote,
    Delivery,
    DeliveryStatus,
    Message,
    Participant,
)
from ..phone import mask
from .shapes import chat_resource, live_chat, participant_resource, sender, when


class CatalogEvent:
    """What every event shares: its live name, and whether integrations hear of it."""

    name: ClassVar[str]
    integration: ClassVar[str | None] = None

    @classmethod
    def integration_types(cls) -> tuple[str, ...]:
        """Every integration type this kind of event can become."""
        return (cls.integration,) if cls.integration else ()

    def integration_type(self) -> str | None:
        """The integration type of this event, or None when integrations skip it."""
        return self.integration

    def payload(self) -> dict[str, Any]:
        raise NotImplementedError

    def integration_payload(self) -> dict[str, Any]:
        return self.payload()


@dataclass(frozen=True)
class ChatCreated(CatalogEvent):
    name: ClassVar[str] = "chat.created"
    integration: ClassVar[str | None] = "chat.created"
    chat: Chat
    participants: Sequence[Participant]

    @property
    def chat_id(self) -> str | None:
        return self.chat.public_id

    def payload(self) -> dict[str, Any]:
        return live_chat(self.chat, self.participants)

    def integration_payload(self) -> dict[str, Any]:
        return {"chat": chat_resource(self.chat, self.participants)}


@dataclass(frozen=True)
class ChatClosed(CatalogEvent):
    name: ClassVar[str] = "chat.closed"
    integration: ClassVar[str | None] = "chat.closed"
    chat: Chat
    participants: Sequence[Participant]
    assignee: str | None = None  # the username of chat.assignee_id

    @property
    def chat_id(self) -> str | None:
        return self.chat.public_id

    def payload(self) -> dict[str, Any]:
        return live_chat(self.chat, self.participants, self.assignee)

    def integration_payload(self) -> dict[str, Any]:
        resource = chat_resource(self.chat, self.participants)
        return {"chat": resource, "reason": self.chat.close_reason}


@dataclass(frozen=True)
class ChatReopened(CatalogEvent):
    """A closed chat is active again, on the routes it had (staff or the API)."""

    name: ClassVar[str] = "chat.reopened"
    integration: ClassVar[str | None] = "chat.reopened"
    chat: Chat
    participants: Sequence[Participant]

    @property
    def chat_id(self) -> str | None:
        return self.chat.public_id

    def payload(self) -> dict[str, Any]:
        return live_chat(self.chat, self.participants)

    def integration_payload(self) -> dict[str, Any]:
        return {"chat": chat_resource(self.chat, self.participants)}


@dataclass(frozen=True)
class ChatExtended(CatalogEvent):
    """A live chat's absolute expiry or idle limit changed through an extension."""

    name: ClassVar[str] = "chat.extended"
    integration: ClassVar[str | None] = "chat.extended"
    chat: Chat
    participants: Sequence[Participant]

    @property
    def chat_id(self) -> str | None:
        return self.chat.public_id

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.chat.public_id,
            "expires_at": when(self.chat.expires_at),
            "ttl_seconds": self.chat.idle_ttl_seconds,
            "idle_expires_at": when(self.chat.idle_expires_at),
        }

    def integration_payload(self) -> dict[str, Any]:
        return {"chat": chat_resource(self.chat, self.participants)}


@dataclass(frozen=True)
class MessageCreated(CatalogEvent):
    """Someone wrote: a participant, staff, the system, or an unrouted sender (no chat).

    Integrations hear of the first (`message.received`) and the last
    (`message.unrouted`): what people wrote, not what the service or staff sent."""

    name: ClassVar[str] = "message.created"
    message: Message
    chat_id: str | None
    author: Participant | None = None

    @classmethod
    def integration_types(cls) -> tuple[str, ...]:
        return ("message.received", "message.unrouted")

    def integration_type(self) -> str | None:
        kind = self.message.author_kind
        if kind == AuthorKind.participant and self.author is not None:
            return "message.received"
        if kind == AuthorKind.unrouted and self.chat_id is None:
            return "message.unrouted"
        return None

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
            data["sender"] = sender(message.sender_number)
            data["proxy_number"] = message.proxy_number
        return data

    def integration_payload(self) -> dict[str, Any]:
        message, author = self.message, self.author
        data: dict[str, Any] = {
            "message_id": message.public_id,
            "text": message.body,
            "received_at": when(message.created_at),
            # redacted, held, keyword ... or None: forwarded as written.
            "screening": message.screening,
        }
        if self.integration_type() == "message.unrouted":
            data["sender"] = sender(message.sender_number)
            data["proxy_number"] = message.proxy_number
            return data
        assert author is not None
        data["chat_id"] = self.chat_id
        data["participant"] = participant_resource(author)
        return data


@dataclass(frozen=True)
class MessageHeld(CatalogEvent):
    """A participant's text with contact details in it waits for staff
    (CONTACT_POLICY=hold): nothing of it is forwarded until someone releases it."""

    name: ClassVar[str] = "message.held"
    integration: ClassVar[str | None] = "message.held"
    message: Message
    chat_id: str | None
    author: Participant | None = None

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.message.public_id,
            "chat_id": self.chat_id,
            "participant_id": self.author.public_id if self.author else None,
            "author": self.author.display_name if self.author else None,
            "found": self.message.screening_note,
            "created_at": self.message.created_at.isoformat(),
        }


@dataclass(frozen=True)
class MessageReleased(CatalogEvent):
    """Staff released a held text: it is forwarded, as written, to `recipients` people."""

    name: ClassVar[str] = "message.released"
    integration: ClassVar[str | None] = "message.released"
    message: Message
    chat_id: str | None
    actor: str  # "staff:<username>" or "api_key:<prefix>"
    recipients: int

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.message.public_id,
            "chat_id": self.chat_id,
            "released_by": self.actor,
            "recipients": self.recipients,
            "found": self.message.screening_note,
        }


@dataclass(frozen=True)
class MessageRejected(CatalogEvent):
    """Staff rejected a held text: it is never forwarded."""

    name: ClassVar[str] = "message.rejected"
    integration: ClassVar[str | None] = "message.rejected"
    message: Message
    chat_id: str | None
    actor: str

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.message.public_id,
            "chat_id": self.chat_id,
            "rejected_by": self.actor,
            "found": self.message.screening_note,
        }


@dataclass(frozen=True)
class ParticipantOptedOut(CatalogEvent):
    """A real number asked for no more SMS (a STOP keyword to any proxy number, or its
    carrier said so): no proxy number sends to it any more. One event per chat the
    number is active in, or one without a chat when it is in none."""

    name: ClassVar[str] = "participant.opted_out"
    integration: ClassVar[str | None] = "participant.opted_out"
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
class ParticipantOptedIn(CatalogEvent):
    """A real number that had opted out texted START: it gets SMS again."""

    name: ClassVar[str] = "participant.opted_in"
    integration: ClassVar[str | None] = "participant.opted_in"
    number: str
    chat_id: str | None
    participant: Participant | None
    source: str
    keyword: str | None
    proxy_number: str | None
    at: datetime

    def payload(self) -> dict[str, Any]:
        return _opt_change(self)


# What integrators see of a delivery's state: the four that matter to them.
INTEGRATION_DELIVERY_STATUS = {
    DeliveryStatus.queued: "queued",
    DeliveryStatus.sent: "sent",
    DeliveryStatus.delivered: "delivered",
    DeliveryStatus.failed: "failed",
    DeliveryStatus.rejected: "failed",
    DeliveryStatus.expired: "failed",
    DeliveryStatus.suppressed: "failed",
}


@dataclass(frozen=True)
class DeliveryUpdated(CatalogEvent):
    name: ClassVar[str] = "delivery.updated"
    delivery: Delivery
    chat_id: str | None
    message_id: str | None
    participant_id: str | None = None  # the recipient's public id, when a participant

    @classmethod
    def integration_types(cls) -> tuple[str, ...]:
        return ("delivery.updated",)

    def integration_type(self) -> str | None:
        # "sending" is a worker holding the row, not news.
        if DeliveryStatus(self.delivery.status) in INTEGRATION_DELIVERY_STATUS:
            return "delivery.updated"
        return None

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

    def integration_payload(self) -> dict[str, Any]:
        delivery = self.delivery
        status = DeliveryStatus(delivery.status)
        return {
            "delivery_id": delivery.public_id,
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "participant_id": self.participant_id,
            "kind": delivery.kind,
            "to": mask(delivery.to_number),
            "from_number": delivery.from_number,
            "status": INTEGRATION_DELIVERY_STATUS[status],
            "carrier_status": status.value,
            "reason": delivery.error,
            "error_code": delivery.error_code,
        }


@dataclass(frozen=True)
class ParticipantAdded(CatalogEvent):
    """Someone joined a live chat (through the API or the dashboard)."""

    name: ClassVar[str] = "participant.added"
    integration: ClassVar[str | None] = "participant.added"
    chat: Chat
    participant: Participant

    @property
    def chat_id(self) -> str | None:
        return self.chat.public_id

    def payload(self) -> dict[str, Any]:
        return {
            "chat_id": self.chat.public_id,
            "participant": participant_resource(self.participant),
        }


@dataclass(frozen=True)
class ParticipantRemoved(CatalogEvent):
    """Someone left a live chat: their route is free again."""

    name: ClassVar[str] = "participant.removed"
    integration: ClassVar[str | None] = "participant.removed"
    chat: Chat
    participant: Participant

    @property
    def chat_id(self) -> str | None:
        return self.chat.public_id

    def payload(self) -> dict[str, Any]:
        return {
            "chat_id": self.chat.public_id,
            "participant": participant_resource(self.participant),
        }


@dataclass(frozen=True)
class ChatRead(CatalogEvent):
    """A staff member read a chat past messages that were unread to them: their unread
    count there changed, in every tab they have open. Counts are per person, so pages
    of other staff members ignore it."""

    name: ClassVar[str] = "chat.read"
    chat_id: str | None
    staff_user_id: int

    def payload(self) -> dict[str, Any]:
        return {"staff_user_id": self.staff_user_id}


@dataclass(frozen=True)
class ChatAssigned(CatalogEvent):
    """A chat was taken, given to a colleague or left to nobody (`assignee` None)."""

    name: ClassVar[str] = "chat.assigned"
    chat: Chat
    participants: Sequence[Participant]
    assignee: str | None  # the username of chat.assignee_id
    by: str  # "staff:<username>" or "api_key:<prefix>"

    @property
    def chat_id(self) -> str | None:
        return self.chat.public_id

    def payload(self) -> dict[str, Any]:
        return {**live_chat(self.chat, self.participants, self.assignee), "by": self.by}


@dataclass(frozen=True)
class ChatLabelled(CatalogEvent):
    """A chat's labels changed: `labels` is the whole new set, sorted."""

    name: ClassVar[str] = "chat.labelled"
    chat_id: str | None
    labels: Sequence[str]
    by: str

    def payload(self) -> dict[str, Any]:
        return {"labels": list(self.labels), "by": self.by}


@dataclass(frozen=True)
class NoteCreated(CatalogEvent):
    """Staff kept a private note on a chat. Staff pages only: no integration type, so
    integrators never hear of it, and no text, which live pages fetch (the note's own
    page fragment), so the event log never holds it."""

    name: ClassVar[str] = "note.created"
    note: ChatNote
    chat_id: str | None

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.note.public_id,
            "author": self.note.author,
            "created_at": self.note.created_at.isoformat(),
        }


@dataclass(frozen=True)
class UnroutedUpdated(CatalogEvent):
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
class NumberChanged(CatalogEvent):
    name: ClassVar[str] = "number.changed"
    number: str  # a proxy number: ours, not personal data
    change: str  # added, removed, enabled, disabled
    chat_id: ClassVar[str | None] = None

    def payload(self) -> dict[str, Any]:
        return {"number": self.number, "change": self.change}


@dataclass(frozen=True)
class StaffSessionsEnded(CatalogEvent):
    """A staff member's sessions ended (new password, account disabled): their open live
    sockets, in every process, close."""

    name: ClassVar[str] = "staff.sessions_ended"
    user_id: int
    chat_id: ClassVar[str | None] = None

    def payload(self) -> dict[str, Any]:
        return {"user_id": self.user_id}


@dataclass(frozen=True)
class WebhookEndpointsChanged(CatalogEvent):
    """An integration endpoint was added, changed or removed: every process reloads the
    list it fans events out to."""

    name: ClassVar[str] = "webhook_endpoint.changed"
    endpoint_id: str
    change: str  # created, updated, enabled, disabled, deleted
    chat_id: ClassVar[str | None] = None

    def payload(self) -> dict[str, Any]:
        return {"endpoint_id": self.endpoint_id, "change": self.change}


@dataclass(frozen=True)
class Ping(CatalogEvent):
    """A test event, sent on request to one endpoint only: never emitted, never live."""

    name: ClassVar[str] = "ping"
    integration: ClassVar[str | None] = "ping"
    endpoint_id: str

    def payload(self) -> dict[str, Any]:
        return {
            "endpoint_id": self.endpoint_id,
            "message": "A test event from smsproxy: the endpoint is reachable and verifies.",
        }


DomainEvent = (
    ChatCreated
    | ChatClosed
    | ChatReopened
    | ChatExtended
    | MessageCreated
    | MessageHeld
    | MessageReleased
    | MessageRejected
    | ParticipantOptedOut
    | ParticipantOptedIn
    | DeliveryUpdated
    | ChatRead
    | ChatAssigned
    | ChatLabelled
    | NoteCreated
    | UnroutedUpdated
    | ParticipantAdded
    | ParticipantRemoved
    | NumberChanged
    | StaffSessionsEnded
    | WebhookEndpointsChanged
)
EVENT_TYPES: tuple[type[DomainEvent], ...] = (
    ChatCreated,
    ChatClosed,
    ChatReopened,
    ChatExtended,
    MessageCreated,
    MessageHeld,
    MessageReleased,
    MessageRejected,
    ParticipantOptedOut,
    ParticipantOptedIn,
    DeliveryUpdated,
    ChatRead,
    ChatAssigned,
    ChatLabelled,
    NoteCreated,
    UnroutedUpdated,
    ParticipantAdded,
    ParticipantRemoved,
    NumberChanged,
    StaffSessionsEnded,
    WebhookEndpointsChanged,
)
EVENT_NAMES = tuple(kind.name for kind in EVENT_TYPES)
# What an endpoint may subscribe to, in catalog order (`ping` goes to one on request).
INTEGRATION_TYPES = tuple(
    dict.fromkeys(name for kind in EVENT_TYPES for name in kind.integration_types())
)


def _opt_change(event: ParticipantOptedOut | ParticipantOptedIn) -> dict[str, Any]:
    participant = event.participant
    return {
        "number": mask(event.number),
        "chat_id": event.chat_id,
        "participant_id": participant.public_id if participant else None,
        "participant": participant.display_name if participant else None,
        "source": event.source,
        "keyword": event.keyword,
        "proxy_number": event.proxy_number,
        "at": event.at.isoformat(),
    }
