"""HTTP and WebSocket blueprints. Handlers reach long-lived objects via `runtime()`."""

from __future__ import annotations

from quart import current_app

from ..runtime import Runtime


def runtime() -> Runtime:
    value: Runtime = current_app.extensions["smsproxy"]
    return value
