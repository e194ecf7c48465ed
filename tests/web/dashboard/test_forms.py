"""Every dashboard form refuses a post without its CSRF token."""

from __future__ import annotations

import pytest
from quart.typing import TestClientProtocol as Client

from smsproxy.models import (
    ApiKey,
    Chat,
    ChatStatus,
    Message,
)
from smsproxy.proxy import keys
from smsproxy.proxy.queries import ChatView
from smsproxy.runtime import Runtime
from tests.web.dashboard.pages import (
    P1,
    RIDER,
    rows_of,
)


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/chats/new", {"action": "create"}),
        ("/chats/{chat}/messages", {"body": "hi"}),
        ("/chats/{chat}/close", {"goodbye": "yes"}),
        ("/chats/{chat}/read", {}),
        ("/numbers", {"number": "+447700900903"}),
        (f"/numbers/{P1}/enabled", {"enabled": "no"}),
        (f"/numbers/{P1}/remove", {}),
        ("/sandbox/phones", {"number": "+447700900555"}),
        (f"/sandbox/phones/{RIDER}/sms", {"proxy": P1, "text": "hi"}),
        ("/api-keys", {"name": "csrf"}),
        ("/api-keys/1/revoke", {}),
    ],
)
async def test_every_form_needs_the_csrf_token(
    staff_client: Client, app_runtime: Runtime, chat: ChatView, path: str, form: dict[str, str]
) -> None:
    async with app_runtime.db.transaction() as session:
        await keys.create_key(session, "existing", actor="tests")
    path = path.format(chat=chat.chat.public_id)
    await staff_client.get("/chats")  # the session has a token; the form just lacks it
    response = await staff_client.post(path, form=form, headers={"Origin": "http://localhost"})
    assert response.status_code == 403, path
    [stored] = await rows_of(app_runtime, Chat)
    assert stored.status == ChatStatus.active
    assert len(await rows_of(app_runtime, Message)) == 1  # the intro only
    assert len(await rows_of(app_runtime, ApiKey)) == 1
