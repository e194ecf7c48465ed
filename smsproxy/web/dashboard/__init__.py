"""The staff dashboard: server-rendered pages, enhanced live by small page scripts.

One module per page area, each with its own `blueprint`, nested under this one. Every
handler is guarded by `staff_required` (or `admin_required`); tests/web/test_meta_auth.py
fails for any route that forgets. Page handlers read the newest event id before the
data they show, so the page's live script resumes from there and misses nothing.
"""

from . import (
    account,
    audit,
    canned,
    chat,
    chats,
    exports,
    holds,
    integrations,
    keys,
    list_actions,
    new_chat,
    notes,
    numbers,
    optouts,
    renewal,
    reports,
    reveal,
    sandbox,
    search,
    staff,
    triage,
    unrouted,
)
from .base import blueprint

for _area in (
    exports,
    list_actions,
    chats,
    new_chat,
    renewal,
    chat,
    triage,
    notes,
    holds,
    reveal,
    numbers,
    unrouted,
    optouts,
    reports,
    canned,
    search,
    sandbox,
    keys,
    integrations,
    staff,
    account,
    audit,
):
    blueprint.register_blueprint(_area.blueprint)

__all__ = ["blueprint"]
