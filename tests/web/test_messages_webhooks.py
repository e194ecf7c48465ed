"""The Messages API's webhooks over HTTP: signed tokens, routing, other channels, long
SMS, statuses, and bad input."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from quart import Quart
from sqlmodel import col, select

from smsproxy.app import create_app
from smsproxy.models import AuthorKind, Delivery, DeliveryKind, InboundPart, Message
from smsproxy.runtime import Runtime
from tests.conftest import make_settings
from tests.fakes.messages_api import inbound_message, message_status, signed_webhook
from tests.helpers import add_numbers, start_chat

P1 = "+447700900901"
ALICE, BOB = "+447700900101", "+447700900102"
STRANGER = "+447700900199"
SECRET = "a-signature-secret-from-the-dashboard"
INBOUND, STATUS = "/webhooks/inbound", "/webhooks/status"


@asynccontextmanager
async def app_with(database_url: str, **overrides: Any) -> AsyncIterator[Quart]:
    values = {"vonage_signature_secret": SECRET, "ended_reply": "This chat has ended.", **overrides}
    app = create_app(make_settings(database_url, **values), background=False)
    async with app.test_app():
        yield app


@pytest.fixture
async def signed_app(database_url: str) -> AsyncIterator[Quart]:
    async with app_with(database_url) as app:
        rt: Runtime = app.extensions["smsproxy"]
        await add_numbers(rt, P1)
        await start_chat(rt, (ALICE, "Rider"), (BOB, "Driver"))
        yield app


async def post(
    app: Quart, payload: dict[str, Any], path: str = INBOUND, secret: str = SECRET, **kw: Any
) -> Any:
    body, headers = signed_webhook(payload, secret, **kw)
    return await app.test_client().post(path, data=body, headers=headers)


async def stored(app: Quart) -> tuple[list[Message], list[Delivery]]:
    rt: Runtime = app.extensions["smsproxy"]
    async with rt.db.read() as session:
        messages = (await session.exec(select(Message).order_by(col(Message.id)))).all()
        deliveries = (await session.exec(select(Delivery).order_by(col(Delivery.id)))).all()
    return list(messages), list(deliveries)


async def test_a_signed_inbound_sms_is_routed(signed_app: Quart) -> None:
    payload = inbound_message(**{"from": ALICE[1:], "to": P1[1:], "text": "Where are you?"})

    response = await post(signed_app, payload)

    assert response.status_code == 204, await response.get_data(as_text=True)
    [message], [delivery] = await stored(signed_app)
    assert (message.body, message.sender_number, message.chat_id is not None) == (
        "Where are you?",
        ALICE,
        True,
    )
    assert message.carrier_message_id == payload["message_uuid"]
    assert message.carrier_api == "messages"
    assert (delivery.to_number, delivery.from_number, delivery.body) == (BOB, P1, "Where are you?")


async def test_a_retried_webhook_is_forwarded_once(signed_app: Quart) -> None:
    payload = inbound_message(**{"from": ALICE[1:], "to": P1[1:]})

    first, second = await post(signed_app, payload), await post(signed_app, payload)

    assert (first.status_code, second.status_code) == (204, 204)
    messages, deliveries = await stored(signed_app)
    assert (len(messages), len(deliveries)) == (1, 1)


async def test_a_long_sms_delivered_whole_waits_for_no_parts(signed_app: Quart) -> None:
    text = "I am stuck behind a tractor on the B-road, so I will be late. " * 5  # 3 SMS
    payload = inbound_message(
        **{"from": ALICE[1:], "to": P1[1:], "text": text, "sms": {"num_messages": "3"}}
    )

    assert (await post(signed_app, payload)).status_code == 204

    [message], [delivery] = await stored(signed_app)
    assert message.body == delivery.body == text
    rt: Runtime = signed_app.extensions["smsproxy"]
    async with rt.db.read() as session:
        assert (await session.exec(select(InboundPart))).all() == []


@pytest.mark.parametrize(
    "fields",
    [
        {"channel": "whatsapp", "text": "Hi from WhatsApp"},
        {
            "channel": "mms",
            "message_type": "image",
            "image": {"url": "https://example.com/p.jpg", "caption": "Here I am"},
        },
        {"channel": "sms", "message_type": "custom"},
    ],
    ids=["whatsapp", "mms-image", "sms-not-text"],
)
async def test_other_channels_are_kept_for_staff_unforwarded(
    signed_app: Quart, fields: dict[str, Any]
) -> None:
    payload = inbound_message(**{"from": ALICE[1:], "to": P1[1:], **fields})

    response = await post(signed_app, payload)

    assert response.status_code == 204
    [message], deliveries = await stored(signed_app)
    assert (message.chat_id, message.author_kind) == (None, AuthorKind.unrouted)
    assert deliveries == []  # not forwarded into the chat Alice has on P1


async def test_a_stranger_on_another_channel_gets_no_ended_reply(signed_app: Quart) -> None:
    whatsapp = inbound_message(**{"from": STRANGER[1:], "to": P1[1:], "channel": "whatsapp"})
    sms = inbound_message(**{"from": STRANGER[1:], "to": P1[1:]})

    assert (await post(signed_app, whatsapp)).status_code == 204
    _, deliveries = await stored(signed_app)
    assert deliveries == []
    # The same stranger by SMS does get the reply: the WhatsApp message used up nothing.
    assert (await post(signed_app, sms)).status_code == 204
    _, deliveries = await stored(signed_app)
    assert [(d.kind, d.to_number) for d in deliveries] == [(DeliveryKind.ended_reply, STRANGER)]


def tampered(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body, headers = signed_webhook(payload, SECRET)
    altered = body.replace(b'"from": "4477009', b'"from": "4477008')  # another sender
    assert altered != body
    return altered, headers


def unsigned(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body, _ = signed_webhook(payload, SECRET)
    return body, {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (unsigned, "carries no signed token"),
        (
            lambda p: signed_webhook(p, "not-the-secret-that-the-dashboard-shows"),
            "not signed with VONAGE_SIGNATURE_SECRET",
        ),
        (tampered, "does not match its token's payload_hash"),
        (lambda p: signed_webhook(p, SECRET, iat=int(time.time()) - 3600), "issued 3600 s ago"),
        (lambda p: signed_webhook(p, SECRET, payload_hash="0" * 64), "payload_hash"),
    ],
    ids=["unsigned", "wrong-secret", "tampered", "stale", "bad-hash"],
)
@pytest.mark.parametrize("path", [INBOUND, STATUS])
async def test_a_bad_token_is_refused_with_a_reason_and_changes_nothing(
    signed_app: Quart, spoil: Any, reason: str, path: str
) -> None:
    payload = inbound_message(**{"from": ALICE[1:], "to": P1[1:]})
    if path == STATUS:
        payload = message_status("delivered")
    body, headers = spoil(payload)

    response = await signed_app.test_client().post(path, data=body, headers=headers)

    assert response.status_code == 401
    error = (await response.get_json())["error"]
    assert error["code"] == "bad_signature" and reason in error["message"]
    assert await stored(signed_app) == ([], [])


async def test_without_a_secret_webhooks_are_refused_unless_allowed(database_url: str) -> None:
    payload = inbound_message(**{"from": STRANGER[1:], "to": P1[1:]})
    # With a real carrier: the sandbox's sends stay on the machine, so it takes them unsigned.
    vonage = {"carrier": "vonage", "vonage_api_key": "key", "vonage_api_secret": "secret"}
    async with app_with(database_url, vonage_signature_secret=None, **vonage) as app:
        refused = await app.test_client().post(INBOUND, json=payload)
        assert await stored(app) == ([], [])
    async with app_with(
        database_url, vonage_signature_secret=None, vonage_webhooks_unsigned="allow", **vonage
    ) as app:
        allowed = await app.test_client().post(INBOUND, json=payload)
        [message], _ = await stored(app)

    assert refused.status_code == 401
    assert "VONAGE_WEBHOOKS_UNSIGNED=allow" in (await refused.get_json())["error"]["message"]
    assert allowed.status_code == 204 and message.carrier_message_id == payload["message_uuid"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not valid JSON"),
        (b"[1, 2]", "must be an object"),
        (b'{"from": "447700900101", "to": "447700900901"}', "lacks message_uuid"),
        (
            b'{"message_uuid": "u1", "from": {"type": "sms"}, "to": "447700900901"}',
            "version 0.1",
        ),
    ],
    ids=["not-json", "array", "no-uuid", "v0.1"],
)
async def test_a_signed_but_unreadable_webhook_is_400_with_a_reason(
    signed_app: Quart, body: bytes, reason: str
) -> None:
    signed_body, headers = signed_webhook(body, SECRET)

    response = await signed_app.test_client().post(INBOUND, data=signed_body, headers=headers)

    assert response.status_code == 400
    error = (await response.get_json())["error"]
    assert error["code"] == "malformed_webhook" and reason in error["message"]
    assert await stored(signed_app) == ([], [])


async def test_a_status_for_a_message_not_ours_is_accepted_quietly(signed_app: Quart) -> None:
    response = await post(signed_app, message_status("delivered", client_ref=None), STATUS)
    assert response.status_code == 204
