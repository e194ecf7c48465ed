"""The API reference at /api/docs, rendered on the server from the app's own OpenAPI
document (/openapi.json): no scripts or styles from elsewhere, so it reads the same on
a machine without internet. Public, like /openapi.json: it describes shapes, no data."""

from __future__ import annotations

import json
from typing import Any

from markupsafe import Markup
from pydantic import ValidationError
from quart import Blueprint, current_app, render_template, request, url_for
from quart_schema import hide

from .. import errors as proxy_errors
from . import settings
from .api import blueprint as api_blueprint
from .api.chats import ChatCreate
from .errors import describe_validation_error
from .guards import public
from .openapi_view import ApiDoc, read_spec

blueprint = Blueprint("docs", __name__)

CACHE_KEY = "smsproxy.api_doc"

# Errors the web layer answers itself, before or around the rules.
HTTP_ERRORS = [
    (
        400,
        "invalid_request",
        "The body or query string does not fit the schema, or is not "
        "JSON; `details` lists each field with what is wrong.",
    ),
    (400, "bad_request", "The request cannot be read, or breaks a rule; `message` says what."),
    (
        401,
        "unauthorized",
        "No API key, or one that is unknown or revoked. The answer "
        "carries `WWW-Authenticate: Bearer`.",
    ),
    (
        403,
        "forbidden",
        "The API key may not do this (revealing a number needs a key with that permission).",
    ),
    (404, "not_found", "No such path, or no chat, participant, message or number with that id."),
    (405, "method_not_allowed", "The path exists but not with this method."),
    (413, "request_entity_too_large", "The body is over {max_kib} KiB."),
    (429, "too_many_requests", "Over the rate limit; `Retry-After` says how many seconds to wait."),
    (500, "internal_error", "A fault on the server; retry later, and tell its operators."),
    (
        503,
        "unavailable",
        "The database is unreachable for a moment; retry after `Retry-After` seconds.",
    ),
]

# What each of the rules' errors means to a caller; a class's docstring serves otherwise.
RULE_ERRORS = {
    "invalid_number": "A phone number that cannot be read as a number; `field` says which.",
    "invalid_chat": "The chat or message asked for breaks a rule (a closed chat, the same "
    "person twice, an Idempotency-Key reused with another body, …); `field` says where.",
    "pool_exhausted": "A participant has no free proxy number: each number in the pool "
    "already carries an active chat of theirs. Add numbers or close chats.",
    "not_found": "No chat, message or number with that id.",
    "conflict": "The request clashes with what is there: a number added twice, or "
    "removed while it carries active chats.",
}

EXAMPLE_CHAT: dict[str, Any] = {
    "participants": [
        {"number": "+447700900001", "name": "Rider"},
        {"number": "+447700900002", "name": "Driver"},
    ],
    "reference": "booking-42",
    "ttl_seconds": 3600,
}


def api_doc() -> ApiDoc:
    """The reference, read once per app: routes do not change while it serves."""
    doc: ApiDoc | None = current_app.extensions.get(CACHE_KEY)
    if doc is None:
        spec = current_app.extensions["QUART_SCHEMA"].openapi_provider.schema()
        doc = read_spec(spec, api_blueprint.url_prefix or "/api")
        current_app.extensions[CACHE_KEY] = doc
    return doc


def error_table() -> list[tuple[int, str, str]]:
    max_kib = (current_app.config.get("MAX_CONTENT_LENGTH") or 0) // 1024
    rows = {
        (status, code): meaning.replace("{max_kib}", str(max_kib))
        for status, code, meaning in HTTP_ERRORS
    }
    for error in _rule_errors():
        meaning = RULE_ERRORS.get(error.code) or _first_paragraph(error.__doc__)
        rows.setdefault((error.status, error.code), meaning)
    return sorted((status, code, meaning) for (status, code), meaning in rows.items())


def _rule_errors() -> list[type[proxy_errors.ProxyError]]:
    found, todo = [], [proxy_errors.ProxyError]
    while todo:
        error = todo.pop()
        if error.__module__ == proxy_errors.__name__:
            found.append(error)
        todo += error.__subclasses__()
    return found


def _first_paragraph(text: str | None) -> str:
    return " ".join((text or "").strip().split("\n\n")[0].split())


def base_url() -> str:
    return (settings().public_url or request.host_url).rstrip("/")


def error_example() -> str:
    """What the API answers to a chat with one participant, made by the real check."""
    try:
        ChatCreate.model_validate({"participants": EXAMPLE_CHAT["participants"][:1]})
    except ValidationError as error:
        message, details = describe_validation_error(error)
    else:  # pragma: no cover - the schema asks for two participants
        raise AssertionError("ChatCreate took a chat with one participant")
    answer = {"error": {"code": "invalid_request", "message": message, "details": details}}
    return json.dumps(answer, indent=2, ensure_ascii=False)


def curl_example() -> str:
    body = json.dumps(EXAMPLE_CHAT, indent=2)
    return "\n".join(
        [
            f"curl -s {base_url()}{url_for('api.post_chat')} \\",
            '  -H "Authorization: Bearer $KEY" \\',
            "  -H 'Content-Type: application/json' \\",
            "  -H 'Idempotency-Key: booking-42' \\",
            f"  -d '{body}'",
        ]
    )


@blueprint.app_template_filter("inline_code")
def inline_code(text: str) -> Markup:
    """Docstrings write code between backticks; show it as code, escape the rest."""
    parts = str(text).split("`")
    code = Markup("<code>{}</code>")
    return Markup("").join(code.format(p) if i % 2 else p for i, p in enumerate(parts))


@blueprint.app_template_filter("sentence")
def sentence(text: str) -> str:
    """Field descriptions are phrases; the page shows them as sentences."""
    text = text.strip()
    return text if not text or text[-1] in ".!?:" else text + "."


@blueprint.get("/api/docs")
@public
@hide
async def get_api_docs() -> str:
    """The API reference page."""
    return await render_template(
        "api_docs.html",
        doc=api_doc(),
        errors=error_table(),
        curl=curl_example(),
        error_example=error_example(),
        base_url=base_url(),
    )
