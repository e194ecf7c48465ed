"""API errors: auth, bad input, never a 500, never a whole real number; the docs."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from quart_rate_limiter import QUART_RATE_LIMITER_LIMITS_ATTRIBUTE

from smsproxy.proxy import keys
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, auth

PROXY = "+447700900901"
RIDER, DRIVER, HELPER = "+447700900001", "+447700900002", "+447700900003"
PAIR = [{"number": RIDER}, {"number": DRIVER}]


def api_routes(app: Quart) -> list[tuple[str, str, str]]:
    """(method, path with placeholders filled, endpoint) for every API route."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", "x", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            found.append((method, path, rule.endpoint))
    return found


async def send(client: Client, method: str, path: str, headers: dict[str, str]) -> Any:
    return await client.open(path, method=method, headers=headers, json={})


def test_the_api_has_the_routes_the_issue_asks_for(app: Quart) -> None:
    routes = {(m, p) for m, p, _ in api_routes(app)}
    assert {
        ("POST", "/api/v1/chats"),
        ("GET", "/api/v1/chats"),
        ("GET", "/api/v1/chats/x"),
        ("GET", "/api/v1/chats/x/messages"),
        ("POST", "/api/v1/chats/x/close"),
        ("GET", "/api/v1/numbers"),
        ("POST", "/api/v1/numbers"),
        ("DELETE", "/api/v1/numbers/x"),
    } <= routes


def test_every_api_route_requires_a_key_and_is_rate_limited(app: Quart) -> None:
    for _, path, endpoint in api_routes(app):
        view = app.view_functions[endpoint]
        assert getattr(view, "__smsproxy_auth__", None) == "api_key", path
        assert getattr(view, QUART_RATE_LIMITER_LIMITS_ATTRIBUTE, []), path


@pytest.mark.parametrize(
    ("header", "words"),
    [
        (None, "Send an API key as 'Authorization: Bearer <key>'"),
        ("Basic dXNlcjpwYXNz", "Send an API key"),
        ("Bearer", "Send an API key"),
        ("Bearer    ", "Send an API key"),
        ("spx_no_scheme", "Send an API key"),
        ("Bearer spx_unknownkey", "unknown or revoked"),
        ("Bearer not-even-our-format", "unknown or revoked"),
    ],
)
async def test_every_api_route_refuses_missing_or_bad_keys(
    app: Quart, api_key: str, header: str | None, words: str
) -> None:
    client = app.test_client()
    headers = {"Authorization": header} if header is not None else {}
    for method, path, _ in api_routes(app):
        response = await send(client, method, path, headers)
        assert response.status_code == 401, (method, path)
        assert response.headers.get("WWW-Authenticate") == "Bearer", (method, path)
        error = (await response.get_json())["error"]
        assert error["code"] == "unauthorized"
        assert words in error["message"]


async def test_a_revoked_key_is_refused(app: Quart, api_key: str) -> None:
    client = app.test_client()
    assert (await client.get("/api/v1/chats", headers=auth(api_key))).status_code == 200
    rt: Runtime = app.extensions["smsproxy"]
    async with rt.db.transaction() as session:
        await keys.revoke_key(session, api_key, actor="tests")
    for method, path, _ in api_routes(app):
        response = await send(client, method, path, auth(api_key))
        assert response.status_code == 401, (method, path)
        assert response.headers.get("WWW-Authenticate") == "Bearer"
        assert "unknown or revoked" in (await response.get_json())["error"]["message"]


async def test_the_scheme_name_is_case_insensitive(app: Quart, api_key: str) -> None:
    response = await app.test_client().get(
        "/api/v1/numbers", headers={"Authorization": f"bearer {api_key}"}
    )
    assert response.status_code == 200


JSON = {"Content-Type": "application/json"}
BAD = "invalid_request"  # a shape the schema refuses: 400
INVALID = "invalid_chat"  # a shape that parses, and breaks a rule: 422
TOO_LARGE = "request_entity_too_large"
Case = tuple[str, str, dict[str, Any], int, str, str]


def create(body: Any, status: int, code: str, words: str) -> Case:
    """POST /chats with this JSON body should answer `status`, `code` and `words`."""
    return ("POST", "/chats", {"json": body}, status, code, words)


def with_pair(extra: dict[str, Any], status: int, code: str, words: str) -> Case:
    return create({"participants": PAIR, **extra}, status, code, words)


def second(person: dict[str, Any], status: int, code: str, words: str) -> Case:
    return create({"participants": [PAIR[0], person]}, status, code, words)


def get(path: str, status: int, code: str, words: str) -> Case:
    return ("GET", path, {}, status, code, words)


FORM = {"data": "participants=1", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}
ELEVEN = [{"number": f"+4477009001{i:02d}"} for i in range(11)]
NO_CHAT = "/chats/ch_0000000000000000"
HUGE_CURSOR = "Yzk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5"
CASES: list[Case] = [
    ("POST", "/chats", {"data": '{"participants": [', "headers": JSON}, 400, BAD, "not valid JSON"),
    ("POST", "/chats", FORM, 400, BAD, "Content-Type: application/json"),
    ("POST", "/chats", {"data": ""}, 400, BAD, "Content-Type: application/json"),
    create([1, 2], 400, BAD, "body: must be a JSON object"),
    create({}, 400, BAD, "participants: Field required"),
    create({"participants": "two"}, 400, BAD, "participants: Input should be a valid list"),
    create({"participants": PAIR[:1]}, 400, BAD, "List should have at least 2 items"),
    create({"participants": ELEVEN}, 400, BAD, "participants: List should have at most 10 items"),
    with_pair({"colour": "red"}, 400, BAD, "colour: is not a known field"),
    with_pair({"ttl_seconds": "soon"}, 400, BAD, "ttl_seconds: Input should be a valid integer"),
    with_pair({"ttl_seconds": 59}, 400, BAD, "ttl_seconds: Input should be greater than or equal"),
    with_pair({"intro": "maybe"}, 400, BAD, "intro: Input should be a valid boolean"),
    with_pair({"reference": "r" * 201}, 400, BAD, "reference: String should have at most 200"),
    with_pair({"reference": "a\u0000b"}, 422, INVALID, "reference has control characters"),
    with_pair({"expires_at": "2001-01-01T00:00:00Z"}, 422, INVALID, "expires_at is in the past"),
    with_pair({"expires_at": "2101-01-01T00:00:00"}, 400, BAD, "expires_at: Input should have tim"),
    with_pair({"expires_at": "9999-12-31T23:59:59-12:00"}, 422, INVALID, "too far in the future"),
    second({"number": RIDER, "phone": 1}, 400, BAD, "participants.1.phone: is not a known field"),
    second({"number": 447700900002}, 400, BAD, "participants.1.number: Input should be a valid"),
    second({"number": "banana"}, 422, "invalid_number", "Participant 2's number 'banana' has char"),
    second({"number": "07700 900002"}, 422, "invalid_number", "has no country code"),
    second({"number": "+44 12"}, 422, "invalid_number", "wrong number of digits"),
    second({"number": "447700900001"}, 422, INVALID, "have the same number (+44770•••••01)"),
    second({"number": PROXY}, 422, INVALID, "one of the pool's proxy numbers"),
    second({"number": DRIVER, "name": "\u0000"}, 422, INVALID, "2's name has control characters"),
    get("/chats?cursor=bad!", 422, INVALID, "cursor is not one this API returned"),
    get(f"/chats?cursor={HUGE_CURSOR}", 422, INVALID, "cursor is not one this API returned"),
    get("/chats?limit=0", 400, BAD, "limit: Input should be greater than or equal to 1"),
    get("/chats?limit=many", 400, BAD, "limit: Input should be a valid integer"),
    get("/chats?status=open", 400, BAD, "status: Input should be 'active' or 'closed'"),
    get("/chats?colour=red", 400, BAD, "colour: is not a known field"),
    get(NO_CHAT, 404, "not_found", "No chat with id 'ch_0000000000000000'"),
    get(f"{NO_CHAT}/messages", 404, "not_found", "No chat with id"),
    get("/nowhere", 404, "not_found", "not found"),
    ("POST", f"{NO_CHAT}/close", {}, 404, "not_found", "No chat with id"),
    ("POST", "/chats/x/close", {"data": "{", "headers": JSON}, 400, BAD, "not valid JSON"),
    ("POST", "/chats/x/close", {"json": {"reason": "x"}}, 400, BAD, "reason: is not a known field"),
    ("POST", "/chats/x/close", {"json": {"goodbye": "perhaps"}}, 400, BAD, "goodbye: Input"),
    ("PUT", "/chats", {}, 405, "method_not_allowed", "not allowed"),
    ("POST", "/chats", {"data": "x" * 1_048_577, "headers": JSON}, 413, TOO_LARGE, ""),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "request_args", "status", "code", "words"),
    CASES,
    ids=[f"{c[0]} {c[1][:30]} {c[5][:30]}" for c in CASES],
)
async def test_bad_requests_get_a_clear_json_error(
    app: Quart,
    api_key: str,
    method: str,
    path: str,
    request_args: dict[str, Any],
    status: int,
    code: str,
    words: str,
) -> None:
    await add_numbers(app.extensions["smsproxy"], PROXY)
    args = {**request_args, "headers": {**auth(api_key), **request_args.get("headers", {})}}
    response = await app.test_client().open(f"/api/v1{path}", method=method, **args)
    assert response.content_type == "application/json"
    body = await response.get_json()
    assert response.status_code == status, body
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert words in body["error"]["message"]


@pytest.mark.parametrize(
    "path",
    ["/chats?reference=a%00b", "/chats/ch_%00", "/chats/ch_%00/messages", "/numbers/%2B44%00"],
)
async def test_a_nul_character_anywhere_is_never_a_500(app: Quart, api_key: str, path: str) -> None:
    """PostgreSQL refuses NUL in text outright; SQLite stores it. Neither may answer 500."""
    client = app.test_client()
    call = client.delete if path.startswith("/numbers") else client.get
    response = await call(f"/api/v1{path}", headers=auth(api_key))
    assert response.status_code in {200, 400, 404, 422}
    body = await response.get_json()
    if response.status_code != 200:
        assert body["error"]["message"]


async def test_pool_exhausted_is_a_409_that_names_who(app: Quart, api_key: str) -> None:
    await add_numbers(app.extensions["smsproxy"], PROXY)
    client = app.test_client()
    first = await client.post("/api/v1/chats", json={"participants": PAIR}, headers=auth(api_key))
    assert first.status_code == 201
    response = await client.post(
        "/api/v1/chats",
        json={"participants": [{"number": HELPER}, {"number": DRIVER}]},
        headers=auth(api_key),
    )
    assert response.status_code == 409
    assert (await response.get_json())["error"] == {
        "code": "pool_exhausted",
        "field": "participants.1.number",
        "message": "No proxy number is free for participant 2 (+44770•••••02): they already "
        "have active chats on all 1 enabled number of the pool. Add numbers or close chats.",
    }


async def test_no_response_ever_shows_a_whole_real_number(app: Quart, api_key: str) -> None:
    """Walk the API through a chat's life and its refusals; scan every answer."""
    await add_numbers(app.extensions["smsproxy"], PROXY)
    client = app.test_client()
    answers: list[tuple[int, str]] = []

    async def call(method: str, path: str, body: Any = None, **params: str) -> Any:
        response = await client.open(
            f"/api/v1{path}", method=method, json=body, headers=auth(api_key), query_string=params
        )
        text = await response.get_data(as_text=True)
        answers.append((response.status_code, text))
        return json.loads(text) if text else None

    trio = [{"number": RIDER, "name": "R"}, {"number": DRIVER}, {"number": HELPER}]
    chat = await call("POST", "/chats", {"participants": trio, "reference": "b-1"})
    await call("POST", "/chats", {"participants": trio}, **{})  # pool exhausted for all
    await call("POST", "/chats", {"participants": [trio[0], {"number": "447700900001"}]})
    await call("POST", "/chats", {"participants": [trio[0], {"number": PROXY}]})
    await call("GET", "/chats")
    await call("GET", "/chats", reference="b-1")
    await call("GET", f"/chats/{chat['id']}")
    await call("GET", f"/chats/{chat['id']}/messages")
    await call("GET", "/numbers")
    await call("POST", "/numbers", {"number": RIDER})  # a participant's own number
    await call("POST", f"/chats/{chat['id']}/close")
    await call("GET", f"/chats/{chat['id']}/messages")

    assert [status for status, _ in answers] == [
        201, 409, 422, 422, 200, 200, 200, 200, 200, 409, 200, 200
    ]  # fmt: skip
    for _, text in answers:
        for number in (RIDER, DRIVER, HELPER):
            assert number not in text
            assert number.removeprefix("+") not in text
            assert json.dumps(number) not in text


async def test_openapi_lists_every_api_route(app: Quart) -> None:
    response = await app.test_client().get("/openapi.json")
    assert response.status_code == 200
    spec = await response.get_json()
    documented = {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method in {"get", "post", "put", "patch", "delete"}
    }
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert (method, path) in documented, (method, path)
    create = spec["paths"]["/api/v1/chats"]["post"]
    assert create["summary"]
    assert "201" in create["responses"]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


async def test_the_docs_page_answers(app: Quart) -> None:
    response = await app.test_client().get("/api/docs")
    assert response.status_code == 200
    page = await response.get_data(as_text=True)
    assert "/openapi.json" in page
    assert "API reference" in page  # our own page (tests/web/api/test_docs.py), not Swagger UI
