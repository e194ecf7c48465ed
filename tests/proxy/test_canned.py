"""Canned replies: what a valid one is, and that every change is audited without text."""

from __future__ import annotations

import pytest
from sqlmodel import select

from smsproxy.errors import NotFound
from smsproxy.models import AuditEvent
from smsproxy.proxy import canned
from smsproxy.proxy.canned import InvalidReply
from smsproxy.runtime import Runtime


@pytest.mark.parametrize(
    ("title", "body", "field", "says"),
    [
        ("", "Hello", "title", "Give the reply a title"),
        ("   ", "Hello", "title", "Give the reply a title"),
        ("t" * 101, "Hello", "title", "at most 100"),
        ("Greeting", "", "body", "The reply is empty"),
        ("Greeting", " \n ", "body", "The reply is empty"),
        ("Greeting", "x" * 1001, "body", "1001 characters long; at most 1000"),
    ],
)
def test_bad_replies_are_refused_with_the_field_and_reason(
    title: str, body: str, field: str, says: str
) -> None:
    with pytest.raises(InvalidReply, match=says) as refused:
        canned.check_reply(title, body)
    assert (refused.value.field, refused.value.status) == (field, 422)


def test_the_longest_reply_fits_and_the_title_is_trimmed() -> None:
    assert canned.check_reply("  Greeting ", "x" * 1000) == ("Greeting", "x" * 1000)


async def test_add_change_delete_each_audited_without_text(runtime: Runtime) -> None:
    async with runtime.db.transaction() as session:
        reply = await canned.add_reply(session, "Hello", "Hi, how can we help?", actor="staff:a")
        await canned.add_reply(session, "Address confirmation", "Confirm it?", actor="staff:a")
    async with runtime.db.transaction() as session:
        await canned.change_reply(
            session, reply.public_id, "Greeting", "Good morning!", actor="staff:a"
        )
    async with runtime.db.read() as session:
        listed = await canned.list_replies(session)
    assert [(r.title, r.body) for r in listed] == [
        ("Address confirmation", "Confirm it?"),
        ("Greeting", "Good morning!"),
    ]
    async with runtime.db.transaction() as session:
        await canned.delete_reply(session, reply.public_id, actor="staff:a")
        with pytest.raises(NotFound):
            await canned.get_reply(session, reply.public_id)
    async with runtime.db.read() as session:
        entries = (await session.exec(select(AuditEvent).order_by(AuditEvent.id))).all()
        remaining = await canned.list_replies(session)
    assert [r.title for r in remaining] == ["Address confirmation"]
    mine = [(e.action, e.target) for e in entries if e.target == reply.public_id]
    assert mine == [
        ("canned_reply.add", reply.public_id),
        ("canned_reply.change", reply.public_id),
        ("canned_reply.delete", reply.public_id),
    ]
    assert all(
        "Good morning" not in repr(e.detail) and "Hi, how" not in repr(e.detail) for e in entries
    )


async def test_changing_or_deleting_an_unknown_reply_is_not_found(runtime: Runtime) -> None:
    async with runtime.db.transaction() as session:
        with pytest.raises(NotFound):
            await canned.change_reply(session, "cr_nope", "T", "B", actor="a")
        with pytest.raises(NotFound):
            await canned.delete_reply(session, "cr_nope", actor="a")
