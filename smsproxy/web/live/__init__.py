"""The live WebSocket: staff pages hear about chats and messages as they happen, and a
page whose connection dropped resumes where it left off, missing nothing.

Protocol, JSON text frames on `/live` (staff login and a same-site Origin required):

    server: {"type": "hello", "last_id": N}
        On connect. N is the newest event id: where a page rendered now stands.
    client: {"type": "subscribe", "topic": T, "since": S}
        T is "chats" (the chat list: chat.created, chat.closed, chat.reopened,
        message.created, chat.read, unrouted.updated, number.changed), "chat:<public
        id>" (that chat's events) or "all". Every topic also hears the unrouted inbox's
        events (chat-less message.created, unrouted.updated), which the navigation
        counts on every page, and a chat's topic hears what changes the unread count of
        other chats (participants' message.created, chat.read, chat.closed,
        chat.reopened).
        S is the id of the last event the page handled, or null for "from here" (the
        hello's N, or the last event this connection sent). Sending it again switches
        topic; every subscribe starts a new stream from its own S.
    server: {"type": "event", "event": {"id": ..., "name": ..., "chat_id": ..., "data": {}}}
        Every matching event after S from the event log, then live ones as they are
        committed. Within one subscription ids only increase and never repeat, and no
        committed event is skipped: the page ends up as a reload would show it.
    server: {"type": "reset", "last_id": N}
        More than 500 events were missed, or S is newer than anything here: reload the
        page. Live events after N, the newest id, keep coming.
    client: {"type": "typing", "state": "start" | "stop"}
        The staff member is writing in the composer of the chat this socket follows
        ("chat:<id>" topics only), or stopped. Sent at most every 2 s while typing; the
        server drops faster ones. Never stored.
    server: {"type": "typing", "chat_id": ..., "user_id": ..., "user": "<username>",
             "state": "start" | "stop"}
        A colleague on this chat is writing (or stopped), from any process. Not sent to
        the colleague's own sockets; no id, not replayed. A page shows it for a few
        seconds after the last "start" unless a "stop" comes first.
    server: {"type": "ping"}
        After 20 s without any other frame, to keep proxies from closing the socket.
    server: {"type": "error", "message": "..."}
        A frame the server could not use; the connection stays open.

The server closes with 1012 when it restarts; the page reconnects with backoff and
subscribes again with S = the last id it handled. It closes with 1008 when the login
the socket was opened with has ended (account disabled, password changed).
"""

from __future__ import annotations

from quart import Blueprint, current_app
from quart.blueprints import BlueprintSetupState
from quart_auth import current_user

from ...events import last_event_id
from .. import services
from ..guards import current_staff, staff_required
from .connection import REPLAY_LIMIT, LiveConnection, Login
from .hub import LiveHub

__all__ = ["HUB_KEY", "REPLAY_LIMIT", "LiveHub", "blueprint", "live_hub"]

blueprint = Blueprint("live", __name__)

HUB_KEY = "smsproxy.live"


def live_hub() -> LiveHub:
    hub: LiveHub = current_app.extensions[HUB_KEY]
    return hub


@blueprint.record_once
def _add_hub(state: BlueprintSetupState) -> None:
    state.app.extensions.setdefault(HUB_KEY, LiveHub())


@blueprint.before_app_serving
async def follow_live_events() -> None:
    svc = services()
    await live_hub().start(svc.broker, svc.db)


@blueprint.after_app_serving
async def close_live_sockets() -> None:
    await live_hub().stop()


@blueprint.websocket("/live")
@staff_required
async def connect_live() -> None:
    svc = services()
    staff = await current_staff()
    assert staff is not None
    login = Login(staff.id, current_user.auth_id, staff.username)
    async with svc.db.read() as session:
        position = await last_event_id(session)
    await LiveConnection(live_hub(), svc.db, position, login).run()
