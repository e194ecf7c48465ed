"""What every API route shares: the blueprint, bearer API keys, rate limits, bodies."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from pydantic import BaseModel, ValidationError
from quart import Blueprint, current_app, g, has_app_context, request
from quart_rate_limiter import RateLimit, limit_blueprint
from quart_schema import RequestSchemaValidationError
from werkzeug.exceptions import Unauthorized

from ...models import ApiKey
from ...proxy.keys import check_key
from .. import services
from ..bodies import load_json

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


async def connection_address() -> str:
    return f"address:{request.remote_addr or '-'}"


# app.config[ADDRESS_LIMITS_CONFIG] = {period in seconds: count} overrides the counts
# of the per-address limits for that app (tests use small numbers instead of waiting).
ADDRESS_LIMITS_CONFIG = "API_ADDRESS_LIMITS"


class AddressLimit(RateLimit):
    """A limit per connection address, whatever the Authorization header holds: the
    per-key limits trust the key's prefix before the key is checked, so a client
    inventing prefixes would otherwise get a fresh budget with each one."""

    def __init__(self, count: int, period: timedelta) -> None:
        super().__init__(count, period, key_function=connection_address)

    @property
    def count(self) -> int:
        tuned = current_app.config.get(ADDRESS_LIMITS_CONFIG) if has_app_context() else None
        return int((tuned or {}).get(self.period.total_seconds(), self._count))

    @count.setter
    def count(self, value: int) -> None:
        self._count = value


# Each API route carries these (@rate_limit(limits=API_LIMITS)): per key.
API_LIMITS = [
    RateLimit(50, timedelta(seconds=1), key_function=api_key_or_address),
    RateLimit(1000, timedelta(minutes=1), key_function=api_key_or_address),
]
# And the whole blueprint these, so no route can miss them: per address.
ADDRESS_LIMITS: list[RateLimit] = [
    AddressLimit(100, timedelta(seconds=1)),
    AddressLimit(3000, timedelta(minutes=1)),
]
limit_blueprint(blueprint, limits=ADDRESS_LIMITS)


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
        key = await check_key(services().db, token.strip())
        if key is None:
            raise MissingApiKey("The API key is unknown or revoked")
        g.api_key = key
        return await handler(*args, **kwargs)

    wrapper.__smsproxy_auth__ = "api_key"  # type: ignore[attr-defined]
    return wrapper


M = TypeVar("M", bound=BaseModel)


async def optional_body(model: type[M]) -> M:
    """Validate a JSON body that may be left out entirely (defaults apply)."""
    raw = await request.get_data(cache=True, as_text=False, parse_form_data=False)
    if not raw.strip():
        return model()
    data = load_json(raw)
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
