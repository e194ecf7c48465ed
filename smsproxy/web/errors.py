"""Errors answer in the caller's language: JSON for the API and webhooks, HTML for pages."""

from __future__ import annotations

import logging
from typing import Any

from markupsafe import escape
from pydantic import ValidationError
from quart import Quart, Response, has_request_context, jsonify, render_template, request
from quart_schema import RequestSchemaValidationError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ..db import is_unavailable
from ..errors import ProxyError
from .bodies import too_large_message

log = logging.getLogger(__name__)

JSON_PREFIXES = ("/api/", "/webhooks/", "/healthz", "/openapi.json")


def wants_json() -> bool:
    if not has_request_context():
        # A WebSocket handler: there is no page to render, and JSON is what it speaks.
        return True
    return request.path.startswith(JSON_PREFIXES) or (
        request.accept_mimetypes.best == "application/json"
    )


def json_error(status: int, code: str, message: str, **extra: Any) -> Response:
    response = jsonify({"error": {"code": code, "message": message, **extra}})
    response.status_code = status
    return response


def describe_validation_error(error: Exception) -> tuple[str, list[dict[str, Any]]]:
    """One sentence plus per-field details from a pydantic (or other) validation error."""
    if isinstance(error, ValidationError):
        details = []
        for item in error.errors():
            where = ".".join(str(part) for part in item["loc"]) or "body"
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] == "extra_forbidden":
                message = "is not a known field"
            elif not item["loc"] and item["type"] in ("model_type", "dict_type"):
                # Not "an instance of ChatCreate": callers never see the class names.
                message = "must be a JSON object"
            details.append({"field": where, "message": message})
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
        return f"Invalid request: {summary}", details
    if isinstance(error, TypeError | ValueError) and "JSON" not in str(error):
        return f"Invalid request: {error}", []
    return "Request body is not valid JSON", []


def is_unstorable_value(error: SQLAlchemyError) -> bool:
    """A value from the request the database refuses: PostgreSQL's data exceptions
    (SQLSTATE class 22, such as a NUL in text) and out-of-range numbers or dates the
    driver cannot even send. The request's fault, so a 400 rather than a 500."""
    original = getattr(error, "orig", None)
    sqlstate = str(getattr(original, "sqlstate", None) or "")
    return sqlstate.startswith("22") or isinstance(original, OverflowError)


async def on_schema_error(error: RequestSchemaValidationError) -> Response:
    message, details = describe_validation_error(error.validation_error)
    if request.method in ("POST", "PUT", "PATCH") and not request.is_json:
        # quart-schema reads a form or an empty body as a missing JSON object.
        message = "Send the body as JSON with 'Content-Type: application/json'"
    return json_error(400, "invalid_request", message, details=details)


async def on_proxy_error(error: ProxyError) -> Any:
    if wants_json():
        extra = {"field": error.field} if error.field else {}
        return json_error(error.status, error.code, error.message, **extra)
    return await _html_error(error.status, error.message)


async def on_http_error(error: HTTPException) -> Any:
    status = error.code or 500
    message = error.description or error.name
    if wants_json():
        response = json_error(status, error.name.lower().replace(" ", "_"), message)
        for header in ("Retry-After", "Allow", "WWW-Authenticate"):
            original = error.get_response().headers.get(header)
            if original:
                response.headers[header] = original
        return response
    return await _html_error(status, message)


async def on_too_large(error: RequestEntityTooLarge) -> Any:
    message = too_large_message()
    if wants_json():
        return json_error(413, "request_entity_too_large", message)
    return await _html_error(413, message)


async def on_database_error(error: SQLAlchemyError | OSError) -> Any:
    """A driver that cannot connect may raise OSError itself rather than a database
    error; either way the caller (Vonage, an integration) should retry later."""
    if is_unavailable(error):
        log.warning("database unavailable: %s", type(error).__name__)
        if wants_json():
            response = json_error(503, "unavailable", "The database is unavailable; retry")
            response.headers["Retry-After"] = "5"
            return response
        return await _html_error(503, "The database is unavailable; try again shortly.")
    if isinstance(error, SQLAlchemyError) and is_unstorable_value(error):
        message = (
            "The request holds a value the database cannot store: text with a NUL "
            "character, or a number or date out of range"
        )
        if wants_json():
            return json_error(400, "invalid_request", message)
        return await _html_error(400, message)
    raise error


async def on_unexpected(error: Exception) -> Any:
    if has_request_context():
        log.exception("unhandled error on %s %s", request.method, request.path)
    else:
        log.exception("unhandled error")
    if wants_json():
        return json_error(500, "internal_error", "Something went wrong on our side")
    return await _html_error(500, "Something went wrong on our side.")


HANDLERS: list[tuple[type[Exception], Any]] = [
    (RequestSchemaValidationError, on_schema_error),
    (ProxyError, on_proxy_error),
    (RequestEntityTooLarge, on_too_large),
    (HTTPException, on_http_error),
    (OSError, on_database_error),
    (SQLAlchemyError, on_database_error),
    (Exception, on_unexpected),
]


def register_error_handlers(app: Quart) -> None:
    for kind, handler in HANDLERS:
        app.register_error_handler(kind, handler)


async def _html_error(status: int, message: str) -> tuple[str, int]:
    try:
        return await render_template("error.html", status=status, message=message), status
    except Exception:
        return f"<h1>{status}</h1><p>{escape(message)}</p>", status
