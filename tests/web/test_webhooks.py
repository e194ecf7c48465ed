"""The carrier's webhooks over HTTP: formats, signatures, retries, bad input, outages."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from quart import Quart
from sqlmodel import col, select
from vonage_http_client import Auth

from smsproxy.app import create_app
from smsproxy.models import AuthorKind, Delivery, InboundPart, Message
from smsproxy.runtime import Runtime
from tests.conftest import USE_POSTGRES, make_settings
from tests.helpers import add_numbers, start_chat

P1 = "+447700900901"
ALICE, BOB = "+447700900101", "+447700900102"
SECRET = "a-signature-secret-from-the-dashboard"
INBOUND = "/webhooks/inbound-sms"


def inbound_fields(message_id: str = "0B00000012345678", **extra: str) -> dict[str, str]:
    """What Vonage sends for an inbound SMS (numbers without +)."""
    return {
        "msisdn": ALICE[1:],
        "to": P1[1:],
        "messageId": message_id,
        "text": "Where are you?",
        "type": "text",
        "keyword": "WHERE",
        "api-key": "abcd1234",
        "message-timestamp": "2025-01-01 12:00:00",
        **extra,
    }


@asynccontextmanager
async def app_with(database_url: str, **overrides: Any) -> AsyncIterator[Quart]:
    app = create_app(make_settings(database_url, **overrides), background=False)
    async with app.test_app():
        yield app


async def post(app: Quart, fields: dict[str, str], how: str = "form", path: str = INBOUND) -> Any:
    client = app.test_client()
    if how == "get":
        return await client.get(path, query_string=fields)
    if how == "json":
        return await client.post(path, json=fields)
    return await client.post(path, form=fields)


async def stored_messages(app: Quart) -> list[Message]:
    rt: Runtime = app.extensions["smsproxy"]
    async with rt.db.read() as session:
        return list((await session.exec(select(Message).order_by(col(Message.id)))).all())


async def chat_on_p1(app: Quart) -> None:
    rt: Runtime = app.extensions["smsproxy"]
    await add_numbers(rt, P1)
    await start_chat(rt, (ALICE, "Rider"), (BOB, "Driver"))


@pytest.mark.parametrize("how", ["get", "form", "json"])
async def test_each_format_is_routed(app: Quart, how: str) -> None:
    await chat_on_p1(app)

    response = await post(app, inbound_fields(), how)

    assert response.status_code == 204
    [message] = await stored_messages(app)
    assert (message.body, message.carrier_message_id) == ("Where are you?", "0B00000012345678")
    assert message.sender_number == ALICE and message.chat_id is not None


async def test_a_retried_webhook_is_forwarded_once(app: Quart) -> None:
    await chat_on_p1(app)
    first = await post(app, inbound_fields("RETRIED"))
    second = await post(app, inbound_fields("RETRIED"), "get")

    assert (first.status_code, second.status_code) == (204, 204)
    assert len(await stored_messages(app)) == 1
    rt: Runtime = app.extensions["smsproxy"]
    async with rt.db.read() as session:
        deliveries = (await session.exec(select(Delivery))).all()
    assert [d.to_number for d in deliveries] == [BOB]


async def test_multipart_parts_arrive_as_webhooks(app: Quart) -> None:
    await chat_on_p1(app)
    for number, text in ((2, "world"), (1, "Hello ")):
        fields = inbound_fields(
            f"PART{number}",
            text=text,
            concat="true",
            **{"concat-ref": "7", "concat-total": "2", "concat-part": str(number)},
        )
        assert (await post(app, fields, "json")).status_code == 204

    [message] = await stored_messages(app)
    assert message.body == "Hello world"


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"msisdn": ""}, "msisdn"),
        ({"to": ""}, "to"),
        ({"messageId": ""}, "messageId"),
        ({"msisdn": "12"}, "msisdn is not a phone number"),
        ({"msisdn": "  "}, "msisdn is not a phone number"),
        ({"msisdn": "Bank\u200b"}, "msisdn is not a phone number"),
        ({"to": "12"}, "to is not a phone number"),
        ({"messageId": "x" * 65}, "messageId must be"),
        ({"concat": "true", "concat-ref": "1", "concat-total": "x"}, "concat-total"),
        (
            {"concat": "true", "concat-ref": "1", "concat-total": "2", "concat-part": "3"},
            "concat-part must be between 1 and 2",
        ),
    ],
)
async def test_malformed_webhooks_get_400_with_a_reason(
    app: Quart, fields: dict[str, str], reason: str
) -> None:
    response = await post(app, {**inbound_fields(), **fields})

    assert response.status_code == 400
    error = (await response.get_json())["error"]
    assert error["code"] == "malformed_webhook"
    assert reason in error["message"]
    assert await stored_messages(app) == []


@pytest.mark.parametrize("how", ["get", "form", "json"])
@pytest.mark.parametrize(
    ("msisdn", "stored"),
    [
        ("VONAGE", "VONAGE"),
        (" MyBank ", "MyBank"),
        ("A Very Long Company Name Ltd", "A Very Long Company"),  # the column's 20
        ("72404", "72404"),  # a short code
    ],
)
async def test_an_alphanumeric_sender_is_kept_unrouted_without_reply(
    app: Quart, caplog: pytest.LogCaptureFixture, how: str, msisdn: str, stored: str
) -> None:
    await chat_on_p1(app)
    caplog.set_level(logging.INFO, logger="smsproxy")

    response = await post(app, inbound_fields(msisdn=msisdn, text="Your code is 482913"), how)

    assert response.status_code == 204, await response.get_data(as_text=True)
    [message] = await stored_messages(app)
    assert (message.chat_id, message.author_kind, message.sender_number) == (
        None,
        AuthorKind.unrouted,
        stored,
    )
    rt: Runtime = app.extensions["smsproxy"]
    async with rt.db.read() as session:
        assert (await session.exec(select(Delivery))).all() == []
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert "alphanumeric sender" in logged and "482913" not in logged


async def test_a_multipart_sms_from_an_alphanumeric_sender_is_kept_whole(app: Quart) -> None:
    await chat_on_p1(app)
    for number, text in ((2, "is 482913"), (1, "Your code ")):
        fields = inbound_fields(
            f"BANK{number}",
            msisdn="MyBank",
            text=text,
            concat="true",
            **{"concat-ref": "9", "concat-total": "2", "concat-part": str(number)},
        )
        assert (await post(app, fields)).status_code == 204

    [message] = await stored_messages(app)
    assert (message.sender_number, message.body, message.chat_id) == (
        "MyBank",
        "Your code is 482913",
        None,
    )
    rt: Runtime = app.extensions["smsproxy"]
    async with rt.db.read() as session:
        assert (await session.exec(select(Delivery))).all() == []


async def test_a_json_body_must_be_an_object(app: Quart) -> None:
    response = await app.test_client().post(INBOUND, json=["not", "an", "object"])
    assert response.status_code == 400
    assert "object" in (await response.get_json())["error"]["message"]


def vonage_md5hash(params: dict[str, str], secret: str) -> str:
    """As Vonage documents the legacy "MD5 hash" signature: sort the parameters, join
    them as &key=value (with & and = inside values turned into _), append the secret,
    take the md5 hex digest."""
    joined = "".join(
        "&{}={}".format(key, params[key].replace("&", "_").replace("=", "_"))
        for key in sorted(params)
    )
    return hashlib.md5((joined + secret).encode()).hexdigest()


def signed(fields: dict[str, str], method: str, timestamp: int | None = None) -> dict[str, str]:
    params = {**fields, "timestamp": str(timestamp or int(time.time())), "nonce": "a1b2c3"}
    if method == "md5hash":
        params["sig"] = vonage_md5hash(params, SECRET)
    else:
        auth = Auth(api_key="abcd1234", signature_secret=SECRET, signature_method=method)
        params["sig"] = auth.sign_params(dict(params))
    return params


@pytest.mark.parametrize("method", ["md5hash", "md5", "sha1", "sha256", "sha512"])
@pytest.mark.parametrize("how", ["get", "form", "json"])
async def test_signed_webhooks_are_accepted(database_url: str, method: str, how: str) -> None:
    async with app_with(
        database_url, vonage_signature_secret=SECRET, vonage_signature_method=method
    ) as app:
        await chat_on_p1(app)
        fields = inbound_fields(text="Meet at 5 & bring the form=A")

        response = await post(app, signed(fields, method), how)

        assert response.status_code == 204, await response.get_data(as_text=True)
        [message] = await stored_messages(app)
        assert message.body == "Meet at 5 & bring the form=A"


def tampered(params: dict[str, str]) -> dict[str, str]:
    return {**params, "text": "Send money to this account"}


def wrong_secret(params: dict[str, str]) -> dict[str, str]:
    unsigned = {k: v for k, v in params.items() if k != "sig"}
    return {**unsigned, "sig": vonage_md5hash(unsigned, "not-the-secret")}


def unsigned(params: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in params.items() if k != "sig"}


@pytest.mark.parametrize(
    ("method", "spoil", "reason"),
    [
        ("md5hash", tampered, "does not match"),
        ("md5hash", wrong_secret, "does not match"),
        ("sha256", tampered, "does not match"),
        ("sha256", unsigned, "not signed"),
        (
            "md5hash",
            lambda p: signed(inbound_fields(), "md5hash", int(time.time()) - 600),
            "from our clock",
        ),
        (
            "sha512",
            lambda p: signed(inbound_fields(), "sha512", int(time.time()) + 900),
            "from our clock",
        ),
        ("sha1", lambda p: {**p, "timestamp": "yesterday"}, "timestamp"),
    ],
)
async def test_bad_signatures_are_refused_and_change_nothing(
    database_url: str, method: str, spoil: Any, reason: str
) -> None:
    async with app_with(
        database_url, vonage_signature_secret=SECRET, vonage_signature_method=method
    ) as app:
        await chat_on_p1(app)

        response = await post(app, spoil(signed(inbound_fields(), method)))

        assert response.status_code == 401
        error = (await response.get_json())["error"]
        assert error["code"] == "bad_signature" and reason in error["message"]
        assert await stored_messages(app) == []
        rt: Runtime = app.extensions["smsproxy"]
        async with rt.db.read() as session:
            assert (await session.exec(select(Delivery))).all() == []
            assert (await session.exec(select(InboundPart))).all() == []


async def test_a_receipt_needs_a_signature_too(database_url: str) -> None:
    async with app_with(database_url, vonage_signature_secret=SECRET) as app:
        fields = {"messageId": "X1", "status": "delivered", "msisdn": BOB[1:], "to": P1[1:]}
        refused = await post(app, fields, path="/webhooks/delivery-receipt")
        accepted = await post(app, signed(fields, "md5hash"), path="/webhooks/delivery-receipt")
    assert (refused.status_code, accepted.status_code) == (401, 204)


def test_webhooks_are_marked_public(app: Quart) -> None:
    webhook_rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/webhooks/")]
    methods = {r.rule: set(r.methods or ()) - {"HEAD", "OPTIONS"} for r in webhook_rules}
    # The SMS API sends GET or POST as the account says; the Messages API POSTs JSON.
    assert methods == {
        "/webhooks/inbound-sms": {"GET", "POST"},
        "/webhooks/delivery-receipt": {"GET", "POST"},
        "/webhooks/inbound": {"POST"},
        "/webhooks/status": {"POST"},
    }
    for rule in webhook_rules:
        assert getattr(app.view_functions[rule.endpoint], "__smsproxy_auth__", None) == "public"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres@127.0.0.1:1/smsproxy",  # nothing listens there
        "sqlite:////nonexistent-directory/for/smsproxy.db",  # cannot be opened
    ],
)
async def test_503_with_retry_after_when_the_database_is_unavailable(url: str) -> None:
    async with app_with(url) as app:
        response = await post(app, inbound_fields())
        receipt = await post(
            app, {"messageId": "X", "status": "delivered"}, path="/webhooks/delivery-receipt"
        )
    await aiosqlite_threads_done()
    for answer in (response, receipt):
        assert answer.status_code == 503
        assert answer.headers["Retry-After"].isdigit()
        assert (await answer.get_json())["error"]["code"] == "unavailable"


async def aiosqlite_threads_done() -> None:
    """aiosqlite answers a failed connect's clean-up on the event loop from its own
    thread; let it finish while the loop still runs, or it warns about a closed loop."""
    for _ in range(100):
        if not any("_connection_worker_thread" in t.name for t in threading.enumerate()):
            return
        await asyncio.sleep(0.02)


@pytest.mark.skipif(not USE_POSTGRES, reason="SQLite stores a NUL; PostgreSQL refuses it")
async def test_a_bad_webhook_in_a_group_commit_fails_alone(
    app: Quart, app_runtime: Runtime
) -> None:
    """Webhooks arriving together share a commit; the one PostgreSQL refuses (a NUL in
    its text) gets its own error answer while the others are acknowledged."""
    await add_numbers(app_runtime, P1)
    await start_chat(app_runtime, (ALICE, "Rider"), (BOB, "Driver"))
    started, release = asyncio.Event(), asyncio.Event()

    async def busy(session: object) -> None:
        started.set()
        await release.wait()

    # Hold the writer so that the webhooks queue up and go in one batch together.
    holding = asyncio.create_task(app_runtime.writer.run(busy))  # type: ignore[arg-type]
    await started.wait()
    batches = app_runtime.writer.batches
    texts = ["one", "two", "bad\x00text", "four"]
    answers = [
        asyncio.create_task(post(app, inbound_fields(f"GROUP{n}", text=text)))
        for n, text in enumerate(texts)
    ]
    while app_runtime.writer.waiting < len(texts):
        await asyncio.sleep(0.01)
    release.set()
    await holding
    statuses = [(await answer).status_code for answer in answers]

    assert statuses == [204, 204, 400, 204]
    assert app_runtime.writer.batches - batches == 2  # the held one, then all four
    async with app_runtime.db.read() as session:
        stored = (await session.exec(select(Message.carrier_message_id))).all()
    assert sorted(stored) == ["GROUP0", "GROUP1", "GROUP3"]
