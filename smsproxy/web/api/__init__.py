"""JSON API v1: bearer API keys, JSON errors, OpenAPI at /openapi.json, docs at /api/docs."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from pydantic import BaseModel, ValidationError
from quart import Blueprint, g, request
from quart_rate_limiter import RateLimit
from quart_schema import RequestSchemaValidationError
from werkzeug.exceptions import Unauthorized

from ...models import ApiKey
from ...proxy.keys import verify_key
from .. import runtime

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")

P = ParamSpec("P")
R = TypeVar("R")


async def api_key_or_address() -> str:
    """Rate limits count per API key (by its public prefix), else per address."""
    header = request.headers.get("Authorization", "")
    token = header.removeprefix("Bearer ").strip()
    # The connection's address, not X-Forwarded-For, which any client can set; behind a
    # proxy, run hypercorn with its proxy-headers middleware.
    return f"key:{token[:12]}" if token.startswith("spx_") else (request.remote_addr or "-")


API_LIMITS = [
    RateLimit(50, timedelta(seconds=1), key_function=api_key_or_address),
    RateLimit(1000, timedelta(minutes=1), key_function=api_key_or_address),
]


class MissingApiKey(Unauthorized):
    def __init__(self, description: str) -> None:
        super().__init__(description)

    def get_headers(self, *args: Any, **kwargs: Any) -> list[tuple[str, str]]:
        return [*super().get_headers(*args, **kwargs), ("WWW-Authenticate", "Bearer")]


def api_key_required(handler: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Require `Authorization: Bearer <key>`; the key is then `g.api_key`."""

    @wraps(handler)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise MissingApiKey("Send an API key as 'Authorization: Bearer <key>'")
        async with runtime().db.transaction() as session:
            key = await verify_key(session, token.strip())
        if key is None:
            raise MissingApiKey("The API key is unknown or revoked")
        g.api_key = key
        return await handler(*args, **kwargs)

    wrapper.__smsproxy_auth__ = "api_key"  # type: ignore[attr-defined]
    return wrapper


M = TypeVar("M", bound=BaseModel)


async def optional_body(model: type[M]) -> M:
    """Validate a JSON body that may be left out entirely (defaults apply)."""
    raw = await request.get_data(as_text=True)
    if not raw.strip():
        return model()
    try:
        data = json.loads(raw)
    except ValueError:
        raise RequestSchemaValidationError(ValueError("JSON")) from None
    if data is None:  # an explicit JSON null asks for the defaults, like no body
        return model()
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise RequestSchemaValidationError(error) from None


def current_key() -> ApiKey:
    key: ApiKey = g.api_key
    return key


def actor() -> str:
    return f"api_key:{current_key().prefix}"


from . import chats, messages, numbers  # noqa: E402,F401  (routes register on the blueprint)
