"""JSON API v1."""

from __future__ import annotations

from quart import Blueprint

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")
