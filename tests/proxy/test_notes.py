"""Private notes: kept for staff, in time order among the messages, never sent, never
in integration events, audited without their text, erased with the chat's texts."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from smsproxy.db import utcnow
from smsproxy.errors import Conflict, NotFound
from smsproxy.events import EVENT_NAMES, INTEGRATION_TYPES, NoteCreated, integration_event
from smsproxy.models import (
    AuditEvent,
    Chat,
    ChatNote,
    Delivery,
    EventRecord,
    SandboxSms,
    WebhookDelivery,
)
from smsproxy.proxy import notes, transcripts
from smsproxy.proxy.chats import close_chat
from smsproxy.proxy.erasure import erase_number
from smsproxy.proxy.messages import send_staff_message
from smsproxy.proxy.notes import MAX_NOTE_LENGTH, InvalidNote, add_note
from smsproxy.proxy.queries import ChatView, get_chat
from smsproxy.proxy.retention import erase_old_texts
from smsproxy.runtime import Runtime
from tests.helpers import add_endpoint, add_numbers, start_chat

P1 = "+447700900901"
ALICE, BOB = "+447700900101", "+447700900102"
SECRET = "Rider says call him on +447700900555"


@pytest.fixture
async def view(runtime: Runtime) -> ChatView:
    await add_numbers(runtime, P1)
    return await start_chat(runtime, (ALICE, "Rider"), (BOB, "Driver"))


async def note(rt: Runtime, view: ChatView, body: str = SECRET, **kwargs: object) -> ChatNote:
    async with rt.db.transaction() as session:
        return await add_note(
            session,
            view.chat.public_id,
            body,
            author="alice",
            staff_user_id=None,
            actor="staff:alice",
            **kwargs,  # type: ignore[arg-type]
        )


async def test_a_note_is_kept_audited_without_its_text_and_announced_to_staff_only(
    runtime: Runtime, view: ChatView
) -> None:
    await add_endpoint(runtime, "https://a.example/hook")  # subscribed to every type
    kept = await note(runtime, view)
    async with runtime.db.read() as session:
        no_sms = (await session.exec(select(Delivery))).all()
    # The endpoint does hear what integrations get (a staff message's SMS states).
    async with runtime.db.transaction() as session:
        await send_staff_message(session, view.chat.public_id, "Hi", staff_user_id=None, actor="t")
    async with runtime.db.read() as session:
        stored = (await session.exec(select(ChatNote))).one()
        audits = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "note.add"))
        ).all()
        records = (
            await session.exec(select(EventRecord).where(EventRecord.name == "note.created"))
        ).all()
        queued = (await session.exec(select(WebhookDelivery))).all()
    assert (stored.public_id, stored.body, stored.author) == (kept.public_id, SECRET, "alice")
    assert [(a.actor, a.target, a.detail) for a in audits] == [
        ("staff:alice", view.chat.public_id, {"note": kept.public_id})
    ]
    # The live event names the note; its text stays out of the event log.
    assert [(r.chat_public_id, r.payload["id"]) for r in records] == [
        (view.chat.public_id, kept.public_id)
    ]
    assert "+447700900555" not in json.dumps(records[0].payload)
    # Integrations hear nothing of it, and it is no SMS.
    assert no_sms == []
    assert {q.event_type for q in queued} == {"delivery.updated"}
    assert all("+447700900555" not in q.body and kept.public_id not in q.body for q in queued)


async def test_a_note_never_reaches_the_carrier(runtime: Runtime, view: ChatView) -> None:
    async with runtime.db.transaction() as session:
        await send_staff_message(
            session, view.chat.public_id, "Hello both", staff_user_id=None, actor="t"
        )
    await note(runtime, view)
    await runtime.sender.drain(timeout=5)
    async with runtime.db.read() as session:
        handsets = (await session.exec(select(SandboxSms))).all()
        outbox = (await session.exec(select(Delivery))).all()
    # The message reached both handsets; the note reached none.
    assert sorted(s.body for s in handsets) == ["Hello both", "Hello both"]
    assert all(SECRET not in d.body for d in outbox) and len(outbox) == 2


@pytest.mark.parametrize(
    ("body", "says"),
    [("", "empty"), ("   \n", "empty"), ("x" * (MAX_NOTE_LENGTH + 1), "at most 2000")],
)
async def test_empty_or_long_notes_are_refused_with_the_reason(
    runtime: Runtime, view: ChatView, body: str, says: str
) -> None:
    with pytest.raises(InvalidNote, match=says) as refused:
        await note(runtime, view, body)
    assert refused.value.status == 422 and refused.value.field == "body"


async def test_a_note_on_an_unknown_chat_is_not_found(runtime: Runtime) -> None:
    async with runtime.db.transaction() as session:
        with pytest.raises(NotFound):
            await add_note(session, "ch_nope", "x", author="a", staff_user_id=None, actor="a")


async def test_closed_chats_take_notes_until_their_texts_are_erased(
    runtime: Runtime, view: ChatView
) -> None:
    async with runtime.db.transaction() as session:
        chat = (await get_chat(session, view.chat.public_id)).chat
        await close_chat(
            session, chat, reason="staff", actor="t", goodbye=False, templates=runtime.templates
        )
    await note(runtime, view, "Follow up on Monday")
    async with runtime.db.transaction() as session:
        await session.exec(
            update(Chat).where(col(Chat.id) == view.chat.id).values(bodies_erased_at=utcnow())
        )
    with pytest.raises(Conflict, match="erased"):
        await note(runtime, view)


async def test_notes_sit_among_the_messages_in_time_order_on_the_page_of_their_time(
    runtime: Runtime, view: ChatView
) -> None:
    start = utcnow() - timedelta(hours=1)

    async def say(minute: int, body: str) -> None:
        async with runtime.db.transaction() as session:
            await send_staff_message(
                session,
                view.chat.public_id,
                body,
                staff_user_id=None,
                actor="t",
                now=start + timedelta(minutes=minute),
            )

    await note(runtime, view, "n0", now=start)
    await say(1, "m1")
    await note(runtime, view, "n2", now=start + timedelta(minutes=2))
    await say(3, "m3")
    await say(4, "m4")
    await note(runtime, view, "n5", now=start + timedelta(minutes=5))

    def names(items: list[transcripts.TranscriptEntry | transcripts.NoteEntry]) -> list[str]:
        return [
            i.note.body if isinstance(i, transcripts.NoteEntry) else i.message.body for i in items
        ]

    async with runtime.db.read() as session:
        found = await get_chat(session, view.chat.public_id)
        everything, older = await transcripts.recent_transcript(session, found)
        whole = await transcripts.with_notes(session, found, everything, older, None)
        # Pages of two messages: the newest (m3, m4) and the one before m3 (m1).
        latest, more = await transcripts.recent_transcript(session, found, 2)
        newest = await transcripts.with_notes(session, found, latest, more, None)
        before = latest[0].message.public_id
        first, _ = await transcripts.recent_transcript(session, found, 2, before=before)
        earlier = await transcripts.with_notes(session, found, first, False, before)
    assert names(whole) == ["n0", "m1", "n2", "m3", "m4", "n5"]
    # Each note on one page only: the latest from its oldest message on, the first
    # from the start to the message the latest begins with.
    assert names(newest) == ["m3", "m4", "n5"]
    assert names(earlier) == ["n0", "m1", "n2"]
    # The API's transcript of messages leaves notes out.
    assert "n0" not in names(list(await _api_transcript(runtime, view)))


async def _api_transcript(rt: Runtime, view: ChatView) -> list[transcripts.TranscriptEntry]:
    async with rt.db.read() as session:
        return await transcripts.transcript(session, await get_chat(session, view.chat.public_id))


async def test_retention_erases_notes_with_the_chat_texts(runtime: Runtime, view: ChatView) -> None:
    await note(runtime, view)
    async with runtime.db.transaction() as session:
        chat = (await get_chat(session, view.chat.public_id)).chat
        await close_chat(
            session, chat, reason="staff", actor="t", goodbye=False, templates=runtime.templates
        )
        chat.closed_at = utcnow() - timedelta(days=40)
        session.add(chat)
    other = await start_chat(runtime, (ALICE, "Rider"), (BOB, "Driver"))
    await note(runtime, other, "Still open")
    erased = await erase_old_texts(runtime.db, days=30)
    async with runtime.db.read() as session:
        kept = {n.chat_id: n for n in (await session.exec(select(ChatNote))).all()}
    assert erased.chats == 1
    gone = kept[view.chat.id]
    assert (gone.body, gone.author) == ("", "alice") and gone.erased_at is not None
    assert kept[other.chat.id].body == "Still open" and kept[other.chat.id].erased_at is None


async def test_erasing_a_number_erases_the_notes_of_its_chats_and_its_spellings_elsewhere(
    runtime: Runtime, view: ChatView
) -> None:
    await note(runtime, view, "Rider is a regular")
    await add_numbers(runtime, "+447700900902")
    others = await start_chat(runtime, ("+447700900103", "Carol"), ("+447700900104", "Dan"))
    await note(runtime, others, f"Carol knows the rider: {ALICE}")
    async with runtime.db.transaction() as session:
        await erase_number(session, ALICE, actor="cli", templates=runtime.templates)
    async with runtime.db.read() as session:
        kept = {n.chat_id: n for n in (await session.exec(select(ChatNote))).all()}
    assert kept[view.chat.id].body == "" and kept[view.chat.id].erased_at is not None
    assert kept[others.chat.id].body == "Carol knows the rider: [erased]"


async def test_the_notes_of_a_chat_oldest_first_and_one_by_its_id(
    runtime: Runtime, view: ChatView
) -> None:
    first = await note(runtime, view, "one")
    await note(runtime, view, "two")
    async with runtime.db.read() as session:
        listed = await notes.notes_of(session, view.chat)
        found = await notes.get_note(session, view.chat, first.public_id)
        with pytest.raises(NotFound):
            await notes.get_note(session, view.chat, "nt_nope")
    assert [n.body for n in listed] == ["one", "two"]
    assert found.body == "one"


def test_the_note_event_is_for_staff_pages_only() -> None:
    note = ChatNote(chat_id=1, author="alice", body=SECRET)
    event = NoteCreated(note, "ch_1")
    assert event.integration_type() is None and NoteCreated.integration_types() == ()
    assert "note.created" in EVENT_NAMES and "note.created" not in INTEGRATION_TYPES
    assert integration_event(event) is None
    assert "+447700900555" not in json.dumps(event.payload())
