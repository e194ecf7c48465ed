"""Searching every chat's messages: by the words of their text, or by a phone number.

A query that reads as a phone number someone in a chat has (as a participant's real
number or their proxy number), however it is typed ("07700 900001", "+44 7700
900001", "447700900001"), finds the messages of those chats. Anything else is a
search of the texts' words (see search_text.py), through the full-text index the
migration 0011_message_search builds: FTS5 on SQLite, a GIN index on PostgreSQL.

Hits are newest first by message id (the order messages were recorded in): FTS5
walks its index from the newest match down, so a common word's page costs as little
as a rare word's; PostgreSQL gets there in two steps (below). Erased texts are
empty, and so never match.
Queries are personal data (a number, a name): never logged above DEBUG.
"""

from __future__ import annotations

import base64
import logging
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, bindparam, or_, text
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from ..errors import InvalidNumber, InvalidQuery
from ..models import AuthorKind, Chat, ChatStatus, Message, Participant
from ..phone import mask, parse_number
from .search_text import (
    MAX_QUERY_LENGTH,
    Snippet,
    fts5_match,
    query_words,
    snippet,
    tsquery,
)

log = logging.getLogger(__name__)

PAGE_SIZE = 25
MANY_CHATS = 200  # a number in more chats than this is searched newest message first
_NEWEST = 2**31 - 1  # the largest message id (an INTEGER on PostgreSQL): the first page

_SQLITE_WORDS = text(
    "SELECT message.id FROM message_search"
    " CROSS JOIN message ON message.id = message_search.rowid"  # the index walks first
    " WHERE message_search MATCH :match AND message.chat_id IS NOT NULL"
    " AND message_search.rowid < :before"
    " ORDER BY message_search.rowid DESC LIMIT :limit"
)
# PostgreSQL, in two steps, because its planner cannot tell a common word from a rare
# one when the words are prefixes (it assumes 2 % of rows for any): first the newest
# RECENT_WINDOW messages are checked one by one (a common word fills a page there);
# only when they do not fill it is the index read, all matches, then sorted. Either
# plan alone took seconds on a million messages for the words the other suits. The
# expression is the index's (migration 0011), word for word, or the index is unused.
RECENT_WINDOW = 1500
_POSTGRES_RECENT = text(
    "SELECT id FROM (SELECT id, chat_id, body FROM message WHERE id < :before"
    " ORDER BY id DESC LIMIT :window) AS recent"
    " WHERE to_tsvector('simple', body) @@ to_tsquery('simple', :match)"
    " AND chat_id IS NOT NULL ORDER BY id DESC LIMIT :limit"
)
_POSTGRES_INDEX = text(
    "WITH found AS MATERIALIZED (SELECT id FROM message"
    " WHERE to_tsvector('simple', body) @@ to_tsquery('simple', :match)"
    " AND chat_id IS NOT NULL AND id < :before)"
    " SELECT id FROM found ORDER BY id DESC LIMIT :limit"
)


@dataclass(frozen=True)
class SearchHit:
    message_id: str
    chat_id: str
    chat_reference: str | None
    chat_status: ChatStatus
    direction: str  # "inbound" (a participant wrote it) or "outbound" (staff, system)
    author: str  # the participant's name, "Staff" or "System"
    author_number: str | None  # the participant's real number, masked
    sent_at: datetime
    snippet: Snippet


@dataclass(frozen=True)
class SearchResults:
    hits: list[SearchHit]
    next_cursor: str | None
    number: str | None  # the number searched for, masked; None for a search by words


async def search_messages(
    session: AsyncSession,
    query: str,
    *,
    default_region: str | None = None,
    cursor: str | None = None,
    limit: int = PAGE_SIZE,
) -> SearchResults:
    """Messages in chats matching `query`, newest first, a page at a time (`cursor` is
    the `next_cursor` of the page before). InvalidQuery when there is nothing to find."""
    query = query.strip()
    if len(query) > MAX_QUERY_LENGTH:
        raise InvalidQuery(f"A search can be at most {MAX_QUERY_LENGTH} characters long", field="q")
    before = _decode_cursor(cursor) if cursor else _NEWEST
    number = await _known_number(session, query, default_region)
    words = [] if number else query_words(query)
    if number is None and not words:
        raise InvalidQuery("Type a word or a phone number to search for", field="q")
    log.debug("searching messages for %r", query)
    if number is not None:
        ids = await _ids_by_number(session, number, before, limit + 1)
    else:
        ids = await _ids_by_words(session, words, before, limit + 1)
    next_cursor = _encode_cursor(ids[limit - 1]) if len(ids) > limit else None
    hits = await _hits(session, ids[:limit], words)
    return SearchResults(hits, next_cursor, mask(number) if number else None)


async def _known_number(session: AsyncSession, query: str, region: str | None) -> str | None:
    """The E.164 form of a query that is a number somebody in a chat has, else None."""
    try:
        number = parse_number(query, region)
    except InvalidNumber:
        return None
    found = await session.exec(
        select(Participant.id)
        .where(or_(col(Participant.real_number) == number, col(Participant.proxy_number) == number))
        .limit(1)
    )
    return number if found.first() is not None else None


async def _ids_by_number(session: AsyncSession, number: str, before: int, limit: int) -> list[int]:
    """Messages with text (erased ones have none) of the chats this number is in.

    A person is in a few chats: their messages are read chat by chat (an index range
    each) and sorted. A proxy number may carry thousands: then messages are read newest
    first, each checked against its chat's participants, which finds a page after a
    few hundred (at a million messages, 0.4 ms where a list of the chats took 30-90)."""
    chats = list(
        (
            await session.exec(
                select(Participant.chat_id)
                .where(
                    or_(
                        col(Participant.real_number) == number,
                        col(Participant.proxy_number) == number,
                    )
                )
                .distinct()
                .limit(MANY_CHATS + 1)
            )
        ).all()
    )
    in_chats: ColumnElement[bool]
    if len(chats) > MANY_CHATS:
        in_chats = (
            select(Participant.id)
            .where(
                col(Participant.chat_id) == col(Message.chat_id),
                or_(
                    col(Participant.real_number) == number,
                    col(Participant.proxy_number) == number,
                ),
            )
            .exists()
        )
    else:
        in_chats = col(Message.chat_id).in_(chats)
    found = await session.exec(
        select(Message.id)
        .where(in_chats, col(Message.body) != "", col(Message.id) < before)
        .order_by(col(Message.id).desc())
        .limit(limit)
    )
    return [int(message_id) for message_id in found.all() if message_id is not None]


async def _ids_by_words(
    session: AsyncSession, words: list[str], before: int, limit: int
) -> list[int]:
    if session.get_bind().dialect.name == "sqlite":
        return await _ids(session, _SQLITE_WORDS, match=fts5_match(words), before=before,
                          limit=limit)  # fmt: skip
    match = tsquery(words)
    recent = await _ids(
        session, _POSTGRES_RECENT, match=match, before=before, limit=limit, window=RECENT_WINDOW
    )
    if len(recent) == limit:
        return recent
    return await _ids(session, _POSTGRES_INDEX, match=match, before=before, limit=limit)


async def _ids(session: AsyncSession, statement: Any, **values: object) -> list[int]:
    bound = statement.bindparams(*(bindparam(name, value) for name, value in values.items()))
    found = await session.exec(bound)
    return [int(row[0]) for row in found.all()]


async def _hits(session: AsyncSession, ids: list[int], words: list[str]) -> list[SearchHit]:
    if not ids:
        return []
    rows = await session.exec(
        select(Message, Chat)
        .join(Chat, col(Chat.id) == col(Message.chat_id))
        .where(col(Message.id).in_(ids))
    )
    found = {message.id: (message, chat) for message, chat in rows.all()}
    authors = {m.participant_id for m, _ in found.values() if m.participant_id is not None}
    people = {
        p.id: p
        for p in (
            await session.exec(select(Participant).where(col(Participant.id).in_(authors)))
        ).all()
    }
    hits = []
    for message_id in ids:
        if message_id not in found:
            continue  # deleted between the two reads
        message, chat = found[message_id]
        author = people.get(message.participant_id)
        inbound = message.author_kind == AuthorKind.participant
        hits.append(
            SearchHit(
                message_id=message.public_id,
                chat_id=chat.public_id,
                chat_reference=chat.reference,
                chat_status=chat.status,
                direction="inbound" if inbound else "outbound",
                author=_author_name(message, author),
                author_number=mask(author.real_number) if author else None,
                sent_at=message.created_at,
                snippet=snippet(message.body, words),
            )
        )
    return hits


def _author_name(message: Message, author: Participant | None) -> str:
    if author is not None:
        return author.display_name
    return "Staff" if message.author_kind == AuthorKind.staff else "System"


def _encode_cursor(message_id: int) -> str:
    return base64.urlsafe_b64encode(f"m{message_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        raw = ""
    if not re.fullmatch(r"m[0-9]{1,10}", raw) or int(raw[1:]) > _NEWEST:
        raise InvalidQuery("That page link is not valid any more", field="cursor")
    return int(raw[1:])
