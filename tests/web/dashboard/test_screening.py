"""Under the default policy (redact), staff read the text as written, marked changed."""

from __future__ import annotations

from quart.typing import TestClientProtocol as Client

from smsproxy.models import Delivery
from smsproxy.proxy.queries import ChatView
from smsproxy.runtime import Runtime
from tests.web.dashboard.pages import RIDER, bubble, reply, rows_of, text

LEAK = "mail me: jo.bloggs@gmail.com"


async def test_a_changed_text_is_marked_with_what_was_removed(
    staff_client: Client, app_runtime: Runtime, chat: ChatView
) -> None:
    await reply(app_runtime, chat, RIDER, LEAK)

    html = await text(await staff_client.get(f"/chats/{chat.chat.public_id}"))

    shown = bubble(html, LEAK)
    assert "Changed:</strong> an e-mail address removed before forwarding." in shown
    forwarded = [d.body for d in await rows_of(app_runtime, Delivery) if "mail me" in d.body]
    assert forwarded == ["mail me: [email removed]"]
