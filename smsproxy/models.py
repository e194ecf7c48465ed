"""The tables. Numbers are E.164 strings; times are aware UTC datetimes.

API and page shapes live beside the routes that use them: these are storage only.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from .db import UTCDateTime, utcnow


def new_public_id(prefix: str) -> str:
    """Opaque ids for URLs and the API, so row counts and order do not leak."""
    return f"{prefix}_{secrets.token_hex(8)}"


def _time(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


class ChatStatus(StrEnum):
    active = "active"
    closed = "closed"


class AuthorKind(StrEnum):
    participant = "participant"
    staff = "staff"
    system = "system"
    unrouted = "unrouted"


class DeliveryStatus(StrEnum):
    queued = "queued"
    sending = "sending"
    sent = "sent"
    delivered = "delivered"
    failed = "failed"
    rejected = "rejected"
    expired = "expired"
    suppressed = "suppressed"


FINAL_DELIVERY_STATUSES = frozenset(
    {
        DeliveryStatus.delivered,
        DeliveryStatus.failed,
        DeliveryStatus.rejected,
        DeliveryStatus.expired,
        DeliveryStatus.suppressed,
    }
)


class DeliveryKind(StrEnum):
    forward = "forward"
    intro = "intro"
    goodbye = "goodbye"
    staff = "staff"
    ended_reply = "ended_reply"


class Role(StrEnum):
    admin = "admin"
    agent = "agent"


class ProxyNumber(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=20, unique=True, index=True)
    country: str = Field(max_length=2, index=True)
    label: str = Field(default="", max_length=100)
    enabled: bool = True
    created_at: datetime = _time(default_factory=utcnow)


class Chat(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(
        default_factory=lambda: new_public_id("ch"), max_length=32, unique=True, index=True
    )
    status: ChatStatus = Field(default=ChatStatus.active, max_length=16, index=True)
    reference: str | None = Field(default=None, max_length=200, index=True)
    created_at: datetime = _time(default_factory=utcnow, index=True)
    closed_at: datetime | None = _time(default=None)
    close_reason: str | None = Field(default=None, max_length=32)
    expires_at: datetime | None = _time(default=None, index=True)
    idle_ttl_seconds: int | None = None
    last_activity_at: datetime = _time(default_factory=utcnow, index=True)
    # last_activity_at + idle_ttl_seconds, kept up to date so the sweeper's query is a
    # plain indexed comparison on every database.
    idle_expires_at: datetime | None = _time(default=None, index=True)


class Participant(SQLModel, table=True):
    __table_args__ = (
        # The routing invariant: an inbound SMS from a real number to a proxy number
        # names exactly one active participant. The database enforces it, so two
        # processes creating chats at once can never hand out the same route.
        Index(
            "uq_participant_active_route",
            "real_number",
            "proxy_number",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(
        default_factory=lambda: new_public_id("pt"), max_length=32, unique=True, index=True
    )
    chat_id: int = Field(foreign_key="chat.id", index=True)
    real_number: str = Field(max_length=20, index=True)
    name: str = Field(default="", max_length=100)
    proxy_number: str = Field(max_length=20, index=True)
    active: bool = True
    opted_out: bool = False
    position: int = 0
    created_at: datetime = _time(default_factory=utcnow)

    @property
    def display_name(self) -> str:
        """The name staff gave, or "Participant N": what others see in intro SMS and
        group prefixes, and what pages show."""
        return self.name or f"Participant {self.position + 1}"


class Message(SQLModel, table=True):
    """Something someone said, once. Unrouted inbound SMS have no chat."""

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(
        default_factory=lambda: new_public_id("msg"), max_length=32, unique=True, index=True
    )
    chat_id: int | None = Field(default=None, foreign_key="chat.id", index=True)
    author_kind: AuthorKind = Field(max_length=16)
    participant_id: int | None = Field(default=None, foreign_key="participant.id")
    staff_user_id: int | None = Field(default=None, foreign_key="staffuser.id")
    sender_number: str | None = Field(default=None, max_length=20, index=True)
    proxy_number: str | None = Field(default=None, max_length=20)
    body: str = Field(sa_column=Column(Text, nullable=False))
    carrier_message_id: str | None = Field(default=None, max_length=64, unique=True)
    created_at: datetime = _time(default_factory=utcnow, index=True)


class Delivery(SQLModel, table=True):
    """One SMS to one handset. This table is the outbox."""

    __table_args__ = (Index("ix_delivery_due", "status", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(
        default_factory=lambda: new_public_id("dl"), max_length=32, unique=True, index=True
    )
    kind: DeliveryKind = Field(max_length=16)
    message_id: int | None = Field(default=None, foreign_key="message.id", index=True)
    chat_id: int | None = Field(default=None, foreign_key="chat.id", index=True)
    participant_id: int | None = Field(default=None, foreign_key="participant.id")
    from_number: str = Field(max_length=20)
    to_number: str = Field(max_length=20, index=True)
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: DeliveryStatus = Field(default=DeliveryStatus.queued, max_length=16)
    attempts: int = 0
    # Sends that got no answer (a timeout, a dropped connection): the SMS may have gone
    # out each time, so the handset may have it more than once.
    ambiguous_attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    next_attempt_at: datetime = _time(default_factory=utcnow)
    lease_until: datetime | None = _time(default=None)
    carrier_message_ids: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    error_code: str | None = Field(default=None, max_length=32)
    error: str | None = Field(default=None, max_length=500)
    created_at: datetime = _time(default_factory=utcnow)
    updated_at: datetime = _time(default_factory=utcnow)
    sent_at: datetime | None = _time(default=None)


class CarrierMessage(SQLModel, table=True):
    """A carrier message id (one per SMS part) mapped back to its delivery, for receipts."""

    carrier_message_id: str = Field(primary_key=True, max_length=64)
    delivery_id: int = Field(foreign_key="delivery.id", index=True)
    status: str = Field(default="sent", max_length=16)
    error_code: str | None = Field(default=None, max_length=32)
    updated_at: datetime = _time(default_factory=utcnow)


class InboundPart(SQLModel, table=True):
    """A part of a multipart SMS, kept until the whole message is here (or times out)."""

    __table_args__ = (
        UniqueConstraint("sender_number", "proxy_number", "concat_ref", "part_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sender_number: str = Field(max_length=20)
    proxy_number: str = Field(max_length=20)
    concat_ref: str = Field(max_length=32)
    part_number: int
    total_parts: int
    carrier_message_id: str = Field(max_length=64, unique=True)
    body: str = Field(sa_column=Column(Text, nullable=False))
    received_at: datetime = _time(default_factory=utcnow, index=True)
    # Set when the part's set went out; the row stays a day so a retried part is a duplicate.
    forwarded_at: datetime | None = _time(default=None)


class EndedNotice(SQLModel, table=True):
    """When the "conversation has ended" reply last went to a sender on a number."""

    sender_number: str = Field(primary_key=True, max_length=20)
    proxy_number: str = Field(primary_key=True, max_length=20)
    sent_at: datetime = _time()


class StaffUser(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    password_hash: str = Field(max_length=255)
    role: Role = Field(default=Role.agent, max_length=16)
    active: bool = True
    # Set for passwords someone else saw (generated by the CLI or an admin): the user
    # must choose their own before using the dashboard.
    must_change_password: bool = False
    # Part of every login cookie (with the password hash): raised to end all of a
    # user's sessions for good, as disabling them does.
    session_version: int = 0
    created_at: datetime = _time(default_factory=utcnow)
    last_login_at: datetime | None = _time(default=None)


class ChatReadMark(SQLModel, table=True):
    """How far a staff member has read a chat: the newest message shown to them there.

    Per person, so each agent's unread counts mean "new to me", whoever else looked."""

    staff_user_id: int = Field(foreign_key="staffuser.id", primary_key=True)
    chat_id: int = Field(foreign_key="chat.id", primary_key=True)
    last_message_id: int = 0
    read_at: datetime = _time(default_factory=utcnow)


class ApiKey(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=16, index=True)
    key_hash: str = Field(max_length=128, unique=True)
    created_at: datetime = _time(default_factory=utcnow)
    revoked_at: datetime | None = _time(default=None)
    last_used_at: datetime | None = _time(default=None)


class IdempotencyRecord(SQLModel, table=True):
    """A replayable answer to a POST that carried an Idempotency-Key header."""

    __table_args__ = (UniqueConstraint("api_key_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    api_key_id: int = Field(foreign_key="apikey.id")
    key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    status_code: int
    response: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    created_at: datetime = _time(default_factory=utcnow)


class AuditEvent(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _time(default_factory=utcnow, index=True)
    actor: str = Field(max_length=100)
    action: str = Field(max_length=64)
    target: str | None = Field(default=None, max_length=100)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class EventRecord(SQLModel, table=True):
    """Every live event, in order: its id is what a reconnecting browser resumes from."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=32)
    chat_public_id: str | None = Field(default=None, max_length=32, index=True)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    created_at: datetime = _time(default_factory=utcnow)


class SandboxSms(SQLModel, table=True):
    """An SMS on a simulated handset (sandbox carrier): what it got and what it sent."""

    id: int | None = Field(default=None, primary_key=True)
    handset_number: str = Field(max_length=20, index=True)
    proxy_number: str = Field(max_length=20)
    direction: str = Field(max_length=8)  # "in" to the handset, "out" from it
    body: str = Field(sa_column=Column(Text, nullable=False))
    carrier_message_id: str = Field(max_length=64, unique=True)
    created_at: datetime = _time(default_factory=utcnow)
