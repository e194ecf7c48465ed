"""Downloads, streamed as they are read: a chat's transcript (CSV or JSON, for the chat
page and the API alike) and the chat list as CSV."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

from quart import Response

from ..proxy import exports
from ..proxy.inbox import ChatFilter
from ..proxy.queries import ChatView
from ..proxy.transcripts import TranscriptEntry
from . import services
from .spreadsheets import csv_line

FORMATS = {"csv": "text/csv", "json": "application/json"}


def attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}


def transcript_download(
    view: ChatView, format: str, as_json: Callable[[TranscriptEntry], str]
) -> Response:
    """Every message of the chat: CSV rows (exports.TRANSCRIPT_COLUMNS), or a JSON
    object whose `messages` are each entry `as_json` writes it (the API's shape)."""
    db = services().db

    async def csv_body() -> AsyncIterator[str]:
        yield csv_line(exports.TRANSCRIPT_COLUMNS)
        async with db.read() as session:
            async for row in exports.transcript_rows(session, view):
                yield csv_line(row)

    async def json_body() -> AsyncIterator[str]:
        yield '{"messages": ['
        separator = ""
        async with db.read() as session:
            async for entries, _ in exports.transcript_batches(session, view):
                for entry in entries:
                    yield separator + as_json(entry)
                    separator = ","
        yield "]}"

    body = csv_body() if format == "csv" else json_body()
    name = f"smsproxy-chat-{view.chat.public_id}.{format}"
    return Response(body, mimetype=FORMATS[format], headers=attachment(name))


def chat_list_download(search: ChatFilter, staff_user_id: int) -> Response:
    """Every chat the filter matches (as that staff member sees it), as CSV."""
    db = services().db

    async def body() -> AsyncIterator[str]:
        yield csv_line(exports.CHAT_COLUMNS)
        async with db.read() as session:
            async for row in exports.chat_rows(session, search, staff_user_id):
                yield csv_line(row)

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Response(body(), mimetype="text/csv", headers=attachment(f"smsproxy-chats-{stamp}.csv"))
