"""What the OpenAPI document says: the JSON API and the carrier's webhooks, each
operation with every error it may answer.

Handlers declare their success (`@validate_response`); the errors come from layers
around them (the body check, the key check, rate limits, the rules, the database), so
they are added here, in one place, to every operation: a route added later is
documented like the others without doing anything. A route that answers an error the
usual set lacks names it with `@documents_errors(403)`.

Which errors an API operation gets:
- every one: 400 (a body, query or value that cannot be read or stored), 401 (no key,
  or an unknown or revoked one), 429 (over a rate limit), 503 (the database is away);
- one with a path parameter: 404 (no such chat, participant, number);
- one with a query string: 422 (a value the rules refuse, such as a stale cursor);
- one that takes a body (POST, PUT, PATCH, DELETE): 409 (clashes with what is there),
  413 (body too large) and 422 (well-formed, but breaks a rule).
A webhook answers 204, or 400, 401 (signature), 413, 429 or 503, and needs no key.
The dashboard's HTML pages are not part of the document.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, Field
from quart_schema.openapi import OpenAPIProvider
from werkzeug.routing import Rule

F = TypeVar("F", bound=Callable[..., Any])
EXTRA_ERRORS_ATTRIBUTE = "__smsproxy_api_errors__"
NO_CONTENT_ATTRIBUTE = "__smsproxy_no_content__"
MEDIA_TYPES_ATTRIBUTE = "__smsproxy_media_types__"
API_PREFIX = "/api/"
WEBHOOK_PREFIX = "/webhooks/"
WEBHOOK_ERRORS = (400, 401, 413, 429, 503)
BODY_METHODS = frozenset({"post", "put", "patch", "delete"})

ERROR_MEANINGS = {
    400: "The body, query string or a value in them cannot be read or stored; "
    "`details` lists each field the schema refuses.",
    401: "No API key, or one that is unknown or revoked (`WWW-Authenticate: Bearer`); "
    "for a webhook, a missing or wrong signature.",
    403: "The API key may not do this.",
    404: "No such chat, participant, message or number.",
    409: "The request clashes with what is there (a number already in the pool, "
    "one still in use, no free proxy number).",
    413: "The body is larger than this path accepts.",
    422: "Well-formed, but breaks a rule; `field` says which value.",
    429: "Over a rate limit; `Retry-After` says how many seconds to wait.",
    503: "The database is unreachable for a moment; retry after `Retry-After` seconds.",
}


class ErrorDetail(BaseModel):
    field: str
    message: str


class ErrorInfo(BaseModel):
    code: str = Field(description="A stable, machine-readable name of the error")
    message: str = Field(description="What is wrong, for a person")
    field: str | None = Field(None, description="The request field at fault, when one is")
    details: list[ErrorDetail] | None = Field(None, description="One entry per refused field")


class ApiError(BaseModel):
    """Every error the API answers."""

    error: ErrorInfo


def documents_errors(*statuses: int) -> Callable[[F], F]:
    """Name errors this route answers beyond the usual set (see the module's doc)."""

    def decorator(func: F) -> F:
        known: frozenset[int] = getattr(func, EXTRA_ERRORS_ATTRIBUTE, frozenset())
        setattr(func, EXTRA_ERRORS_ATTRIBUTE, known | frozenset(statuses))
        return func

    return decorator


def no_content(func: F) -> F:
    """The route answers 204 with no body on success."""
    setattr(func, NO_CONTENT_ATTRIBUTE, True)
    return func


def also_answers(*media_types: str) -> Callable[[F], F]:
    """The route's success may also come as these media types (a file, as text)."""

    def decorator(func: F) -> F:
        setattr(func, MEDIA_TYPES_ATTRIBUTE, media_types)
        return func

    return decorator


def _add_media_types(responses: dict[Any, Any], media_types: tuple[str, ...]) -> None:
    for status, response in responses.items():
        if str(status).startswith("2") and "content" in response:
            for media_type in media_types:
                response["content"].setdefault(media_type, {"schema": {"type": "string"}})


def error_statuses(method: str, operation: dict[str, Any], extra: frozenset[int]) -> list[int]:
    statuses = {400, 401, 429, 503} | extra
    places = {parameter.get("in") for parameter in operation.get("parameters", [])}
    if "path" in places:
        statuses.add(404)
    if "query" in places:
        statuses.add(422)  # a value of the right type the rules refuse (a stale cursor)
    if method in BODY_METHODS:
        statuses |= {409, 413, 422}
    return sorted(statuses)


def error_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    """The error body's schema (a reference) and the components it needs."""
    schema = ApiError.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.pop("$defs", {})
    components["ApiError"] = schema
    return {"$ref": "#/components/schemas/ApiError"}, components


class ApiOpenAPIProvider(OpenAPIProvider):
    def generate_rules(self) -> Iterable[Rule]:
        for rule in super().generate_rules():
            if rule.rule.startswith((API_PREFIX, WEBHOOK_PREFIX)):
                yield rule

    def build_paths(self, rule: Rule) -> tuple[dict[str, Any], dict[str, Any]]:
        paths, components = super().build_paths(rule)
        func = self._app.view_functions[rule.endpoint]
        extra = frozenset(getattr(func, EXTRA_ERRORS_ATTRIBUTE, frozenset()))
        webhook = rule.rule.startswith(WEBHOOK_PREFIX)
        reference, schemas = error_schema()
        components.update(schemas)
        content = {"application/json": {"schema": reference}}
        for operations in paths.values():
            for method, operation in operations.items():
                responses = dict(operation.get("responses", {}))
                if webhook or getattr(func, NO_CONTENT_ATTRIBUTE, False):
                    responses.setdefault(204, {"description": "Done; no content"})
                statuses = WEBHOOK_ERRORS if webhook else error_statuses(method, operation, extra)
                for status in statuses:
                    description = ERROR_MEANINGS.get(status, "An error")
                    responses.setdefault(status, {"description": description, "content": content})
                _add_media_types(responses, getattr(func, MEDIA_TYPES_ATTRIBUTE, ()))
                operation["responses"] = responses
                if webhook:
                    operation["security"] = []  # the carrier signs instead
        return paths, components
