"""Liveness and readiness for load balancers and process managers."""

from __future__ import annotations

from quart import Blueprint
from sqlalchemy import text

from . import services

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
async def get_healthz() -> tuple[dict[str, str], int]:
    """Alive: answers as soon as the app serves requests."""
    return {"status": "ok"}, 200


@blueprint.get("/readyz")
async def get_readyz() -> tuple[dict[str, str], int]:
    """Ready: the database answers."""
    try:
        async with services().db.read() as session:
            await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    except Exception:
        return {"status": "unavailable", "database": "unreachable"}, 503
    return {"status": "ok", "database": "ok"}, 200
