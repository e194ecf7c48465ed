"""The API reference at /api/docs: made from the app's OpenAPI document, so every API
route is on it (a route added later too), with nothing loaded from other sites; and its
examples are what the API really does."""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from pydantic import BaseModel, Field
from quart import Blueprint, Quart
from quart.typing import TestClientProtocol as Client
from quart_rate_limiter import rate_limit
from quart_schema import validate_querystring, validate_response

from smsproxy import errors as proxy_errors
from smsproxy.config import Settings
from smsproxy.runtime import Runtime
from smsproxy.web.api.base import API_LIMITS, api_key_required
from tests.helpers import add_numbers, auth

IGNORED_METHODS = {"HEAD", "OPTIONS"}


async def docs_page(client: Client) -> str:
    response = await client.get("/api/docs")
    assert response.status_code == 200
    assert response.content_type.startswith("text/html")
    return await response.get_data(as_text=True)


def visible_text(page: str) -> str:
    """What a reader sees: tags dropped, entities decoded, white space squeezed."""
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())
    return re.sub(r"\( | (?=[.,;:)])", lambda m: m.group(0).strip(), text)


def api_operations(app: Quart) -> list[tuple[str, str, str]]:
    """(method, path as OpenAPI writes it, first line of the handler's docstring) for
    every API route."""
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.rule == "/api/docs":
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        doc = (app.view_functions[rule.endpoint].__doc__ or "").strip().splitlines()
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            found.append((method, path, doc[0] if doc else ""))
    return found


def missing_operations(app: Quart, page: str) -> list[str]:
    text = visible_text(page)
    missing = []
    for method, path, summary in api_operations(app):
        if f"{method} {path}" not in text:
            missing.append(f"{method} {path}")
        elif summary and summary not in text:
            missing.append(f"{method} {path}: its summary {summary!r}")
    return missing


def operation(page: str, anchor: str) -> str:
    start = page.index(f'<article class="card docs-op" id="{anchor}"')
    return page[start : page.index("</article>", start)]


async def test_every_api_route_is_on_the_page(app: Quart) -> None:
    page = await docs_page(app.test_client())
    # The walk sees the API as it is (its converters too), not an empty list.
    routes = {(method, path) for method, path, _ in api_operations(app)}
    assert {
        ("POST", "/api/v1/chats/{chat_id}/close"),
        ("DELETE", "/api/v1/numbers/{number}"),
    } <= routes
    assert missing_operations(app, page) == []


# A route the page has never heard of shows up on it: the page is generated, not written.

extra = Blueprint("extra", __name__, url_prefix="/api/v1")


class ReportQuery(BaseModel):
    # Optional: quart-schema 0.25 marks no query parameter required in /openapi.json.
    region: str = Field("GB", max_length=12, description="Two-letter region code")


class Report(BaseModel):
    """Texts sent in one region."""

    sent: int = Field(description="SMS sent so far")


@extra.get("/reports")
@rate_limit(limits=API_LIMITS)
@api_key_required
@validate_querystring(ReportQuery)
@validate_response(Report)
async def get_reports(query_args: ReportQuery) -> Report:
    """Count the texts of a region."""
    return Report(sent=0)


@pytest.fixture
async def extra_app(settings: Settings) -> Any:
    from smsproxy.app import create_app

    value = create_app(settings, background=False)
    value.register_blueprint(extra)
    async with value.test_app():
        yield value


async def test_a_route_added_later_is_on_the_page(extra_app: Quart) -> None:
    page = await docs_page(extra_app.test_client())
    assert missing_operations(extra_app, page) == []
    report = visible_text(operation(page, "get-api-v1-reports"))
    assert "GET /api/v1/reports Count the texts of a region." in report
    assert (
        'region string optional Two-letter region code. At most 12 characters. Default "GB".'
        in report
    )
    assert "200 OK: Report. Texts sent in one region." in report
    assert "sent integer required SMS sent so far." in visible_text(page)


async def test_the_check_catches_a_route_missing_from_the_page(extra_app: Quart) -> None:
    page = await docs_page(extra_app.test_client())
    without = page.replace("/api/v1/reports", "/api/v1/elsewhere")
    assert missing_operations(extra_app, without) == ["GET /api/v1/reports"]


class Resources(HTMLParser):
    """Every URL the page makes a browser fetch by itself."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and values.get("src") is None:
            self.inline_scripts += 1
        for name in ("src", "srcset", "data", "poster"):
            if values.get(name):
                self.urls.append(str(values[name]))
        if tag == "link" and values.get("href"):
            self.urls.append(str(values["href"]))
        for url in re.findall(r"url\(\s*['\"]?([^'\")]+)", values.get("style") or ""):
            self.urls.append(url)


def is_external(url: str) -> bool:
    return bool(re.match(r"^([a-z][a-z0-9+.-]*:)?//", url, re.I))


async def test_nothing_comes_from_other_sites(app: Quart) -> None:
    client = app.test_client()
    page = await docs_page(client)
    resources = Resources()
    resources.feed(page)
    assert resources.urls, "the page loads no styles at all"
    assert [url for url in resources.urls if is_external(url)] == []
    assert resources.inline_scripts == 0
    for style in re.findall(r"<style\b.*?</style>", page, flags=re.S):
        assert not re.search(r"(@import|url\()\s*['\"]?([a-z]+:)?//", style, re.I)
    for url in resources.urls:
        if url.startswith("data:"):
            continue
        fetched = await client.get(url)
        assert fetched.status_code == 200, url
        if url.endswith(".css"):
            css = await fetched.get_data(as_text=True)
            assert not re.search(r"(@import|url\()\s*['\"]?([a-z]+:)?//", css, re.I), url
    assert "swagger" not in page.lower() and "cdn." not in page.lower()


def test_the_swagger_page_is_gone(app: Quart) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.rule == "/api/docs"}
    assert endpoints == {"docs.get_api_docs"}
    assert "swagger_ui" not in {rule.endpoint for rule in app.url_map.iter_rules()}


async def test_a_request_body_in_full(app: Quart) -> None:
    body = visible_text(operation(await docs_page(app.test_client()), "post-api-v1-chats"))
    for row in (
        "participants array of ParticipantIn required 2 to 10 items.",
        "participants[].number string required Real phone number, any common format. "
        "At most 40 characters.",
        "participants[].name string optional Display name used in intro SMS. "
        'At most 100 characters. Default "".',
        "ttl_seconds integer or null optional Close after this long without messages. "
        "60 to 31622400. Default null.",
        "expires_at string (date-time) or null optional",
        "intro boolean optional Send each participant an intro SMS. Default true.",
        "fields not listed here are refused",
        "201 Created: ChatOut",
        "Needs an API key",
    ):
        assert row in body


async def test_query_and_path_parameters_and_response_shapes(app: Quart) -> None:
    page = await docs_page(app.test_client())
    listing = visible_text(operation(page, "get-api-v1-chats"))
    assert 'status "active" | "closed" or null optional' in listing
    assert "limit integer optional 1 to 200. Default 50." in listing
    one = visible_text(operation(page, "get-api-v1-chats-chat_id"))
    assert "Path parameters" in one and "chat_id string required" in one
    shapes = visible_text(page[page.index('id="shapes"') :])
    assert "ChatOut" in shapes and "participants[].proxy_number string required" in shapes
    assert "The number this participant texts." in shapes
    assert 'href="#shape-chatout"' in page and 'id="shape-chatout"' in page


async def test_authentication_is_explained(app: Quart) -> None:
    text = visible_text(await docs_page(app.test_client()))
    assert "Authorization: Bearer <key>" in text
    assert "smsproxy api-keys create NAME" in text


async def test_the_curl_example_creates_a_chat(
    app: Quart, app_runtime: Runtime, api_key: str
) -> None:
    page = await docs_page(app.test_client())
    found = re.search(r'<pre class="docs-example"[^>]*><code>(.*?)</code></pre>', page, re.S)
    assert found
    command = html.unescape(found.group(1))
    url = re.search(r"curl -s (\S+)", command)
    data = re.search(r"-d '(.*)'", command, re.S)
    key = re.search(r"-H 'Idempotency-Key: ([^']+)'", command)
    assert url and data and key and "-H 'Content-Type: application/json'" in command
    assert '-H "Authorization: Bearer $KEY"' in command
    assert url.group(1) == "http://localhost/api/v1/chats"
    body = json.loads(data.group(1))
    await add_numbers(app_runtime, "+447700900901", "+447700900902")
    headers = {**auth(api_key), "Idempotency-Key": key.group(1)}
    response = await app.test_client().post("/api/v1/chats", json=body, headers=headers)
    assert response.status_code == 201, await response.get_data(as_text=True)
    chat = await response.get_json()
    assert [p["name"] for p in chat["participants"]] == ["Rider", "Driver"]


async def test_the_curl_example_uses_the_public_url(database_url: str) -> None:
    from smsproxy.app import create_app
    from tests.conftest import make_settings

    settings = make_settings(database_url, public_url="https://sms.example.org/")
    app = create_app(settings, background=False)
    async with app.test_app():
        page = await docs_page(app.test_client())
    assert "curl -s https://sms.example.org/api/v1/chats" in html.unescape(page)


async def test_the_error_example_is_what_the_api_answers(app: Quart, api_key: str) -> None:
    page = await docs_page(app.test_client())
    section = page[page.index('id="errors"') :]
    found = re.search(r"<pre[^>]*><code>(.*?)</code></pre>", section, re.S)
    assert found
    example = json.loads(html.unescape(found.group(1)))
    one = {"participants": [{"number": "+447700900001", "name": "Rider"}]}
    response = await app.test_client().post("/api/v1/chats", json=one, headers=auth(api_key))
    assert response.status_code == 400
    assert await response.get_json() == example


def error_rows(page: str) -> set[tuple[int, str]]:
    table = page[page.index('<table class="table docs-errors">') :]
    table = table[: table.index("</table>")]
    rows = re.findall(r'<td class="num">(\d+)</td>\s*<th scope="row" class="mono">([^<]+)<', table)
    return {(int(status), code) for status, code in rows}


def rule_errors() -> list[type[proxy_errors.ProxyError]]:
    found, todo = [], [proxy_errors.ProxyError]
    while todo:
        error = todo.pop()
        found.append(error)
        todo += error.__subclasses__()
    return [e for e in found if e.__module__ == proxy_errors.__name__]


async def test_every_error_code_is_listed_with_its_meaning(app: Quart) -> None:
    page = await docs_page(app.test_client())
    rows = error_rows(page)
    for error in rule_errors():
        assert (error.status, error.code) in rows, error.__name__
    client = app.test_client()
    for response in (
        await client.get("/api/v1/chats"),  # no key
        await client.get("/api/v1/chats", headers=auth("spx_unknown")),
        await client.get("/api/v1/nothing-here"),
        await client.delete("/api/v1/chats"),
    ):
        answer = await response.get_json()
        assert (response.status_code, answer["error"]["code"]) in rows
    meanings = re.findall(r'class="mono">[^<]+</th>\s*<td>([^<]*)', page)
    assert meanings and all(m.strip() for m in meanings)


async def test_staff_see_it_in_the_dashboard(staff_client: Client) -> None:
    page = await docs_page(staff_client)
    assert '<a href="/api/docs" aria-current="page">Docs</a>' in page
    assert "Staff log in" not in page


async def test_visitors_see_it_without_logging_in(app: Quart) -> None:
    page = await docs_page(app.test_client())
    assert "Staff log in" in page and 'class="sidebar"' not in page
