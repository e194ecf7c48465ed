"""The tables. Numbers are E.164 strings; times are aware UTC datetimes.

API and page shapes live beside the routes that use them: these are storage only.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, Text, UniqueConstraint, false, text
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
    keyword_reply = "keyword_reply"  # the answer to STOP, START or HELP


class Screening:
    """What happened to a participant's text before it was forwarded (Message.screening).

    Plain strings rather than a database enum: new outcomes need no type migration."""

    redacted = "redacted"  # forwarded with contact details replaced by a marker
    held = "held"  # waiting for staff to release or reject it
    released = "released"  # held, then forwarded as written by staff's decision
    rejected = "rejected"  # held, then never forwarded
    keyword = "keyword"  # STOP, START or HELP: acted on, never forwarded


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
    # Active participants routed through this number, and chats with at least one:
    # kept by proxy.load in the transactions that open and close routes, so allocation
    # reads the pool's load from these rows instead of counting participants.
    active_routes: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    active_chats: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class Chat(SQLModel, table=True):
    __table_args__ = (
        # The retention sweep's query: closed long enough ago, bodies not yet erased.
        Index("ix_chat_retention", "bodies_erased_at", "closed_at"),
        # The chat list's "Mine" and "Unassigned" views, latest activity first.
        Index("ix_chat_assignee_activity", "assignee_id", "last_activity_at"),
        # Reports: the chats open during a period (active, or closed after its start).
        Index("ix_chat_closed_at", "closed_at"),
    )

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
    # When RETENTION_DAYS erased the texts of its messages (their metadata stays).
    bodies_erased_at: datetime | None = _time(default=None)
    # The integrator's own JSON object ("metadata" in the API), size-limited by the rules.
    custom_metadata: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    # The staff member looking after it (None: nobody yet), and since when a
    # participant's text has waited for a staff reply (None: nothing waits). Routing
    # sets the latter with the activity (proxy.activity); a staff message clears it.
    assignee_id: int | None = Field(default=None, foreign_key="staffuser.id")
    awaiting_since: datetime | None = _time(default=None, index=True)


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
    # How this person is reached: "sms" for now. Routing is by (real_number,
    # proxy_number) whatever the channel, so a WhatsApp or RCS participant can later
    # share a chat with SMS ones without a schema change.
    channel: str = Field(default="sms", max_length=16, sa_column_kwargs={"server_default": "sms"})
    active: bool = True
    opted_out: bool = False
    position: int = 0
    created_at: datetime = _time(default_factory=utcnow)

    @property
    def display_name(self) -> str:
        """The name staff gave, or "Participant N": what others see in intro SMS and
        group prefixes, and what pages show."""
        return self.name or f"Participant {self.position + 1}"


class UnroutedState(StrEnum):
    """What staff did with an unrouted SMS; none yet means it waits for them."""

    handled = "handled"  # a chat was started from it, or someone dealt with it otherwise
    dismissed = "dismissed"  # nothing to do (a wrong number, spam)


class Message(SQLModel, table=True):
    """Something someone said, once. Unrouted inbound SMS have no chat.

    `body` is the text as written, for staff, whatever was forwarded: the SMS each
    recipient got are the Delivery rows."""

    __table_args__ = (
        # Retention: messages whose body is still there, oldest first.
        Index("ix_message_retention", "erased_at", "created_at"),
        # A chat page reads its newest messages as a range of this index, however long
        # the chat, instead of sorting all of them.
        Index("ix_message_chat_time", "chat_id", "created_at", "id"),
        # The unrouted SMS still waiting for staff, which every page's navigation counts:
        # a small index however many have been dealt with. No parameter in its condition,
        # so PostgreSQL's generic plans can use it too.
        Index(
            "ix_message_unrouted_open",
            "id",
            sqlite_where=text("chat_id IS NULL AND unrouted_state IS NULL"),
            postgresql_where=text("chat_id IS NULL AND unrouted_state IS NULL"),
        ),
    )

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
    # Which Vonage API's webhook brought an inbound SMS ("sms" or "messages"; None for
    # the sandbox), and when the carrier says it came: while an account switches APIs
    # the same SMS may come once in each format, under two unrelated ids.
    carrier_api: str | None = Field(default=None, max_length=16)
    carrier_received_at: datetime | None = _time(default=None)
    created_at: datetime = _time(default_factory=utcnow, index=True)
    screening: str | None = Field(default=None, max_length=16)  # a Screening value
    # What the screening found, in words ("a phone number (written in words)"), or the
    # keyword's effect: never the contact detail itself.
    screening_note: str | None = Field(default=None, max_length=200)
    erased_at: datetime | None = _time(default=None)  # body erased (retention, erasure)
    # Unrouted SMS only: an UnroutedState value (plain text: no enum type to migrate),
    # when, by which staff member, and the chat started from it (its public id).
    unrouted_state: str | None = Field(default=None, max_length=16)
    unrouted_state_at: datetime | None = _time(default=None)
    unrouted_state_by: str | None = Field(default=None, max_length=64)
    unrouted_chat: str | None = Field(default=None, max_length=32)


class ChatNote(SQLModel, table=True):
    """A private note staff wrote on a chat: shown to staff among its messages, never
    sent as SMS, never in integration events. Its text is personal data like a
    message's, erased with the chat's texts (retention, erasure)."""

    # A chat page reads the notes beside its page of messages, as a range of this index.
    __table_args__ = (Index("ix_chatnote_chat_time", "chat_id", "created_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(
        default_factory=lambda: new_public_id("nt"), max_length=32, unique=True, index=True
    )
    chat_id: int = Field(foreign_key="chat.id")
    staff_user_id: int | None = Field(default=None, foreign_key="staffuser.id")
    # Who wrote it, as the page shows it: a username, or "API key <name>".
    author: str = Field(max_length=100)
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _time(default_factory=utcnow)
    erased_at: datetime | None = _time(default=None)


class CannedReply(SQLModel, table=True):
    """A snippet staff insert into the composer (admins keep the list)."""

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(
        default_factory=lambda: new_public_id("cr"), max_length=32, unique=True, index=True
    )
    title: str = Field(max_length=100)
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = _time(default_factory=utcnow)
    updated_at: datetime = _time(default_factory=utcnow)


class Delivery(SQLModel, table=True):
    """One SMS to one handset. This table is the outbox."""

    __table_args__ = (
        Index("ix_delivery_due", "status", "next_attempt_at"),
        # Counting the automatic replies of the last hour (AUTO_REPLIES_PER_HOUR).
        Index("ix_delivery_kind_created", "kind", "created_at"),
        # Reports: every delivery queued in a period, whatever its kind, counted by state
        # from the index alone.
        Index("ix_delivery_created", "created_at", "status", "sent_at"),
    )

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
    # True for an id that stands for the whole SMS however many parts it took (the
    # Messages API's message_uuid), False for one part's (the SMS API's message-id).
    whole_message: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    error_code: str | None = Field(default=None, max_length=32)
    error_text: str | None = Field(default=None, max_length=300)  # the carrier's own words
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
    carrier_received_at: datetime | None = _time(default=None)  # Vonage's message-timestamp
    # Set when the part's set went out; the row stays a day so a retried part is a duplicate.
    forwarded_at: datetime | None = _time(default=None)


class EndedNotice(SQLModel, table=True):
    """When the "conversation has ended" reply last went to a sender on a number."""

    sender_number: str = Field(primary_key=True, max_length=20)
    proxy_number: str = Field(primary_key=True, max_length=20)
    sent_at: datetime = _time()


class OptOut(SQLModel, table=True):
    """A real number that asked for no more SMS (STOP to any proxy number, or its
    carrier said so): no proxy number sends to it until it texts START."""

    id: int | None = Field(default=None, primary_key=True)
    number: str = Field(max_length=20, unique=True, index=True)
    source: str = Field(max_length=16)  # "keyword" or "carrier"
    keyword: str | None = Field(default=None, max_length=32)  # as matched, upper case
    proxy_number: str | None = Field(default=None, max_length=20)  # where it was said
    created_at: datetime = _time(default_factory=utcnow)


class ErasedOptOut(SQLModel, table=True):
    """An opt-out whose number was erased: kept as a keyed hash only, so that erasing
    someone never subscribes them again (see proxy/optouts.py)."""

    digest: str = Field(primary_key=True, max_length=64)
    source: str = Field(max_length=16)
    opted_out_at: datetime = _time()
    erased_at: datetime = _time(default_factory=utcnow)


class SiteKey(SQLModel, table=True):
    """Random values this installation generates once and keeps (a hashing salt)."""

    name: str = Field(primary_key=True, max_length=32)
    value: str = Field(max_length=128)


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


class ChatLabel(SQLModel, table=True):
    """A free label on a chat ("refund", "vip"), normalised by proxy.labels."""

    __table_args__ = (Index("ix_chatlabel_label", "label", "chat_id"),)

    chat_id: int = Field(foreign_key="chat.id", primary_key=True)
    label: str = Field(primary_key=True, max_length=32)


class SavedView(SQLModel, table=True):
    """A chat-list filter a staff member saved under a name (its query string)."""

    __table_args__ = (UniqueConstraint("staff_user_id", "name"),)

    id: int | None = Field(default=None, primary_key=True)
    staff_user_id: int = Field(foreign_key="staffuser.id", index=True)
    name: str = Field(max_length=64)
    query: str = Field(max_length=1000)
    created_at: datetime = _time(default_factory=utcnow)


class ApiKey(SQLModel, table=True):
    __table_args__ = (
        # Names tell keys apart (`api-keys revoke NAME`, the API keys page): no two
        # active keys share one, even when two admins create them at once.
        Index(
            "uq_apikey_active_name",
            "name",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=100)
    prefix: str = Field(max_length=16, index=True)
    key_hash: str = Field(max_length=128, unique=True)
    created_at: datetime = _time(default_factory=utcnow)
    revoked_at: datetime | None = _time(default=None)
    last_used_at: datetime | None = _time(default=None)
    # May answer participants' real numbers (POST .../reveal); granted when created.
    can_reveal: bool = Field(default=False, sa_column_kwargs={"server_default": false()})


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
    actor: str = Field(max_length=100, index=True)
    action: str = Field(max_length=64, index=True)
    target: str | None = Field(default=None, max_length=100, index=True)
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


# Integrations: endpoints that receive signed events, and their outbox.


class WebhookDeliveryStatus(StrEnum):
    queued = "queued"
    sending = "sending"
    delivered = "delivered"
    failed = "failed"
    cancelled = "cancelled"  # its endpoint was deleted, or stopped subscribing


class WebhookEndpoint(SQLModel, table=True):
    """An integrator's URL and the event types it receives. Deleted endpoints stay as
    rows (`deleted_at`, secret wiped) so that a process whose list of endpoints is a
    moment old can still write an outbox row for one without breaking its transaction."""

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(
        default_factory=lambda: new_public_id("we"), max_length=32, unique=True, index=True
    )
    url: str = Field(max_length=2000)
    description: str = Field(default="", max_length=200)
    event_types: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # The whsec_ signing secret, encrypted with a key derived from SECRET_KEY.
    secret: str = Field(sa_column=Column(Text, nullable=False))
    enabled: bool = True
    created_at: datetime = _time(default_factory=utcnow)
    updated_at: datetime = _time(default_factory=utcnow)
    failing_since: datetime | None = _time(default=None)
    last_success_at: datetime | None = _time(default=None)
    disabled_at: datetime | None = _time(default=None)
    disabled_reason: str | None = Field(default=None, max_length=500)
    deleted_at: datetime | None = _time(default=None)


class WebhookDelivery(SQLModel, table=True):
    """One event to one endpoint: the integrations outbox, written with the change that
    caused the event and sent by the webhook worker."""

    __table_args__ = (
        Index("ix_webhookdelivery_due", "status", "next_attempt_at"),
        Index("ix_webhookdelivery_endpoint", "endpoint_id", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(
        default_factory=lambda: new_public_id("whd"), max_length=32, unique=True, index=True
    )
    endpoint_id: int = Field(foreign_key="webhookendpoint.id")
    event_id: str = Field(max_length=32, index=True)
    event_type: str = Field(max_length=64)
    # The exact JSON sent, so every attempt signs and sends the same bytes.
    body: str = Field(sa_column=Column(Text, nullable=False))
    status: WebhookDeliveryStatus = Field(default=WebhookDeliveryStatus.queued, max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = _time(default_factory=utcnow)
    lease_until: datetime | None = _time(default=None)
    # Retries run until this is WEBHOOK_RETRY_SECONDS old; a resend starts it again.
    queued_at: datetime = _time(default_factory=utcnow)
    created_at: datetime = _time(default_factory=utcnow, index=True)
    updated_at: datetime = _time(default_factory=utcnow)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)


class WebhookAttempt(SQLModel, table=True):
    """One HTTP request of a delivery: what the endpoint answered, and how fast."""

    __table_args__ = (Index("ix_webhookattempt_endpoint", "endpoint_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="webhookdelivery.id", index=True)
    endpoint_id: int = Field(foreign_key="webhookendpoint.id")
    attempted_at: datetime = _time(default_factory=utcnow)
    status_code: int | None = None
    duration_ms: int = 0
    error: str | None = Field(default=None, max_length=500)
