"""Request bodies: how large they may be per route, and JSON that is safe to use.

Every body is refused early, with a 400 or 413 that says why, when it could otherwise
fail later as a 500 (which makes a carrier retry a webhook for a day): a body over its
route's limit, JSON that is not UTF-8, nested deeper than any request of ours, or
holding a lone surrogate (text no database stores).
"""

from __future__ import annotations

import json
from typing import Any

from quart import has_request_context, request
from quart.wrappers import Request as QuartRequest
from werkzeug.exceptions import RequestEntityTooLarge

from ..errors import ProxyError

KIB = 1024
# The carrier's webhooks are a few hundred bytes (a Messages API one a few KiB); an
# API call at most ten participants or one long SMS; a form one SMS or a few fields.
BODY_LIMITS: tuple[tuple[str, int], ...] = (
    ("/webhooks/", 32 * KIB),
    ("/api/", 64 * KIB),
)
DEFAULT_BODY_LIMIT = 64 * KIB
# No request of ours nests more than a few levels.
MAX_JSON_DEPTH = 32
JSON_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class InvalidBody(ProxyError):
    """A body that cannot be read: answered 400 before any handler sees it."""

    status = 400
    code = "invalid_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        # A webhook's error says so, as the carrier parsers' own errors do.
        if has_request_context() and request.path.startswith("/webhooks/"):
            self.code = "malformed_webhook"


def body_limit(path: str) -> int:
    for prefix, limit in BODY_LIMITS:
        if path.startswith(prefix):
            return limit
    return DEFAULT_BODY_LIMIT


def load_json(raw: bytes) -> Any:
    """Parse a JSON body, or raise InvalidBody saying what is wrong with it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidBody(
            f"The body is not UTF-8 text (byte {error.start} cannot be decoded)"
        ) from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise InvalidBody(f"The JSON is nested deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError as error:
        raise InvalidBody(f"Request body is not valid JSON: {error}") from None
    check_json_value(value)
    return value


def check_json_value(value: Any) -> None:
    """Refuse JSON nested too deeply or holding a lone surrogate (JSON may escape one,
    "\\ud800", though no UTF-8 text can hold it, nor any database)."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise InvalidBody(f"The JSON is nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict):
            for key, child in item.items():
                _check_text(key)
                pending.append((child, depth + 1))
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidBody(
            f"The JSON holds a lone surrogate (\\u{ord(text[error.start]):04x}), "
            "which is not a character: send text as UTF-8"
        ) from None


class Request(QuartRequest):
    """Quart's request with a body limit per path and safe JSON parsing."""

    def __init__(
        self,
        method: str,
        scheme: str,
        path: str,
        *args: Any,
        max_content_length: int | None = None,
        **kwargs: Any,
    ) -> None:
        limit = body_limit(path)
        if max_content_length is not None:
            limit = min(limit, max_content_length)
        super().__init__(method, scheme, path, *args, max_content_length=limit, **kwargs)
        self.max_content_length = limit  # the form parser's limit too

    async def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        if cache and self._cached_json[silent] is not Ellipsis:
            return self._cached_json[silent]
        if not (force or self.is_json):
            return None
        raw = await self.get_data(cache=cache, as_text=False, parse_form_data=False)
        try:
            result = load_json(raw)
        except InvalidBody:
            if not silent:
                raise
            result = None
        if cache:
            self._cached_json[silent] = result
        return result

    def on_json_loading_failed(self, error: Exception | None) -> Any:
        if error is None:
            raise InvalidBody("Send the body as JSON with 'Content-Type: application/json'")
        raise InvalidBody(f"Request body is not valid JSON: {error}")


async def check_body() -> None:
    """Before anything else: a body declared larger than the path's limit is a 413, and
    a JSON body must parse safely or the request is a 400, whichever route it is for."""
    declared = request.content_length
    if declared is not None and declared > body_limit(request.path):
        raise RequestEntityTooLarge()
    if request.method in JSON_METHODS and request.is_json:
        raw = await request.get_data(cache=True, as_text=False, parse_form_data=False)
        if raw.strip():
            await request.get_json()


def too_large_message() -> str:
    """What a 413 says: the limit of the path the body was sent to."""
    limit = body_limit(request.path) if has_request_context() else DEFAULT_BODY_LIMIT
    return f"The request body is over {limit // KIB} KiB, the most this path accepts"
