"""Acting on STOP, START and HELP, wherever they were texted (a chat's number or not)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from ..models import Delivery, DeliveryKind, Message
from .keywords import Keyword, KeywordKind
from .options import RoutingOptions
from .optouts import opt_in, opt_out
from .replies import queue_auto_reply


async def act_on_keyword(
    session: AsyncSession,
    keyword: Keyword,
    message: Message,
    options: RoutingOptions,
    now: datetime,
    *,
    chat_public_id: str | None = None,
    participant_id: int | None = None,
) -> list[Delivery]:
    """Opt the sender out or in across the pool, or answer HELP. The sender gets one
    confirmation when their state changed (a second STOP changes nothing, and gets
    nothing), from the number they texted."""
    sender, proxy = message.sender_number, message.proxy_number
    assert sender is not None and proxy is not None
    if keyword.kind == KeywordKind.opt_out:
        changed = await opt_out(
            session, sender, source="keyword", keyword=keyword.word, proxy_number=proxy, now=now
        )
        reply = options.opt_out_reply if changed else ""
    elif keyword.kind == KeywordKind.opt_in:
        changed = await opt_in(session, sender, keyword=keyword.word, proxy_number=proxy, now=now)
        reply = options.opt_in_reply if changed else ""
    else:
        reply = options.help_reply
    if not reply:
        return []
    delivery = await queue_auto_reply(
        session,
        kind=DeliveryKind.keyword_reply,
        message=message,
        from_number=proxy,
        to_number=sender,
        body=reply,
        per_hour=options.auto_replies_per_hour,
        now=now,
        chat_public_id=chat_public_id,
        participant_id=participant_id,
    )
    return [delivery]
