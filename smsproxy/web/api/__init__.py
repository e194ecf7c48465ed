"""JSON API v1: bearer API keys, JSON errors, OpenAPI at /openapi.json, docs at /api/docs.

One module per resource, each registering its routes on the blueprint of `base`.
"""

from . import (  # noqa: F401  (each registers its routes)
    chat_edits,
    chats,
    messages,
    numbers,
    participants,
    unrouted,
    webhook_deliveries,
    webhooks,
)
from .base import blueprint

__all__ = ["blueprint"]
