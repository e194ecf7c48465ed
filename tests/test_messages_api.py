"""A deployment on the Messages API, end to end: signed webhooks in, the real SDK out to
the fake Vonage over TLS (which checks every request's application JWT), statuses back.
And an account switching between the SMS API and the Messages API mid-conversation,
webhooks of both formats interleaved: nothing lost, nothing twice."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from quart import Quart
from sqlmodel import col, select

from smsproxy.app import create_app
from smsproxy.models import Delivery, DeliveryStatus, Message
from smsproxy.runtime import Runtime
from tests.conftest import make_settings
from tests.fakes.messages_api import MessagesRequest, inbound_message, message_status
from tests.fakes.messages_api import signed_webhook as signed_messages_webhook
from tests.fakes.sms_api import SmsRequest, signed_params
from tests.helpers import add_numbers, auth, create_api_key

if TYPE_CHECKING:
    from tests.fakes.vonage_server import FakeVonage

pytest_plugins = ["tests.fakes.vonage_server"]

P1 = "+447700900901"
ALICE, BOB = "+447700900101", "+447700900102"
SECRET = "the-account-signature-secret-0123456789"


@asynccontextmanager
async def vonage_app(database_url: str, fake: FakeVonage, api: str) -> AsyncIterator[Quart]:
    """The app sending through `api`, with both sets of credentials (as during a switch)
    and the account's signature secret, so every webhook must be signed."""
    values = {
        **fake.settings("sms"),
        **fake.settings("messages"),
        "vonage_api": api,
        "vonage_signature_secret": SECRET,
        "vonage_timeout_seconds": 2,
        "intro_template": "You are connected with {other}.",
        "goodbye_template": "Goodbye.",
        "ended_reply": "This chat has ended.",
    }
    app = create_app(make_settings(database_url, **values), background=False)
    async with app.test_app():
        yield app


def runtime(app: Quart) -> Runtime:
    value: Runtime = app.extensions["smsproxy"]
    return value


async def inbound(app: Quart, sender: str, text: str, message_uuid: str | None = None) -> Any:
    """An inbound SMS as the Messages API posts it, signed."""
    payload = inbound_message(
        message_uuid=message_uuid or str(uuid.uuid4()),
        text=text,
        **{"from": sender[1:], "to": P1[1:]},
    )
    body, headers = signed_messages_webhook(payload, SECRET)
    return await app.test_client().post("/webhooks/inbound", data=body, headers=headers)


async def status(app: Quart, message_uuid: str, client_ref: str, word: str, **extra: Any) -> None:
    """A message status as the Messages API posts it, signed."""
    payload = message_status(word, message_uuid=message_uuid, client_ref=client_ref, **extra)
    body, headers = signed_messages_webhook(payload, SECRET)
    response = await app.test_client().post("/webhooks/status", data=body, headers=headers)
    assert response.status_code == 204, await response.get_data(as_text=True)


async def inbound_sms(app: Quart, sender: str, text: str, message_id: str) -> None:
    """An inbound SMS as the SMS API posts it, signed (md5hash)."""
    fields = {"msisdn": sender[1:], "to": P1[1:], "messageId": message_id, "text": text}
    fields |= {"type": "text", "message-timestamp": "2025-02-03 12:14:25"}
    response = await app.test_client().post(
        "/webhooks/inbound-sms", form=signed_params(fields, SECRET)
    )
    assert response.status_code == 204, await response.get_data(as_text=True)


async def dlr(app: Quart, message_id: str, client_ref: str, word: str) -> None:
    """A delivery receipt as the SMS API posts it, signed (md5hash)."""
    fields = {"msisdn": BOB[1:], "to": P1[1:], "messageId": message_id, "status": word}
    fields |= {"err-code": "0", "client-ref": client_ref}
    response = await app.test_client().post(
        "/webhooks/delivery-receipt", form=signed_params(fields, SECRET)
    )
    assert response.status_code == 204, await response.get_data(as_text=True)


async def send_all(app: Quart, fake: FakeVonage, expected: int) -> list[Any]:
    """Let this app's sender send what is queued; the fake's accepted requests so far."""
    await runtime(app).sender.drain(timeout=5)
    return fake.wait_for(expected)


async def deliveries(app: Quart) -> list[Delivery]:
    async with runtime(app).db.read() as session:
        return list((await session.exec(select(Delivery).order_by(col(Delivery.id)))).all())


async def messages(app: Quart) -> list[Message]:
    async with runtime(app).db.read() as session:
        return list((await session.exec(select(Message).order_by(col(Message.id)))).all())


def by_client_ref(sent: list[Any]) -> dict[str, Any]:
    return {request.client_ref: request for request in sent}


async def test_a_whole_conversation_through_the_messages_api(
    database_url: str, fake_vonage: FakeVonage
) -> None:
    async with vonage_app(database_url, fake_vonage, "messages") as app:
        rt = runtime(app)
        await add_numbers(rt, P1)
        key = auth(await create_api_key(rt))
        client = app.test_client()
        created = await client.post(
            "/api/v1/chats",
            json={
                "participants": [
                    {"number": ALICE, "name": "Rider"},
                    {"number": BOB, "name": "Driver"},
                ]
            },
            headers=key,
        )
        assert created.status_code == 201
        chat = await created.get_json()
        assert [p["channel"] for p in chat["participants"]] == ["sms", "sms"]

        # The intro SMS, then each participant's message to the other.
        intros = await send_all(app, fake_vonage, 2)
        assert (await inbound(app, ALICE, "Where are you?")).status_code == 204
        assert (await inbound(app, BOB, "At the north gate")).status_code == 204
        sent = await send_all(app, fake_vonage, 4)

        assert all(isinstance(request, MessagesRequest) for request in fake_vonage.requests)
        assert all(request.claims for request in sent)  # the fake verified each JWT
        assert {request.claims["application_id"] for request in sent} == {
            fake_vonage.application_id
        }
        assert [(request.sender, request.to, request.text) for request in sent[2:]] == [
            (P1[1:], BOB[1:], "Where are you?"),
            (P1[1:], ALICE[1:], "At the north gate"),
        ]
        assert len(intros) == 2

        # Statuses come back for each: Bob's handset takes everything; Alice's number
        # turns out unreachable for the reply.
        rows = {d.public_id: d for d in await deliveries(app)}
        requests = by_client_ref(sent)
        assert set(requests) == set(rows)
        for ref, request in requests.items():
            [message_uuid] = request.message_ids
            await status(app, message_uuid, ref, "submitted")
            if rows[ref].to_number == BOB or rows[ref].kind == "intro":
                await status(app, message_uuid, ref, "delivered")
            else:
                error = {"title": 1320, "detail": "The number 447700900101 is unreachable"}
                await status(app, message_uuid, ref, "rejected", error=error)

        transcript = await client.get(f"/api/v1/chats/{chat['id']}/messages", headers=key)
        said = {
            m["body"]: [(d["status"], d["error"]) for d in m["deliveries"]]
            for m in (await transcript.get_json())["messages"]
        }
        assert said["Where are you?"] == [("delivered", None)]
        assert said["At the north gate"] == [
            (
                "rejected",
                "The carrier rejected the SMS: The number +44770•••••01 is unreachable "
                "(error 1320)",
            )
        ]

        # Closing says goodbye through the Messages API too; a late text gets the reply.
        closed = await client.post(f"/api/v1/chats/{chat['id']}/close", json={}, headers=key)
        assert closed.status_code == 200
        assert (await inbound(app, ALICE, "Hello?")).status_code == 204
        sent = await send_all(app, fake_vonage, 7)
        assert sorted((r.to, r.text) for r in sent[4:]) == [
            (ALICE[1:], "Goodbye."),
            (ALICE[1:], "This chat has ended."),
            (BOB[1:], "Goodbye."),
        ]
        assert all(isinstance(r, MessagesRequest) and r.claims for r in fake_vonage.requests)


async def test_an_unsigned_messages_webhook_is_refused_and_changes_nothing(
    database_url: str, fake_vonage: FakeVonage
) -> None:
    async with vonage_app(database_url, fake_vonage, "messages") as app:
        await add_numbers(runtime(app), P1)
        payload = inbound_message(**{"from": ALICE[1:], "to": P1[1:]})

        response = await app.test_client().post("/webhooks/inbound", json=payload)

        assert response.status_code == 401
        assert "no signed token" in (await response.get_json())["error"]["message"]
        assert await messages(app) == [] and await deliveries(app) == []
        assert await runtime(app).sender.drain(timeout=1) == 0
    assert fake_vonage.requests == []


async def test_switching_apis_mid_conversation_loses_and_repeats_nothing(
    database_url: str, fake_vonage: FakeVonage
) -> None:
    """Two processes on one database during a rolling switch: `old` sends through the
    SMS API, `new` through the Messages API. The account's Messaging API type flips
    part way, so webhooks of both formats reach both, for the same chat."""
    long_text = "I am stuck behind a tractor on the B-road, so I will be late. " * 3  # 2 SMS
    async with (
        vonage_app(database_url, fake_vonage, "sms") as old,
        vonage_app(database_url, fake_vonage, "messages") as new,
    ):
        await add_numbers(runtime(old), P1)
        client = old.test_client()
        key = auth(await create_api_key(runtime(old)))
        chat = await client.post(
            "/api/v1/chats",
            json={"participants": [{"number": ALICE}, {"number": BOB}], "intro": False},
            headers=key,
        )
        assert chat.status_code == 201

        # Before the switch: SMS API in, SMS API out, SMS API receipts.
        await inbound_sms(old, ALICE, "One", "0B00000000000001")
        [one] = await send_all(old, fake_vonage, 1)
        assert isinstance(one, SmsRequest)
        await dlr(old, one.message_ids[0], one.client_ref, "delivered")
        await inbound_sms(old, BOB, "Two", "0B00000000000002")
        [_, two] = await send_all(old, fake_vonage, 2)

        # The account switches. "Two"'s receipt now comes as a Messages API status under
        # a uuid nobody sent; "One" is delivered again in the new format (a retry that
        # was queued across the switch), under a new id.
        await status(new, str(uuid.uuid4()), two.client_ref, "delivered")
        assert (await inbound(new, ALICE, "One")).status_code == 204

        # After: Messages API in, out through the Messages API, its statuses back.
        assert (await inbound(new, ALICE, "Three")).status_code == 204
        [*_, three] = await send_all(new, fake_vonage, 3)
        assert isinstance(three, MessagesRequest) and three.claims
        await status(new, three.message_ids[0], three.client_ref, "delivered")

        # A long SMS through the Messages API, reported part by part in the SMS API's
        # format (the other process's account settings caught up later).
        assert (await inbound(new, BOB, long_text)).status_code == 204
        [*_, four] = await send_all(new, fake_vonage, 4)
        assert isinstance(four, MessagesRequest)
        await dlr(old, "0B0000000000004A", four.client_ref, "delivered")
        await dlr(new, "0B0000000000004B", four.client_ref, "delivered")

        # A straggler in the old format, sent by the old process, reported in the new.
        await inbound_sms(old, BOB, "Five", "0B00000000000005")
        [*_, five] = await send_all(old, fake_vonage, 5)
        assert isinstance(five, SmsRequest)
        await status(new, str(uuid.uuid4()), five.client_ref, "delivered")

        # Nothing sent twice: both processes find the outbox empty.
        assert await runtime(old).sender.drain(timeout=1) == 0
        assert await runtime(new).sender.drain(timeout=1) == 0
        said = [(m.sender_number, m.body) for m in await messages(new)]
        rows = await deliveries(new)

    assert said == [
        (ALICE, "One"),
        (BOB, "Two"),
        (ALICE, "Three"),
        (BOB, long_text),
        (BOB, "Five"),
    ]
    assert [(d.to_number, d.body, d.status) for d in rows] == [
        (BOB, "One", DeliveryStatus.delivered),
        (ALICE, "Two", DeliveryStatus.delivered),
        (BOB, "Three", DeliveryStatus.delivered),
        (ALICE, long_text, DeliveryStatus.delivered),
        (ALICE, "Five", DeliveryStatus.delivered),
    ]
    assert [r.text for r in fake_vonage.sent] == ["One", "Two", "Three", long_text, "Five"]
