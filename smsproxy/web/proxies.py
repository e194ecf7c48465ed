"""Serving behind load balancers and reverse proxies (TRUSTED_PROXY_HOPS).

The proxies in front append the client's address to X-Forwarded-For and say the scheme
and host the browser used in X-Forwarded-Proto and X-Forwarded-Host. With N trusted
hops the app takes the N-th value from the end of each, the one the outermost trusted
proxy wrote; anything a client wrote before it is ignored. The rate limits (login, API)
and the CSRF and WebSocket origin checks then see the client rather than the proxy.
"""

from __future__ import annotations

from typing import Any

from hypercorn.middleware import ProxyFixMiddleware
from quart import Quart

WEBSOCKET_SCHEMES = {"http": "ws", "https": "wss"}


class WebsocketScheme:
    """Proxies say "https" for a WebSocket upgrade too, and hypercorn's ProxyFix puts
    that in the scope as is; the router then takes the socket for plain HTTP and answers
    400 (pgjones/hypercorn#198). A WebSocket scope's scheme is ws or wss."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket" and scope.get("scheme") in WEBSOCKET_SCHEMES:
            scope = {**scope, "scheme": WEBSOCKET_SCHEMES[scope["scheme"]]}
        await self.app(scope, receive, send)


def trust_proxies(app: Quart, hops: int) -> None:
    """Read the client from X-Forwarded-* as `hops` proxies in front wrote it.

    Wraps asgi_app rather than the app, so the app object stays what hypercorn
    (`smsproxy.app:create_app()`), `smsproxy run` and the test client call.
    """
    if hops <= 0:
        return
    inner = WebsocketScheme(app.asgi_app)
    app.asgi_app = ProxyFixMiddleware(  # type: ignore[method-assign]
        inner, mode="legacy", trusted_hops=hops
    )
