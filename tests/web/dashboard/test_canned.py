"""The Canned replies page: admins keep the list, agents read it; the composer's list
comes as JSON."""

from __future__ import annotations

from quart.typing import TestClientProtocol as Client

from smsproxy.models import AuditEvent, CannedReply
from smsproxy.runtime import Runtime
from tests.conftest import csrf_post
from tests.web.dashboard.pages import field_error, rows_of, text


async def test_an_admin_adds_changes_and_deletes_a_reply(
    staff_client: Client, app_runtime: Runtime
) -> None:
    added = await csrf_post(
        staff_client,
        "/canned-replies",
        {"title": "Address confirmation", "body": "Is it 1 Main St?"},
    )
    assert added.status_code == 303 and added.headers["Location"] == "/canned-replies"
    html = await text(await staff_client.get("/canned-replies"))
    assert "Canned reply “Address confirmation” added" in html
    assert "<h3>Address confirmation</h3>" in html and "Is it 1 Main St?" in html
    [reply] = await rows_of(app_runtime, CannedReply)

    changed = await csrf_post(
        staff_client, f"/canned-replies/{reply.public_id}", {"title": "Address", "body": "Where?"}
    )
    assert changed.status_code == 303
    [reply] = await rows_of(app_runtime, CannedReply)
    assert (reply.title, reply.body) == ("Address", "Where?")

    deleted = await csrf_post(staff_client, f"/canned-replies/{reply.public_id}/delete")
    assert deleted.status_code == 303
    assert await rows_of(app_runtime, CannedReply) == []
    audited = await rows_of(app_runtime, AuditEvent, AuditEvent.target == reply.public_id)
    assert [a.action for a in audited] == [
        "canned_reply.add",
        "canned_reply.change",
        "canned_reply.delete",
    ]
    assert all(a.actor == "staff:test-admin" for a in audited)


async def test_a_bad_reply_is_refused_next_to_its_field(
    staff_client: Client, app_runtime: Runtime
) -> None:
    response = await csrf_post(
        staff_client, "/canned-replies", {"title": "Long", "body": "x" * 1001}
    )
    html = await text(response)
    assert response.status_code == 422
    assert field_error(html, "body") == "The reply is 1001 characters long; at most 1000 fit"
    assert 'value="Long"' in html
    async with app_runtime.db.transaction() as session:
        session.add(CannedReply(title="Hello", body="Hi!"))
    [reply] = await rows_of(app_runtime, CannedReply)
    response = await csrf_post(
        staff_client, f"/canned-replies/{reply.public_id}", {"title": "", "body": "Hi!"}
    )
    html = await text(response)
    assert response.status_code == 422
    assert field_error(html, "title") == "Give the reply a title: staff find it by typing /title"
    assert '<details class="reply-edit" open>' in html
    missing = await csrf_post(staff_client, "/canned-replies/cr_nope/delete")
    assert missing.status_code == 303
    assert "No canned reply with id" in await text(await staff_client.get("/canned-replies"))


async def test_agents_read_and_use_replies_but_cannot_change_them(
    agent_client: Client, app_runtime: Runtime
) -> None:
    async with app_runtime.db.transaction() as session:
        session.add(CannedReply(title="Hello", body="Hi, how can we help?"))
    html = await text(await agent_client.get("/canned-replies"))
    assert "Hi, how can we help?" in html
    assert "Add a reply" not in html and "Delete" not in html
    assert 'href="/canned-replies"' in html  # in the navigation
    options = await agent_client.get("/canned-replies/options")
    assert options.headers["Cache-Control"] == "no-store"
    [reply] = (await options.get_json())["replies"]
    assert (reply["title"], reply["body"]) == ("Hello", "Hi, how can we help?")
    refused = await csrf_post(agent_client, "/canned-replies", {"title": "X", "body": "Y"})
    assert refused.status_code == 403
    [kept] = await rows_of(app_runtime, CannedReply)
    refused = await csrf_post(agent_client, f"/canned-replies/{kept.public_id}/delete")
    assert refused.status_code == 403
    assert len(await rows_of(app_runtime, CannedReply)) == 1
