"""Integration events come from the catalog: which events integrators hear of, the
shape of what they get (public ids, masked numbers), and the one line that makes
another catalog event one of them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from smsproxy import events
from smsproxy.events.catalog import CatalogEvent
from smsproxy.events.integration import integration_event
from smsproxy.models import (
    AuthorKind,
    Chat,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Message,
    Participant,
)

RIDER, DRIVER = "+447700900001", "+447700900002"


def people(chat: Chat) -> list[Participant]:
    return [
        Participant(chat_id=1, real_number=RIDER, name="Rider", proxy_number="+447700900901"),
        Participant(chat_id=1, real_number=DRIVER, proxy_number="+447700900902", position=1),
    ]


def data_of(event: CatalogEvent) -> dict[str, Any]:
    found = integration_event(event)
    assert found is not None
    body = found.body()
    for number in (RIDER, DRIVER, RIDER[1:], DRIVER[1:]):
        assert number not in body, f"{number} unmasked in {found.type}"
    envelope = json.loads(body)
    assert envelope["id"] == found.id and found.id.startswith("evt_")
    assert envelope["type"] == found.type and envelope["timestamp"].endswith("Z")
    value: dict[str, Any] = envelope["data"]
    return value


def test_the_types_integrators_can_subscribe_to() -> None:
    assert events.INTEGRATION_TYPES == (
        "chat.created",
        "chat.closed",
        "chat.reopened",
        "chat.extended",
        "message.received",
        "message.unrouted",
        "message.held",
        "message.released",
        "message.rejected",
        "participant.opted_out",
        "participant.opted_in",
        "delivery.updated",
        "participant.added",
        "participant.removed",
    )


def test_chat_events_carry_the_chat_as_the_api_shows_it() -> None:
    chat = Chat(reference="booking-42", custom_metadata={"driver": 7})
    created = data_of(events.ChatCreated(chat, people(chat)))
    assert created["chat"]["id"] == chat.public_id and created["chat"]["metadata"] == {"driver": 7}
    rider, driver = created["chat"]["participants"]
    assert rider["number"] == "+44770•••••01" and rider["proxy_number"] == "+447700900901"
    assert (rider["name"], driver["name"]) == ("Rider", "Participant 2")
    for kind in (events.ChatReopened, events.ChatExtended):
        again = data_of(kind(chat, people(chat)))
        assert again["chat"]["id"] == chat.public_id
        assert again["chat"]["participants"][0]["number"] == "+44770•••••01"
    chat.close_reason = "expired"
    closed = data_of(events.ChatClosed(chat, people(chat)))
    assert closed["reason"] == "expired" and closed["chat"]["close_reason"] == "expired"


def test_only_what_people_wrote_is_a_message_event() -> None:
    chat = Chat()
    author = people(chat)[0]
    written = Message(chat_id=1, author_kind=AuthorKind.participant, body="Where are you?")
    received = events.MessageCreated(written, chat.public_id, author)
    assert received.integration_type() == "message.received"
    data = data_of(received)
    assert (data["text"], data["chat_id"]) == ("Where are you?", chat.public_id)
    assert data["participant"]["id"] == author.public_id

    staff = Message(chat_id=1, author_kind=AuthorKind.staff, body="From the office")
    system = Message(chat_id=1, author_kind=AuthorKind.system, body="Welcome")
    assert events.MessageCreated(staff, chat.public_id).integration_type() is None
    assert integration_event(events.MessageCreated(system, chat.public_id)) is None

    stray = Message(
        author_kind=AuthorKind.unrouted,
        body="Hello?",
        sender_number=RIDER,
        proxy_number="+447700900901",
    )
    unrouted = data_of(events.MessageCreated(stray, None))
    assert unrouted["sender"] == "+44770•••••01" and unrouted["text"] == "Hello?"
    stray.sender_number = "MyBank"  # a company's sender ID is no one's number
    assert data_of(events.MessageCreated(stray, None))["sender"] == "MyBank"


def test_delivery_updates_say_queued_sent_delivered_or_failed_with_the_reason() -> None:
    delivery = Delivery(
        kind=DeliveryKind.forward, from_number="+447700900901", to_number=DRIVER, body="x"
    )
    update = events.DeliveryUpdated(delivery, "ch_1", "msg_1", "pt_1")
    seen = {}
    for status in DeliveryStatus:
        delivery.status = status
        seen[status.value] = data_of(update)["status"] if update.integration_type() else None
    assert seen == {
        "queued": "queued",
        "sending": None,  # a worker holding the row is not news
        "sent": "sent",
        "delivered": "delivered",
        "failed": "failed",
        "rejected": "failed",
        "expired": "failed",
        "suppressed": "failed",
    }
    delivery.status, delivery.error = DeliveryStatus.rejected, "Unknown handset"
    data = data_of(update)
    assert (data["reason"], data["carrier_status"]) == ("Unknown handset", "rejected")
    assert (data["chat_id"], data["message_id"], data["participant_id"]) == (
        "ch_1",
        "msg_1",
        "pt_1",
    )
    assert data["to"] == "+44770•••••02"


@dataclass(frozen=True)
class OptedOut(CatalogEvent):
    """What another branch adds: an event integrators should hear of, in one line."""

    name: ClassVar[str] = "participant.opted_out"
    integration: ClassVar[str | None] = "participant.opted_out"
    participant_id: str
    chat_id: ClassVar[str | None] = None

    def payload(self) -> dict[str, Any]:
        return {"participant_id": self.participant_id}


def test_one_line_makes_a_catalog_event_an_integration_event() -> None:
    assert OptedOut.integration_types() == ("participant.opted_out",)
    found = integration_event(OptedOut("pt_1"))
    assert found is not None and found.type == "participant.opted_out"
    assert found.data == {"participant_id": "pt_1"}  # its payload(), unless it says otherwise
    assert integration_event(events.NumberChanged("+447700900901", "added")) is None
