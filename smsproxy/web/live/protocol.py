"""The live socket's frames: what a client may send, and which events a topic hears."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ...events import (
    ChatAssigned,
    ChatClosed,
    ChatCreated,
    ChatLabelled,
    ChatRead,
    ChatReopened,
    Event,
    MessageCreated,
    NumberChanged,
    UnroutedUpdated,
)

LIST_EVENTS = frozenset(
    {
        ChatCreated.name,
        ChatClosed.name,
        ChatReopened.name,
        MessageCreated.name,
        ChatRead.name,
        ChatAssigned.name,
        ChatLabelled.name,
        UnroutedUpdated.name,
        NumberChanged.name,
    }
)
# The unrouted inbox, whose count the navigation shows on every page: every topic hears
# its events (unrouted SMS arriving, and staff dealing with them).
INBOX_EVENTS = frozenset({MessageCreated.name, UnroutedUpdated.name})
# The unread count of open chats, which the tab title and the navigation show on every
# page: a chat's page hears these of other chats too (participants' texts, reads, chats
# closing or reopening), and nothing else of theirs.
UNREAD_EVENTS = frozenset({ChatRead.name, ChatClosed.name, ChatReopened.name})
UNREAD_NAMES = UNREAD_EVENTS | {MessageCreated.name}
CHAT_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")


class BadFrame(Exception):
    """A client frame the server cannot use; its message goes back to the client."""


@dataclass(frozen=True)
class Topic:
    name: str
    chat_id: str | None = None

    def matches(self, event: Event) -> bool:
        if self.name == "all":
            return True
        if self.chat_id is not None:
            return event.chat_id == self.chat_id or is_inbox_event(event) or is_unread_event(event)
        return event.name in LIST_EVENTS


def is_inbox_event(event: Event) -> bool:
    return event.chat_id is None and event.name in INBOX_EVENTS


def is_unread_event(event: Event) -> bool:
    if event.name == MessageCreated.name:
        return event.chat_id is not None and event.data.get("author_kind") == "participant"
    return event.name in UNREAD_EVENTS


@dataclass(frozen=True)
class Subscribe:
    topic: Topic
    since: int | None


# A staff member is writing in the composer of the chat their socket follows, or
# stopped ("stop": sent, cleared, or idle for a few seconds). Relayed to the other
# staff on that chat, in every process, as a signal: never stored.
TYPING = "typing"
TYPING_STATES = ("start", "stop")


@dataclass(frozen=True)
class Typing:
    state: str


def parse_topic(raw: Any) -> Topic:
    if raw in ("chats", "all"):
        return Topic(raw)
    if isinstance(raw, str) and raw.startswith("chat:"):
        chat_id = raw.removeprefix("chat:")
        if CHAT_ID.fullmatch(chat_id):
            return Topic("chat", chat_id)
    raise BadFrame('topic must be "chats", "all" or "chat:<chat id>"')


def parse_frame(raw: str | bytes) -> Subscribe | Typing:
    if not isinstance(raw, str):
        raise BadFrame("frames must be JSON text")
    try:
        frame = json.loads(raw)
    except ValueError:
        raise BadFrame("frame is not valid JSON") from None
    if isinstance(frame, dict) and frame.get("type") == TYPING:
        if frame.get("state") not in TYPING_STATES:
            raise BadFrame('a typing frame\'s state is "start" or "stop"')
        return Typing(frame["state"])
    if not isinstance(frame, dict) or frame.get("type") != "subscribe":
        raise BadFrame('a client sends {"type": "subscribe", ...} or {"type": "typing", ...}')
    since = frame.get("since")
    if since is not None and (type(since) is not int or since < 0):
        raise BadFrame("since must be the id of the last event handled (an integer) or null")
    return Subscribe(parse_topic(frame.get("topic")), since)
