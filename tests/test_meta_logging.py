"""The main flows with logging at INFO, as production runs: nothing logged at INFO or
above holds a real number (in any spelling), a message text, a password, an API key or
a secret. Numbers and texts may be logged at DEBUG only."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest
from quart import Quart

from smsproxy.app import create_app
from smsproxy.runtime import Runtime
from tests.conftest import STAFF_PASSWORD, add_staff, csrf_post, make_settings
from tests.helpers import add_numbers, auth, create_api_key
from tests.privacy import spelled_in
from tests.web.test_webhooks import SECRET, signed

if TYPE_CHECKING:
    from tests.fakes.vonage_server import FakeVonage

pytest_plugins = ["tests.fakes.vonage_server"]

PROXY = "+447700900901"
RIDER, DRIVER, STRANGER = "+447700900321", "+447700900654", "+447700900987"
TEXTS = (
    "Meet me by the blue door at noon",
    "Staff note about the booking",
    "Who is this",
    f"Private note: the rider also uses {RIDER}",
)
WRONG_PASSWORD = "correct horse battery wrong"


async def webhook(app: Quart, path: str, fields: dict[str, str]) -> int:
    response = await app.test_client().post(path, form=signed(fields, "md5hash"))
    return response.status_code


async def run_the_main_flows(app: Quart, fake: FakeVonage) -> str:
    """Chats, SMS both ways, receipts, staff, keys, refusals. Returns the API key used."""
    rt: Runtime = app.extensions["smsproxy"]
    await add_numbers(rt, PROXY)
    key = await create_api_key(rt)
    client = app.test_client()
    people = {"participants": [{"number": RIDER}, {"number": DRIVER}], "reference": "booking-7"}
    chat_id = (
        await (await client.post("/api/v1/chats", json=people, headers=auth(key))).get_json()
    )["id"]
    inbound = {"msisdn": RIDER[1:], "to": PROXY[1:], "messageId": "IN-1", "text": TEXTS[0]}
    assert await webhook(app, "/webhooks/inbound-sms", inbound) == 204

    await add_staff(app, "alice", "admin")
    staff = app.test_client()
    await csrf_post(staff, "/login", {"username": "alice", "password": WRONG_PASSWORD})
    await csrf_post(staff, "/login", {"username": "alice", "password": STAFF_PASSWORD})
    await csrf_post(staff, f"/chats/{chat_id}/messages", {"body": TEXTS[1]})
    assert (
        await csrf_post(staff, f"/chats/{chat_id}/notes", {"note": TEXTS[3]})
    ).status_code == 303
    # Searches: by a word of a text, and by a real number (a query is personal data).
    for query in (TEXTS[0].split()[-1], RIDER):
        assert (await staff.get("/search", query_string={"q": query})).status_code == 200
    found = await client.get(
        "/api/v1/messages/search", query_string={"q": DRIVER}, headers=auth(key)
    )
    assert found.status_code == 200

    assert await rt.sender.drain(timeout=10) >= 3  # intros, the forward, the staff message
    for request in fake.wait_for(3):
        for message_id in request.message_ids:
            fields = {"messageId": message_id, "status": "delivered", "msisdn": request.to}
            assert await webhook(app, "/webhooks/delivery-receipt", fields) == 204
    unknown = {"messageId": "NOT-OURS", "status": "failed", "msisdn": DRIVER[1:], "err-code": "6"}
    assert await webhook(app, "/webhooks/delivery-receipt", unknown) == 204

    stranger = {"msisdn": STRANGER[1:], "to": PROXY[1:], "messageId": "IN-2", "text": TEXTS[2]}
    assert await webhook(app, "/webhooks/inbound-sms", stranger) == 204
    await rt.sender.drain(timeout=10)  # the "conversation has ended" reply

    forged = {"msisdn": RIDER[1:], "to": PROXY[1:], "messageId": "IN-3", "text": TEXTS[0]}
    assert (await client.post("/webhooks/inbound-sms", form=forged)).status_code == 401
    assert (await client.get("/api/v1/chats", headers=auth(key + "x"))).status_code == 401
    closed = await client.post(f"/api/v1/chats/{chat_id}/close", headers=auth(key))
    assert closed.status_code == 200
    await rt.sender.drain(timeout=10)
    return key


async def test_nothing_personal_or_secret_is_logged_at_info(
    database_url: str, fake_vonage: FakeVonage, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(
        database_url,
        **fake_vonage.settings(),
        vonage_signature_secret=SECRET,
        log_level="INFO",
    )
    caplog.set_level(logging.DEBUG)
    app = create_app(settings, background=False)
    async with app.test_app():
        key = await run_the_main_flows(app, fake_vonage)

    def text_of(records: list[logging.LogRecord]) -> str:
        return "\n".join(
            f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.stack_info or ''}" for r in records
        )

    # The flows were logged (per-SMS lines at DEBUG): this is not a test of silence.
    everything = text_of(caplog.records)
    for words in (
        "routed in chat",
        "sent in 1 part",
        "is now delivered",
        "failed staff login",
        "searching messages for",
    ):
        assert words in everything, words
    logged = text_of([r for r in caplog.records if r.levelno >= logging.INFO])
    assert spelled_in(logged, RIDER, DRIVER, STRANGER) == []
    for text in TEXTS:
        assert text not in logged
    secrets = (
        key,
        key[12:],
        WRONG_PASSWORD,
        STAFF_PASSWORD,
        SECRET,
        settings.secret_key,
        fake_vonage.api_secret,
    )
    for secret in secrets:
        assert secret and secret not in logged
