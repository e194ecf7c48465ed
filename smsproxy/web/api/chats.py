"""Chats through the API: create, list, read, transcript, close."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from quart import request
from quart_rate_limiter import rate_limit
from quart_schema import (
    document_request,
    validate_querystring,
    validate_request,
    validate_response,
)

from ...models import ChatStatus, Delivery, Participant
from ...phone import mask
from ...proxy import queries
from ...proxy.chats import ChatSpec, NewParticipant, close_chat, create_chat
from ...proxy.edits import MAX_METADATA_BYTES
from ...proxy.queries import ChatView
from ...proxy.screening import FORWARD_CAP, is_capped
from ...proxy.transcripts import TranscriptEntry, transcript
from .. import services
from .base import API_LIMITS, actor, api_key_required, blueprint, current_key, optional_body
from .idempotency import idempotent


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ParticipantIn(Strict):
    number: str = Field(max_length=40, description="Real phone number, any common format")
    name: str = Field("", max_length=100, description="Display name used in intro SMS")


class ChatCreate(Strict):
    participants: list[ParticipantIn] = Field(min_length=2, max_length=10)
    reference: str | None = Field(None, max_length=200, description="Your booking/order id")
    ttl_seconds: int | None = Field(
        None, ge=60, le=366 * 86400, description="Close after this long without messages"
    )
    expires_at: AwareDatetime | None = Field(None, description="Close at this time")
    intro: bool = Field(True, description="Send each participant an intro SMS")
    metadata: dict[str, Any] | None = Field(
        None,
        description=f"Your own JSON object (at most {MAX_METADATA_BYTES} bytes as JSON)",
    )


class ParticipantOut(BaseModel):
    id: str
    name: str
    number: str = Field(description="The real number, masked")
    proxy_number: str = Field(description="The number this participant texts")
    active: bool
    # Defaulted, so answers stored for Idempotency-Key replays before they existed validate.
    channel: str = Field("sms", description='How the participant is reached: "sms"')
    opted_out: bool = Field(
        False, description="The number texted STOP (to any proxy number): it gets no SMS from any"
    )


class ChatOut(BaseModel):
    id: str
    status: ChatStatus
    reference: str | None
    created_at: datetime
    last_activity_at: datetime
    expires_at: datetime | None
    ttl_seconds: int | None
    closed_at: datetime | None
    close_reason: str | None
    # Defaulted, so answers stored for Idempotency-Key replays before it existed validate.
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Your own JSON object ({} when none)"
    )
    participants: list[ParticipantOut]


def participant_out(p: Participant) -> ParticipantOut:
    return ParticipantOut(
        id=p.public_id,
        name=p.display_name,
        number=mask(p.real_number),
        proxy_number=p.proxy_number,
        channel=p.channel,
        active=p.active,
        opted_out=p.opted_out,
    )


def chat_out(view: ChatView) -> ChatOut:
    chat = view.chat
    return ChatOut(
        id=chat.public_id,
        status=chat.status,
        reference=chat.reference,
        created_at=chat.created_at,
        last_activity_at=chat.last_activity_at,
        expires_at=chat.expires_at,
        ttl_seconds=chat.idle_ttl_seconds,
        closed_at=chat.closed_at,
        close_reason=chat.close_reason,
        metadata=chat.custom_metadata or {},
        participants=[participant_out(p) for p in view.participants],
    )


@blueprint.post("/chats")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_request(ChatCreate)
@validate_response(ChatOut, 201)
async def post_chat(data: ChatCreate) -> tuple[Any, ...]:
    """Create a chat: each participant gets a proxy number to text."""
    svc = services()
    spec = ChatSpec(
        participants=[NewParticipant(p.number, p.name) for p in data.participants],
        reference=data.reference,
        ttl_seconds=data.ttl_seconds,
        expires_at=data.expires_at,
        intro=data.intro,
        metadata=data.metadata,
    )

    async def create(session: Any) -> tuple[dict[str, Any], int]:
        view = await create_chat(
            session,
            spec,
            templates=svc.templates,
            actor=actor(),
            default_region=svc.settings.default_region,
        )
        return chat_out(view).model_dump(mode="json"), 201

    key = request.headers.get("Idempotency-Key")
    return await idempotent(svc.db, current_key(), key, data.model_dump(mode="json"), create)


class ChatQuery(Strict):
    status: Literal["active", "closed"] | None = None
    reference: str | None = Field(None, max_length=200)
    cursor: str | None = Field(None, max_length=100)
    limit: int = Field(50, ge=1, le=200)


class ChatPage(BaseModel):
    chats: list[ChatOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page")


@blueprint.get("/chats")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_querystring(ChatQuery)
@validate_response(ChatPage)
async def get_chats(query_args: ChatQuery) -> ChatPage:
    """List chats, newest first, filtered by status and reference."""
    async with services().db.read() as session:
        views, next_cursor = await queries.list_chats(
            session,
            status=ChatStatus(query_args.status) if query_args.status else None,
            reference=query_args.reference,
            cursor=query_args.cursor,
            limit=query_args.limit,
        )
    return ChatPage(chats=[chat_out(v) for v in views], next_cursor=next_cursor)


@blueprint.get("/chats/<chat_id>")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_response(ChatOut)
async def get_chat(chat_id: str) -> ChatOut:
    """One chat with its participants and their proxy numbers."""
    async with services().db.read() as session:
        return chat_out(await queries.get_chat(session, chat_id))


class DeliveryOut(BaseModel):
    id: str
    kind: str
    to: str = Field(description="Recipient, masked")
    from_number: str
    status: str
    attempts: int
    ambiguous_attempts: int = Field(
        description="Sends the carrier never answered (a timeout, a dropped connection): "
        "each may have reached the recipient, so they may have the SMS more than once"
    )
    error_code: str | None
    error: str | None
    updated_at: datetime


class MessageOut(BaseModel):
    id: str
    author_kind: str
    participant_id: str | None
    author: str | None
    body: str = Field(description="The text as written (empty once erased)")
    # The fields below are defaulted for the same reason as ParticipantOut.opted_out.
    created_at: datetime
    screening: Literal["redacted", "held", "released", "rejected", "keyword"] | None = Field(
        None,
        description=(
            "What happened to a participant's text before forwarding: redacted (sent "
            "without contact details), held (waits for staff), released, rejected, or "
            "keyword (STOP, START or HELP: acted on, not forwarded); null: as written"
        ),
    )
    screening_note: str | None = Field(
        None,
        description="What was found (never the contact detail itself), or the keyword's effect",
    )
    forwarded_cut: bool = Field(
        False,
        description=f"The text is longer than {FORWARD_CAP} characters: only that much went on",
    )
    erased_at: datetime | None = Field(None, description="When the text was erased (retention)")
    deliveries: list[DeliveryOut]


class MessagePage(BaseModel):
    messages: list[MessageOut]


def delivery_out(delivery: Delivery) -> DeliveryOut:
    return DeliveryOut(
        id=delivery.public_id,
        kind=delivery.kind,
        to=mask(delivery.to_number),
        from_number=delivery.from_number,
        status=delivery.status,
        attempts=delivery.attempts,
        ambiguous_attempts=delivery.ambiguous_attempts,
        error_code=delivery.error_code,
        error=delivery.error,
        updated_at=delivery.updated_at,
    )


def message_out(entry: TranscriptEntry) -> MessageOut:
    message = entry.message
    return MessageOut(
        id=message.public_id,
        author_kind=message.author_kind,
        participant_id=entry.author.public_id if entry.author else None,
        author=entry.author.display_name if entry.author else None,
        body=message.body,
        created_at=message.created_at,
        screening=message.screening,
        screening_note=message.screening_note,
        forwarded_cut=message.author_kind == "participant" and is_capped(message.body),
        erased_at=message.erased_at,
        deliveries=[delivery_out(d) for d in entry.deliveries],
    )


@blueprint.get("/chats/<chat_id>/messages")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_response(MessagePage)
async def get_chat_messages(chat_id: str) -> MessagePage:
    """The transcript: every message with the state of each SMS it caused."""
    async with services().db.read() as session:
        view = await queries.get_chat(session, chat_id)
        entries = await transcript(session, view)
    return MessagePage(messages=[message_out(e) for e in entries])


class ChatClose(Strict):
    goodbye: bool = Field(True, description="Send each participant the goodbye SMS")


@blueprint.post("/chats/<chat_id>/close")
@rate_limit(limits=API_LIMITS)
@api_key_required
@document_request(ChatClose)
@validate_response(ChatOut)
async def post_chat_close(chat_id: str) -> ChatOut:
    """Close a chat: its routes are freed at once. Closing a closed chat changes nothing.

    The body is optional: no body means `{"goodbye": true}`.
    """
    data = await optional_body(ChatClose)
    svc = services()
    async with svc.db.transaction() as session:
        view = await queries.get_chat(session, chat_id)
        await close_chat(
            session,
            view.chat,
            reason="api",
            actor=actor(),
            goodbye=data.goodbye,
            templates=svc.templates,
        )
        view = await queries.get_chat(session, chat_id)
    return chat_out(view)
