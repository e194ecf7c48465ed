"""The webhooks over HTTP with arbitrary fields, as a form, JSON or a query string:
never a 5xx (which makes Vonage retry for a day), and a refused webhook leaves no
trace in the database: no message, part, delivery, event or audit entry."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from quart import Quart
from sqlalchemy import func
from sqlmodel import SQLModel, select

from smsproxy.app import create_app
from smsproxy.models import (
    AuditEvent,
    CarrierMessage,
    Delivery,
    EndedNotice,
    EventRecord,
    InboundPart,
    Message,
)
from smsproxy.runtime import Runtime
from tests.conftest import make_settings
from tests.helpers import add_numbers, start_chat

PROXY = "+447700900901"
RIDER, DRIVER = "+447700900101", "+447700900102"
TABLES: list[type[SQLModel]] = [
    Message,
    InboundPart,
    Delivery,
    EventRecord,
    EndedNotice,
    CarrierMessage,
    AuditEvent,
]
ANSWERS = {204, 400}  # sandbox carrier, no secret: nothing else is right


@dataclass
class Served:
    runner: asyncio.Runner
    app: Quart

    @property
    def rt(self) -> Runtime:
        value: Runtime = self.app.extensions["smsproxy"]
        return value


@pytest.fixture
def served(database_url: str) -> Iterator[Served]:
    """One app for every example: a new one per example would spend the time starting."""
    with asyncio.Runner() as runner:
        app = create_app(make_settings(database_url), background=False)
        test_app = app.test_app()
        runner.run(test_app.__aenter__())
        value = Served(runner, app)
        runner.run(add_numbers(value.rt, PROXY))
        runner.run(start_chat(value.rt, (RIDER, "Rider"), (DRIVER, "Driver")))
        try:
            yield value
        finally:
            runner.run(test_app.__aexit__(None, None, None))


# Text as Vonage could never send it too: controls, NUL, astral characters, and (in
# JSON, which can escape them) lone surrogates.
# (st.text leaves surrogates out whatever its alphabet, hence a list of characters.)
surrogates = st.characters(categories=["Cs"])
any_text = st.lists(st.one_of(st.characters(), surrogates), max_size=60).map("".join)
encodable_text = st.text(max_size=60)
numbers = st.sampled_from([RIDER[1:], DRIVER[1:], PROXY[1:], "447700900999", "VONAGE", ""])
counters = st.one_of(st.sampled_from(["1", "2", "3", "0", "-1", "999"]), st.text(max_size=4))


def webhook_fields(text: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    """Half the time a webhook that routes (or is a receipt) but for one field gone
    wrong, half the time anything."""
    optional = {
        "msisdn": st.one_of(numbers, text),
        "to": st.one_of(numbers, text),
        "messageId": st.one_of(st.from_regex(r"[A-Z0-9]{1,20}", fullmatch=True), text),
        "text": text,
        "concat": st.sampled_from(["true", "false", "TRUE", ""]),
        "concat-ref": st.one_of(st.sampled_from(["7", "8"]), text),
        "concat-total": counters,
        "concat-part": counters,
        "status": st.one_of(st.sampled_from(["delivered", "failed", "expired"]), text),
        "err-code": counters,
        "message-timestamp": text,
    }
    required = {
        "msisdn": st.sampled_from([RIDER[1:], DRIVER[1:]]),
        "to": st.just(PROXY[1:]),
        "messageId": st.one_of(st.from_regex(r"[A-Z0-9]{8,20}", fullmatch=True), text),
        "text": text,
        "status": st.sampled_from(["delivered", "failed"]),
    }
    rest = {name: value for name, value in optional.items() if name not in required}
    plausible = st.fixed_dictionaries(required, optional=rest)
    anything = st.builds(
        lambda known, extra: {**extra, **known},
        st.fixed_dictionaries({}, optional=optional),
        st.dictionaries(text, text, max_size=3),
    )
    return st.one_of(plausible, anything)


json_junk = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), any_text),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=10,
)


async def row_counts(rt: Runtime) -> dict[str, int]:
    async with rt.db.read() as session:
        return {
            table.__name__: (await session.exec(select(func.count()).select_from(table))).one()
            for table in TABLES
        }


async def send(app: Quart, path: str, how: str, fields: Any) -> Any:
    client = app.test_client()
    if how == "json":
        # ensure_ascii: a lone surrogate travels as the escape "\ud800", as JSON allows.
        body = json.dumps(fields).encode()
        return await client.post(path, data=body, headers={"Content-Type": "application/json"})
    encoded = urlencode(fields)
    if how == "get":
        return await client.get(f"{path}?{encoded}")
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    return await client.post(path, data=encoded.encode(), headers=headers)


async def check(served: Served, path: str, how: str, fields: Any) -> None:
    before = await row_counts(served.rt)
    response = await send(served.app, path, how, fields)
    body = await response.get_data(as_text=True)
    assert response.status_code in ANSWERS, (response.status_code, body)
    if response.status_code != 204:
        assert json.loads(body)["error"]["message"]
        assert await row_counts(served.rt) == before, "a refused webhook left rows behind"


PATHS = st.sampled_from(["/webhooks/inbound-sms", "/webhooks/delivery-receipt"])
SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SETTINGS
@given(path=PATHS, how=st.sampled_from(["form", "get"]), fields=webhook_fields(encodable_text))
def test_form_and_query_webhooks(served: Served, path: str, how: str, fields: Any) -> None:
    served.runner.run(check(served, path, how, fields))


@SETTINGS
@given(path=PATHS, fields=st.one_of(webhook_fields(any_text), json_junk))
def test_json_webhooks(served: Served, path: str, fields: Any) -> None:
    served.runner.run(check(served, path, "json", fields))
