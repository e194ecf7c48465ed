"""One chat: its transcript as bubbles (and staff's notes), the participants, a staff
message box, closing."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, flash, redirect, render_template, request, url_for
from sqlmodel.ext.asyncio.session import AsyncSession

from ...errors import ProxyError
from ...models import Chat, ChatStatus, Participant
from ...proxy import inbox, transcripts
from ...proxy.assignment import assignable_staff, username_of
from ...proxy.chats import close_chat as close_chat_rule
from ...proxy.labels import labels_of
from ...proxy.messages import MAX_BODY_LENGTH, TO_ALL, send_staff_message
from ...proxy.notes import MAX_NOTE_LENGTH, add_note
from ...proxy.queries import ChatView, get_chat
from .. import services
from ..guards import staff_required
from .base import (
    FormErrors,
    actor_of,
    error_field,
    event_position,
    fetch_wants_json,
    fragment,
    json_form_error,
    query_value,
    signed_in,
)

blueprint = Blueprint("chat", __name__)


async def render_chat(
    chat_id: str,
    *,
    before: str | None = None,
    around: str | None = None,
    errors: FormErrors | None = None,
    typed: dict[str, str] | None = None,
    status: int = 200,
    revealed: dict[str, str] | None = None,
) -> tuple[str, int]:
    """The chat page: its newest messages, with `before` (a message id) the page of
    messages before that one, or with `around` (a search hit) the messages around it,
    that one highlighted. Opening the newest marks the chat read up to the last one.
    `revealed` maps participant ids to real numbers an admin asked to see (this view
    only)."""
    staff = await signed_in()
    svc = services()
    async with svc.db.transaction() as session:
        position = await event_position(session)
        view = await get_chat(session, chat_id)
        has_newer = before is not None
        if around is not None:
            entries, has_older, has_newer = await transcripts.transcript_around(
                session, view, around
            )
        else:
            entries, has_older = await transcripts.recent_transcript(session, view, before=before)
        names = await transcripts.staff_names(session, [e.message for e in entries])
        items = await transcripts.with_notes(session, view, entries, has_older, before, has_newer)
        # The highest id shown, not the last bubble's: two messages written at once can
        # take ids in the other order than their times.
        newest = max((e.message.id or 0 for e in entries), default=0)
        if not has_newer and view.chat.id is not None:
            await inbox.mark_read(session, view.chat, staff.id, newest)
        triage = await triage_context(session, view.chat)
    html = await render_template(
        "chats/chat.html",
        view=view,
        chat=view.chat,
        entries=entries,
        items=items,
        has_older=has_older,
        latest=not has_newer,
        found_id=around,
        staff_names=names,
        people=_people(view),
        errors=errors or {},
        typed=typed or {},
        max_body=MAX_BODY_LENGTH,
        max_note=MAX_NOTE_LENGTH,
        last_event_id=position,
        is_active=view.chat.status == ChatStatus.active,
        revealed=revealed or {},
        **triage,
    )
    return html, status


async def triage_context(session: AsyncSession, chat: Chat) -> dict[str, Any]:
    """What chats/_triage.html needs: the assignee's name, who may be chosen, labels."""
    assert chat.id is not None
    return {
        "assignee": await username_of(session, chat.assignee_id),
        "staff_list": await assignable_staff(session),
        "labels": (await labels_of(session, [chat.id])).get(chat.id, []),
    }


@blueprint.get("/chats/<chat_id>/triage")
@staff_required
async def get_triage(chat_id: str) -> Any:
    """The assignee and labels panel, for the live script to refresh."""
    async with services().db.read() as session:
        view = await get_chat(session, chat_id)
        triage = await triage_context(session, view.chat)
    html = await render_template("chats/_triage.html", chat=view.chat, **triage)
    return fragment(html)


def before_arg() -> str | None:
    """`?before=<message id>`: which page of older messages to show."""
    return query_value("before", limit=40) or None


def _people(view: ChatView) -> dict[int | None, Participant]:
    return {p.id: p for p in view.participants}


@blueprint.get("/chats/<chat_id>")
@staff_required
async def get_chat_page(chat_id: str) -> Any:
    around = query_value("around", limit=40) or None
    return await render_chat(chat_id, before=None if around else before_arg(), around=around)


@blueprint.get("/chats/<chat_id>/messages")
@staff_required
async def get_older_messages(chat_id: str) -> Any:
    """The bubbles of the page before `?before=`, with the link to the page before that,
    for the chat page's script to put above what it shows."""
    before = before_arg()
    async with services().db.read() as session:
        view = await get_chat(session, chat_id)
        entries, has_older = await transcripts.recent_transcript(session, view, before=before)
        names = await transcripts.staff_names(session, [e.message for e in entries])
        items = await transcripts.with_notes(session, view, entries, has_older, before)
    html = await render_template(
        "chats/_older.html",
        chat=view.chat,
        entries=entries,
        items=items,
        has_older=has_older,
        staff_names=names,
        people=_people(view),
    )
    return fragment(html)


@blueprint.get("/chats/<chat_id>/messages/<message_id>")
@staff_required
async def get_message(chat_id: str, message_id: str) -> Any:
    """One bubble, for the live script to insert or refresh."""
    async with services().db.read() as session:
        view = await get_chat(session, chat_id)
        entry = await transcripts.transcript_entry(session, view, message_id)
        names = await transcripts.staff_names(session, [entry.message])
    html = await render_template(
        "chats/_message.html",
        entry=entry,
        staff_names=names,
        people=_people(view),
        chat=view.chat,
    )
    return fragment(html)


@blueprint.post("/chats/<chat_id>/messages")
@staff_required
async def post_message(chat_id: str) -> Any:
    staff = await signed_in()
    form = await request.form
    body = form.get("body", "")
    if form.get("mode") == "note":
        # The composer's other mode: the text is a private note, never sent.
        return await keep_note(chat_id, body, field="body")
    to = form.get("to", TO_ALL) or TO_ALL
    try:
        async with services().db.transaction() as session:
            sent = await send_staff_message(
                session,
                chat_id,
                body,
                to=to,
                staff_user_id=staff.id,
                actor=actor_of(staff),
            )
    except ProxyError as error:
        field = error_field(error, "body")
        if fetch_wants_json():
            return json_form_error({field: error.message}, error.status)
        return await render_chat(
            chat_id,
            errors={field: error.message},
            typed={"body": body, "to": to},
            status=error.status,
        )
    if fetch_wants_json():
        return {"message_id": sent.message.public_id}, 201
    count = len(sent.deliveries)
    await flash(f"Message sent to {count} participant{'s' if count != 1 else ''}.", "success")
    return redirect(url_for(".get_chat_page", chat_id=chat_id), 303)


async def keep_note(chat_id: str, body: str, *, field: str) -> Any:
    """Keep a note from a form whose text field is `field`: "body" for the composer in
    its note mode, "note" for the closed chat's note form."""
    staff = await signed_in()
    try:
        async with services().db.transaction() as session:
            note = await add_note(
                session,
                chat_id,
                body,
                author=staff.username,
                staff_user_id=staff.id,
                actor=actor_of(staff),
            )
    except ProxyError as error:
        if fetch_wants_json():
            return json_form_error({field: error.message}, error.status)
        typed = {"body": body, "mode": "note"} if field == "body" else {"note": body}
        return await render_chat(
            chat_id, errors={field: error.message}, typed=typed, status=error.status
        )
    if fetch_wants_json():
        return {"note_id": note.public_id}, 201
    await flash("Note kept. Only staff see it: it was not sent.", "success")
    return redirect(url_for("dashboard.chat.get_chat_page", chat_id=chat_id), 303)


@blueprint.post("/chats/<chat_id>/close")
@staff_required
async def post_close(chat_id: str) -> Any:
    staff = await signed_in()
    form = await request.form
    goodbye = form.get("goodbye") == "yes"
    svc = services()
    async with svc.db.transaction() as session:
        view = await get_chat(session, chat_id)
        closed = await close_chat_rule(
            session,
            view.chat,
            reason="staff",
            actor=actor_of(staff),
            goodbye=goodbye,
            templates=svc.templates,
        )
    if closed:
        note = " Each participant gets the goodbye SMS." if goodbye else ""
        await flash(f"Chat closed: its numbers are free again.{note}", "success")
    else:
        await flash("This chat was already closed.", "info")
    return redirect(url_for(".get_chat_page", chat_id=chat_id), 303)


@blueprint.post("/chats/<chat_id>/read")
@staff_required
async def post_read(chat_id: str) -> Any:
    """The live script saw new messages while the page was open: mark them read."""
    staff = await signed_in()
    form = await request.form
    message_id = form.get("message_id", "")[:40] or None
    async with services().db.transaction() as session:
        view = await get_chat(session, chat_id)
        assert view.chat.id is not None
        newest = await inbox.newest_message_id(session, view.chat.id, message_id)
        await inbox.mark_read(session, view.chat, staff.id, newest)
    return "", 204
