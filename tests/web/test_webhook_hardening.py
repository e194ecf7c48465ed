"""Webhooks that cannot be checked are refused unless the operator says otherwise (and
the dashboard says so); one address cannot flood them; bodies that would fail later
are refused first, leaving no trace."""

from __future__ import annotations

import json
from typing import Any

import pytest
from quart import Quart
from sqlmodel import select

from smsproxy.models import Delivery, InboundPart, Message
from smsproxy.runtime import Runtime
from smsproxy.web.webhooks import WEBHOOK_LIMITS
from tests.conftest import STAFF_PASSWORD, add_staff
from tests.guarded import login
from tests.web.test_webhooks import (
    INBOUND,
    SECRET,
    app_with,
    chat_on_p1,
    inbound_fields,
    post,
    signed,
    stored_messages,
)

VONAGE = {"carrier": "vonage", "vonage_api_key": "key", "vonage_api_secret": "secret"}
RECEIPT = "/webhooks/delivery-receipt"


async def nothing_stored(app: Quart) -> bool:
    rt: Runtime = app.extensions["smsproxy"]
    async with rt.db.read() as session:
        rows: list[Any] = [*(await session.exec(select(Message))).all()]
        rows += (await session.exec(select(Delivery))).all()
        rows += (await session.exec(select(InboundPart))).all()
    return rows == []


async def dashboard_html(app: Quart) -> str:
    await add_staff(app, "alice", "agent")
    client = app.test_client()
    await login(client, "alice", STAFF_PASSWORD)
    return await (await client.get("/chats")).get_data(as_text=True)


async def test_vonage_without_a_secret_refuses_webhooks_and_says_which_setting(
    database_url: str,
) -> None:
    async with app_with(database_url, **VONAGE) as app:
        await chat_on_p1(app)
        inbound = await post(app, inbound_fields())
        receipt = await post(app, {"messageId": "X1", "status": "delivered"}, path=RECEIPT)
        for response in (inbound, receipt):
            assert response.status_code == 401
            error = (await response.get_json())["error"]
            assert error["code"] == "bad_signature"
            assert "VONAGE_SIGNATURE_SECRET" in error["message"]
            assert "VONAGE_WEBHOOKS_UNSIGNED=allow" in error["message"]
        assert await nothing_stored(app)
        html = await dashboard_html(app)
    assert "Inbound SMS are refused" in html and 'class="security-banner"' in html


async def test_vonage_with_unsigned_allowed_takes_them_and_warns_on_every_page(
    database_url: str,
) -> None:
    async with app_with(database_url, **VONAGE, vonage_webhooks_unsigned="allow") as app:
        await chat_on_p1(app)
        assert (await post(app, inbound_fields())).status_code == 204
        assert len(await stored_messages(app)) == 1
        html = await dashboard_html(app)
        login_page = await (await app.test_client().get("/login")).get_data(as_text=True)
    for page in (html, login_page):
        assert "Webhooks are not checked" in page and "VONAGE_SIGNATURE_SECRET" in page


async def test_vonage_with_a_secret_checks_it_and_shows_no_warning(database_url: str) -> None:
    async with app_with(database_url, **VONAGE, vonage_signature_secret=SECRET) as app:
        await chat_on_p1(app)
        assert (await post(app, inbound_fields())).status_code == 401
        assert (await post(app, signed(inbound_fields(), "md5hash"))).status_code == 204
        html = await dashboard_html(app)
    assert "security-banner" not in html


async def test_the_sandbox_takes_unsigned_webhooks_without_a_warning(app: Quart) -> None:
    await chat_on_p1(app)
    assert (await post(app, inbound_fields())).status_code == 204
    assert "security-banner" not in await dashboard_html(app)


# Rate limits per address


def from_address(address: str) -> dict[str, Any]:
    return {"client": (address, 40000)}


async def test_one_flooding_address_does_not_starve_the_others(database_url: str) -> None:
    async with app_with(database_url, carrier_webhook_rate_per_second=0.3) as app:  # 3 per 10 s
        await chat_on_p1(app)
        client = app.test_client()
        answers = []
        for n in range(4):
            fields = inbound_fields(f"FLOOD{n:04d}")
            answers.append(
                await client.post(INBOUND, form=fields, scope_base=from_address("1.2.3.4"))
            )
        other = await client.post(
            INBOUND, form=inbound_fields("OTHER0001"), scope_base=from_address("5.6.7.8")
        )
        stored = {m.carrier_message_id for m in await stored_messages(app)}
    assert [a.status_code for a in answers] == [204, 204, 204, 429]
    refused = answers[-1]
    assert 0 < int(refused.headers["Retry-After"]) <= 10  # Vonage retries after it
    assert (await refused.get_json())["error"]["code"] == "too_many_requests"
    assert other.status_code == 204
    assert stored == {"FLOOD0000", "FLOOD0001", "FLOOD0002", "OTHER0001"}


async def test_the_default_webhook_limit_is_generous(app: Quart) -> None:
    [limit] = WEBHOOK_LIMITS
    async with app.app_context():
        # A thousand in any ten seconds from one Vonage address, a hundred a second on
        # average: several times a default account's 30 SMS/s, their receipts included.
        assert (limit.count, limit.period.total_seconds()) == (1000, 10.0)


# Bodies refused before anything reads them


def raw_json(body: bytes) -> dict[str, Any]:
    return {"data": body, "headers": {"Content-Type": "application/json"}}


BAD_BODIES = [
    pytest.param(b'{"msisdn": "\xff\xfe"}', "not UTF-8", id="invalid-utf8"),
    pytest.param(
        json.dumps({**inbound_fields(), "text": "hi \ud800 there"}).encode(),
        "lone surrogate",
        id="lone-surrogate",
    ),
    pytest.param(b'{"a":' * 5000 + b"1" + b"}" * 5000, "nested deeper", id="deep-nesting"),
    pytest.param(b"[" * 40 + b"]" * 40, "nested deeper", id="deep-but-parseable"),
]


@pytest.mark.parametrize(("body", "words"), BAD_BODIES)
async def test_a_webhook_body_that_would_fail_later_is_a_400_now(
    app: Quart, body: bytes, words: str
) -> None:
    await chat_on_p1(app)
    response = await app.test_client().post(INBOUND, **raw_json(body))
    assert response.status_code == 400
    error = (await response.get_json())["error"]
    assert error["code"] == "malformed_webhook" and words in error["message"]
    assert await nothing_stored(app)


@pytest.mark.parametrize(("body", "words"), BAD_BODIES)
async def test_an_api_body_that_would_fail_later_is_a_400_now(
    app: Quart, api_key: str, body: bytes, words: str
) -> None:
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    for path in ("/api/v1/chats", "/api/v1/chats/ch_0000000000000000/close"):
        response = await app.test_client().post(path, data=body, headers=headers)
        assert response.status_code == 400, path
        assert words in (await response.get_json())["error"]["message"]


def form_body(size: int, *, declared: bool) -> dict[str, Any]:
    """A form body of `size` bytes, with its Content-Length as hypercorn passes it on,
    or without (a chunked upload): each must be caught."""
    data = b"text=" + b"x" * (size - 5)
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if declared:
        headers["Content-Length"] = str(len(data))
    return {"data": data, "headers": headers}


@pytest.mark.parametrize(
    ("path", "limit_kib", "as_json", "declared"),
    [
        (INBOUND, 32, True, True),
        (INBOUND, 32, True, False),
        ("/api/v1/chats", 64, True, True),  # the API reads only JSON: a form goes unread
        ("/login", 64, False, True),
        ("/login", 64, False, False),
    ],
)
async def test_bodies_over_the_paths_limit_are_a_413_that_says_so(
    app: Quart, api_key: str, path: str, limit_kib: int, as_json: bool, declared: bool
) -> None:
    client = app.test_client()
    key = {"Authorization": f"Bearer {api_key}"}
    fits = form_body(limit_kib * 1024, declared=declared)
    fits["headers"].update(key)
    assert (await client.post(path, **fits)).status_code != 413
    over = form_body(limit_kib * 1024 + 1, declared=declared)
    over["headers"].update(key)
    response = await client.post(path, **over)
    assert response.status_code == 413
    message = f"The request body is over {limit_kib} KiB"
    if as_json:
        assert message in (await response.get_json())["error"]["message"]
    else:
        assert message in await response.get_data(as_text=True)
        assert response.mimetype == "text/html"
