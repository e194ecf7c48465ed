"""The /staff and /account/password pages: one-time passwords shown once, sessions that
end, and what agents may not do."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
from quart import Quart
from quart.testing.connections import WebsocketDisconnectError, WebsocketResponseError
from quart.typing import TestClientProtocol as Client
from quart.wrappers import Response

from smsproxy.models import Role
from smsproxy.proxy import users
from smsproxy.runtime import Runtime
from tests.conftest import STAFF_PASSWORD, add_staff, csrf_post
from tests.staff_accounts import NEW_PASSWORD, audit_actions, load


async def page(response: Response) -> str:
    return await response.get_data(as_text=True)


def one_time_password_on(html: str) -> str:
    found = re.search(r'id="one-time-password"[^>]*value="([^"]+)"', html)
    assert found, "no one-time password on the page"
    return found.group(1)


def rt_of(app: Quart) -> Runtime:
    value: Runtime = app.extensions["smsproxy"]
    return value


async def shown_once(client: Client, response: Response) -> str:
    """Follow a form's redirect to the page that shows a one-time password, check that
    a reload shows it no more, and return the page."""
    assert response.status_code == 303, await page(response)
    assert response.headers["Location"] == "/staff/one-time-password"
    shown = await client.get("/staff/one-time-password")
    assert shown.status_code == 200 and "no-store" in shown.headers["Cache-Control"]
    html = await page(shown)
    password = one_time_password_on(html)
    again = await client.get("/staff/one-time-password")
    assert again.status_code == 303 and again.headers["Location"] == "/staff"
    assert password not in await page(await client.get("/staff"))
    return html


async def log_in(client: Client, username: str, password: str, next_url: str = "/") -> Response:
    form = {"username": username, "password": password, "next": next_url}
    return await csrf_post(client, "/login", form)


async def test_staff_page_lists_accounts_for_admins(app: Quart, staff_client: Client) -> None:
    await add_staff(app, "zoe", "agent")
    async with rt_of(app).db.transaction() as session:
        await users.set_active(session, "zoe", False, actor="tests")
    response = await staff_client.get("/staff")
    html = await page(response)
    assert response.status_code == 200
    assert 'href="/staff" aria-current="page"' in html
    assert re.search(
        r"test-admin <span class=\"muted\">\(you\)</span></th>\s*"
        r"<td data-label=\"Role\">Admin</td>",
        html,
    )
    zoe = html[html.index('id="staff-zoe"') :]
    assert "Agent" in zoe and "Disabled" in zoe and "Never" in zoe and "Enable" in zoe
    assert "1 active admin" in html
    # No way to disable or reset oneself from here: the own row links to the account page.
    own = html[html.index('id="staff-test-admin"') : html.index('id="staff-zoe"')]
    assert "/staff/test-admin/active" not in own and "/staff/test-admin/password" not in own
    assert 'href="/account/password"' in own


async def test_agents_cannot_manage_staff(app: Quart, agent_client: Client) -> None:
    assert (await agent_client.get("/staff")).status_code == 403
    await add_staff(app, "zoe", "agent")
    for path, form in [
        ("/staff", {"username": "mallory", "role": "admin"}),
        ("/staff/zoe/active", {"active": "no"}),
        ("/staff/zoe/role", {"role": "admin"}),
        ("/staff/test-agent/role", {"role": "admin"}),
        ("/staff/zoe/password", {}),
    ]:
        assert (await csrf_post(agent_client, path, form)).status_code == 403, path
    async with rt_of(app).db.read() as session:
        names = {user.username: user for user in await users.list_users(session)}
    assert set(names) == {"test-agent", "zoe"}
    assert names["zoe"].active and names["test-agent"].role == Role.agent
    chats = await page(await agent_client.get("/chats"))
    assert 'href="/staff"' not in chats and 'href="/account/password"' in chats


async def test_create_shows_the_one_time_password_once(app: Quart, staff_client: Client) -> None:
    response = await csrf_post(
        staff_client, "/staff", {"username": " New.Person ", "role": "admin"}
    )
    html = await shown_once(staff_client, response)
    password = one_time_password_on(html)
    assert "new.person can log in as an admin" in html and "will not be shown again" in html
    assert 'data-copy="one-time-password"' in html
    listing = await page(await staff_client.get("/staff"))
    assert password not in listing and 'id="staff-new.person"' in listing and "Invited" in listing
    user = await load(rt_of(app), "new.person")
    assert user.role == Role.admin and user.must_change_password and user.active
    assert password not in user.password_hash
    assert ("staff:test-admin", "staff.create", "new.person") in await audit_actions(rt_of(app))


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"username": "a b", "role": "agent"}, 400, "Username must be 3 to 64 characters"),
        ({"username": "", "role": "agent"}, 400, "Username must be 3 to 64 characters"),
        ({"username": "test-admin", "role": "agent"}, 409, "&#39;test-admin&#39; already exists"),
        ({"username": "carol", "role": "owner"}, 400, "Role must be one of: admin, agent"),
    ],
)
async def test_create_errors_are_shown_by_the_form(
    app: Quart, staff_client: Client, form: dict[str, str], status: int, message: str
) -> None:
    response = await csrf_post(staff_client, "/staff", form)
    html = await page(response)
    assert response.status_code == status
    assert 'class="field-error"' in html and message in html
    assert 'id="one-time-password"' not in html
    if form["username"]:
        assert f'value="{form["username"]}"' in html
    async with rt_of(app).db.read() as session:
        assert [user.username for user in await users.list_users(session)] == ["test-admin"]


async def test_staff_forms_need_the_csrf_token(app: Quart, staff_client: Client) -> None:
    response = await staff_client.post(
        "/staff", form={"username": "carol"}, headers={"Origin": "http://localhost"}
    )
    assert response.status_code == 403
    async with rt_of(app).db.read() as session:
        assert await users.get_user_by_username(session, "carol") is None


async def test_one_time_password_flow_end_to_end(app: Quart, staff_client: Client) -> None:
    created = await csrf_post(staff_client, "/staff", {"username": "dana", "role": "agent"})
    password = one_time_password_on(await shown_once(staff_client, created))
    client = app.test_client()

    response = await log_in(client, "dana", password, next_url="/numbers")
    assert response.status_code == 303
    assert response.headers["Location"] == "/account/password?next=/numbers"
    # Nothing else opens before the password is chosen: pages, fetches, the live socket.
    blocked = await client.get("/chats?status=active")
    assert blocked.status_code == 302
    assert blocked.headers["Location"] == "/account/password?next=/chats?status%3Dactive"
    fetched = await client.get("/chats", headers={"Accept": "application/json"})
    assert fetched.status_code == 403
    assert "one-time password" in (await fetched.get_json())["error"]["message"]
    with pytest.raises(WebsocketResponseError) as refused:
        async with client.websocket("/live") as ws:
            await ws.receive()
    assert refused.value.response.status_code == 403

    form_page = await client.get("/account/password?next=/numbers")
    html = await page(form_page)
    assert form_page.status_code == 200 and "Choose your password" in html
    assert 'class="shell"' not in html and 'href="/chats"' not in html  # the bare layout
    assert 'name="next" value="/numbers"' in html and "Log out" in html

    mismatch = {"current_password": password, "new_password": NEW_PASSWORD}
    mismatch["confirm_password"] = NEW_PASSWORD + "!"
    refused_page = await csrf_post(client, "/account/password", {**mismatch, "next": "/numbers"})
    assert refused_page.status_code == 400
    assert "The two new passwords are not the same" in await page(refused_page)

    good = {"current_password": password, "new_password": NEW_PASSWORD}
    done = await csrf_post(
        client, "/account/password", {**good, "confirm_password": NEW_PASSWORD, "next": "/numbers"}
    )
    assert done.status_code == 303 and done.headers["Location"] == "/numbers"
    # The same session goes on with a new cookie, straight into the dashboard.
    numbers = await client.get("/numbers")
    assert numbers.status_code == 200
    assert "Your password is changed" in await page(numbers)
    async with client.websocket("/live") as ws:
        assert json.loads(await ws.receive())["type"] == "hello"
    assert not (await load(rt_of(app), "dana")).must_change_password
    assert (await log_in(app.test_client(), "dana", password)).status_code == 400
    again = await log_in(app.test_client(), "dana", NEW_PASSWORD, next_url="/chats")
    assert again.status_code == 303 and again.headers["Location"] == "/chats"
    assert ("staff:dana", "staff.password", "dana") in await audit_actions(rt_of(app))


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"current_password": ""}, "current-password", "Enter your current password"),
        ({"current_password": "wrong guess!"}, "current-password", "not your current password"),
        ({"new_password": ""}, "new-password", "Enter a new password"),
        ({"new_password": "short", "confirm_password": "short"}, "new-password", "at least 10"),
        (
            {"new_password": STAFF_PASSWORD, "confirm_password": STAFF_PASSWORD},
            "new-password",
            "not the one you have now",
        ),
        ({"confirm_password": ""}, "confirm-password", "not the same"),
    ],
)
async def test_change_password_errors_are_inline(
    app: Quart, agent_client: Client, form: dict[str, str], field: str, message: str
) -> None:
    sent = {
        "current_password": STAFF_PASSWORD,
        "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
        **form,
    }
    response = await csrf_post(agent_client, "/account/password", sent)
    html = await page(response)
    assert response.status_code == 400
    error = re.search(rf'<p class="field-error" id="{field.replace("-", "_")}-error">([^<]*)', html)
    assert error and message in error.group(1), html
    assert STAFF_PASSWORD not in html and NEW_PASSWORD not in html  # never echoed
    async with rt_of(app).db.transaction() as session:
        assert await users.authenticate(session, "test-agent", STAFF_PASSWORD) is not None


async def test_anyone_can_change_their_password_and_other_sessions_end(
    app: Quart, agent_client: Client
) -> None:
    other_device = app.test_client()
    assert (await log_in(other_device, "test-agent", STAFF_PASSWORD)).status_code == 303
    form_page = await agent_client.get("/account/password")
    html = await page(form_page)
    assert "Change your password" in html and 'class="shell"' in html
    assert 'class="user" href="/account/password"' in html
    form = {
        "current_password": STAFF_PASSWORD,
        "new_password": NEW_PASSWORD,
        "confirm_password": NEW_PASSWORD,
    }
    done = await csrf_post(agent_client, "/account/password", form)
    assert done.status_code == 303 and done.headers["Location"] == "/account/password"
    assert (await agent_client.get("/chats")).status_code == 200
    assert (await other_device.get("/chats")).status_code == 302


async def test_disabling_ends_sessions_at_once_and_for_good(
    app: Quart, staff_client: Client, agent_client: Client
) -> None:
    assert (await agent_client.get("/chats")).status_code == 200
    async with agent_client.websocket("/live") as ws:
        assert json.loads(await ws.receive())["type"] == "hello"
        await ws.send_json({"type": "subscribe", "topic": "chat:ch_x", "since": None})
        response = await csrf_post(staff_client, "/staff/test-agent/active", {"active": "no"})
        assert response.status_code == 303 and response.headers["Location"] == "/staff"
        with pytest.raises(WebsocketDisconnectError) as closed:
            async with asyncio.timeout(5):
                await ws.receive()
        assert closed.value.args == (1008,)
    listing = await page(await staff_client.get("/staff"))
    assert "test-agent is disabled and logged out everywhere." in listing
    assert (await agent_client.get("/chats")).status_code == 302
    assert (await log_in(app.test_client(), "test-agent", STAFF_PASSWORD)).status_code == 400

    enabled = await csrf_post(staff_client, "/staff/test-agent/active", {"active": "yes"})
    assert enabled.status_code == 303
    # The old session stays over; logging in again works.
    assert (await agent_client.get("/chats")).status_code == 302
    assert (await log_in(agent_client, "test-agent", STAFF_PASSWORD)).status_code == 303
    assert (await agent_client.get("/chats")).status_code == 200


async def test_someone_elses_socket_stays_open(
    app: Quart, staff_client: Client, agent_client: Client
) -> None:
    await add_staff(app, "zoe", "agent")
    async with agent_client.websocket("/live") as ws:
        await ws.receive()
        await ws.send_json({"type": "subscribe", "topic": "all", "since": None})
        await csrf_post(staff_client, "/staff/zoe/active", {"active": "no"})
        frame = json.loads(await asyncio.wait_for(ws.receive(), 5))
    assert frame["type"] == "event" and frame["event"]["name"] == "staff.sessions_ended"


@pytest.mark.parametrize(
    ("path", "form", "message"),
    [
        ("/staff/test-admin/active", {"active": "no"}, "You cannot disable your own account"),
        ("/staff/test-admin/role", {"role": "agent"}, "&#39;test-admin&#39; is the last active"),
        ("/staff/test-admin/password", {}, "Change your own password on your account page"),
    ],
)
async def test_the_last_admin_and_oneself_are_protected(
    app: Quart, staff_client: Client, path: str, form: dict[str, str], message: str
) -> None:
    response = await csrf_post(staff_client, path, form)
    html = await page(response)
    assert response.status_code == 409
    row = html[html.index('id="staff-test-admin"') :]
    assert re.search(r'<tr class="row-error">.*?' + re.escape(message), row, re.S)
    user = await load(rt_of(app), "test-admin")
    assert user.active and user.role == Role.admin and not user.must_change_password
    assert (await staff_client.get("/staff")).status_code == 200


async def test_unknown_user_is_a_404_with_a_message(staff_client: Client) -> None:
    response = await csrf_post(staff_client, "/staff/nobody/active", {"active": "no"})
    assert response.status_code == 404
    assert "No staff user named &#39;nobody&#39;" in await page(response)


async def test_reset_password_ends_sessions_and_shows_a_one_time_password(
    app: Quart, staff_client: Client, agent_client: Client
) -> None:
    response = await csrf_post(staff_client, "/staff/test-agent/password")
    html = await shown_once(staff_client, response)
    assert "test-agent has a new password" in html
    password = one_time_password_on(html)
    assert (await agent_client.get("/chats")).status_code == 302
    assert (await log_in(app.test_client(), "test-agent", STAFF_PASSWORD)).status_code == 400
    fresh = app.test_client()
    response = await log_in(fresh, "test-agent", password)
    assert response.headers["Location"] == "/account/password?next=/"
    assert ("staff:test-admin", "staff.password_reset", "test-agent") in await audit_actions(
        rt_of(app)
    )


async def test_role_changes(app: Quart, staff_client: Client, agent_client: Client) -> None:
    promoted = await csrf_post(staff_client, "/staff/test-agent/role", {"role": "admin"})
    assert promoted.status_code == 303 and promoted.headers["Location"] == "/staff"
    assert (await agent_client.get("/staff")).status_code == 200
    # With another admin, an admin may step down, and lands on a page still open to them.
    stepped_down = await csrf_post(staff_client, "/staff/test-admin/role", {"role": "agent"})
    assert stepped_down.status_code == 303 and stepped_down.headers["Location"] == "/chats"
    assert "test-admin is now an agent." in await page(await staff_client.get("/chats"))
    assert (await staff_client.get("/staff")).status_code == 403
