"""Domain errors. Each carries a message a person can act on, with numbers masked."""

from __future__ import annotations


class ProxyError(Exception):
    """Base of the errors the rules raise; `status` is the HTTP status that fits."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidNumber(ProxyError):
    status = 422
    code = "invalid_number"

    def __init__(self, raw: str, reason: str, *, field: str | None = None) -> None:
        shown = raw if len(raw or "") <= 40 else raw[:37] + "..."
        super().__init__(f"{shown!r} {reason}", field=field)


class InvalidInput(ProxyError):
    """A value that breaks a rule and is about no chat in particular (a key's name,
    a header)."""

    status = 422
    code = "invalid_request"


class InvalidChat(ProxyError):
    status = 422
    code = "invalid_chat"


class PoolExhausted(ProxyError):
    status = 409
    code = "pool_exhausted"


class NotFound(ProxyError):
    status = 404
    code = "not_found"


class Conflict(ProxyError):
    status = 409
    code = "conflict"


class InvalidQuery(ProxyError):
    """A search that cannot be run: nothing to look for, too long, a stale page link."""

    status = 400
    code = "invalid_query"
