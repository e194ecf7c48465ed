"""Domain events: typed in `catalog`, recorded with the change that caused them (`log`),
published after commit to live subscribers (`broker`, `redis_broker`)."""

from .broker import Broker, Event, MemoryBroker
from .catalog import (
    EVENT_NAMES,
    ChatClosed,
    ChatCreated,
    ChatRead,
    DeliveryUpdated,
    DomainEvent,
    MessageCreated,
    MessageHeld,
    MessageRejected,
    MessageReleased,
    NumberChanged,
    ParticipantOptedIn,
    ParticipantOptedOut,
    StaffSessionsEnded,
    UnroutedUpdated,
)
from .log import emit, events_since, last_event_id, record, take_pending, write_pending

__all__ = [
    "EVENT_NAMES",
    "Broker",
    "ChatClosed",
    "ChatCreated",
    "ChatRead",
    "DeliveryUpdated",
    "DomainEvent",
    "Event",
    "MemoryBroker",
    "MessageCreated",
    "MessageHeld",
    "MessageRejected",
    "MessageReleased",
    "NumberChanged",
    "ParticipantOptedIn",
    "ParticipantOptedOut",
    "StaffSessionsEnded",
    "UnroutedUpdated",
    "emit",
    "events_since",
    "last_event_id",
    "record",
    "take_pending",
    "write_pending",
]
