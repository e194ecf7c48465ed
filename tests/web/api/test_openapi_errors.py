"""The OpenAPI document lists every error each operation can answer, with the error
body's schema, for routes added later as much as for today's; the docs page shows them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from quart import Blueprint, Quart
from quart_rate_limiter import rate_limit

from smsproxy.app import create_app
from smsproxy.config import Settings
from smsproxy.web.api.base import API_LIMITS, api_key_required

ERROR = {"$ref": "#/components/schemas/ApiError"}

later = Blueprint("later", __name__)


@later.post("/api/v1/later/<thing_id>")
@rate_limit(limits=API_LIMITS)
@api_key_required
async def post_later(thing_id: str) -> dict[str, str]:
    """A route another change adds, knowing nothing of the error documentation."""
    return {"id": thing_id}


@pytest.fixture
async def spec(settings: Settings) -> AsyncIterator[dict[str, Any]]:
    app: Quart = create_app(settings, background=False)
    app.register_blueprint(later)
    async with app.test_app():
        response = await app.test_client().get("/openapi.json")
        yield await response.get_json()


def operations(spec: dict[str, Any], prefix: str) -> dict[str, dict[str, Any]]:
    return {
        f"{method.upper()} {path}": op
        for path, item in spec["paths"].items()
        if path.startswith(prefix)
        for method, op in item.items()
    }


def errors_of(op: dict[str, Any]) -> set[int]:
    found = set()
    for status, response in op["responses"].items():
        if int(status) >= 400:
            assert response["content"]["application/json"]["schema"] == ERROR
            assert response["description"]
            found.add(int(status))
    return found


async def test_every_api_operation_lists_its_errors(spec: dict[str, Any]) -> None:
    ops = {k: v for k, v in operations(spec, "/api/").items() if "/later/" not in k}
    assert len(ops) >= 11
    for name, op in ops.items():
        errors = errors_of(op)
        assert {400, 401, 429, 503} <= errors, name
        assert any(int(s) < 300 for s in op["responses"]), f"{name}: no success documented"
        if "{" in name:
            assert 404 in errors, name
        if not name.startswith("GET"):
            assert {409, 413, 422} <= errors, name
    assert 403 in errors_of(
        ops["POST /api/v1/chats/{chat_id}/participants/{participant_id}/reveal"]
    )
    assert 422 in errors_of(ops["GET /api/v1/chats"])  # a stale cursor
    assert "204" in ops["DELETE /api/v1/numbers/{number}"]["responses"]


async def test_a_route_added_later_is_documented_alike(spec: dict[str, Any]) -> None:
    op = operations(spec, "/api/v1/later")["POST /api/v1/later/{thing_id}"]
    assert errors_of(op) == {400, 401, 404, 409, 413, 422, 429, 503}


async def test_webhooks_are_described_without_a_key(spec: dict[str, Any]) -> None:
    ops = operations(spec, "/webhooks/")
    assert set(ops) >= {
        f"{m} /webhooks/{p}" for m in ("GET", "POST") for p in ("inbound-sms", "delivery-receipt")
    }
    for name, op in ops.items():
        assert op["security"] == [], name
        assert errors_of(op) == {400, 401, 413, 429, 503}, name
        assert "204" in op["responses"], name
    body = ops["POST /webhooks/inbound-sms"]["requestBody"]["content"]["application/json"]
    assert {"msisdn", "to", "messageId", "text", "concat-ref"} <= set(body["schema"]["properties"])


async def test_the_dashboard_pages_are_not_in_the_document(spec: dict[str, Any]) -> None:
    assert all(path.startswith(("/api/", "/webhooks/")) for path in spec["paths"])


async def test_the_docs_page_shows_each_operations_errors(app: Quart) -> None:
    html = await (await app.test_client().get("/api/docs")).get_data(as_text=True)
    reveal = html.split('id="post-api-v1-chats-chat_id-participants-participant_id-reveal"')[1]
    reveal = reveal.split("</article>")[0]
    for status in ("200", "403", "404", "429"):
        assert f">{status}</span>" in reveal, status
    assert 'href="#shape-apierror"' in reveal
