"""Domain events: typed in `catalog`, recorded with the change that caused them (`log`),
published after commit to live subscribers (`broker`, `redis_broker`), and, for those
integrations hear of, handed to `smsproxy.integrations` in their form (`integration`)."""

from .broker import Broker, Event, MemoryBroker
from .catalog import (
    EVENT_NAMES,
    INTEGRATION_TYPES,
    ChatClosed,
    ChatCreated,
    DeliveryUpdated,
    DomainEvent,
    MessageCreated,
    NumberChanged,
    ParticipantAdded,
    ParticipantRemoved,
    Ping,
    StaffSessionsEnded,
    WebhookEndpointsChanged,
)
from .integration import IntegrationEvent, integration_event, take_integration_events
from .log import emit, events_since, last_event_id, record, take_pending, write_pending

__all__ = [
    "EVENT_NAMES",
    "INTEGRATION_TYPES",
    "Broker",
    "ChatClosed",
    "ChatCreated",
    "DeliveryUpdated",
    "DomainEvent",
    "Event",
    "IntegrationEvent",
    "MemoryBroker",
    "MessageCreated",
    "NumberChanged",
    "ParticipantAdded",
    "ParticipantRemoved",
    "Ping",
    "StaffSessionsEnded",
    "WebhookEndpointsChanged",
    "emit",
    "events_since",
    "integration_event",
    "last_event_id",
    "record",
    "take_integration_events",
    "take_pending",
    "write_pending",
]
