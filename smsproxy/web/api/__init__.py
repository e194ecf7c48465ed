"""JSON API v1: bearer API keys, JSON errors, OpenAPI at /openapi.json, docs at /api/docs.

One module per resource, each registering its routes on the blueprint of `base`.
"""

from . import (  # noqa: F401  (each registers its routes)
    audit,
    chat_edits,
    chats,
    holds,
    messages,
    notes,
    numbers,
    optouts,
    participants,
    renewal,
    reveal,
    search,
    transcripts,
    triage,
    unrouted,
    webhook_deliveries,
    webhooks,
)
from .base import blueprint
from .responses import ApiOpenAPIProvider

__all__ = ["ApiOpenAPIProvider", "blueprint"]
