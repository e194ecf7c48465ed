"""The sandbox's handsets, a page at a time: most recently active first, found by number
or by name, each with its newest SMS, its chats and its names."""

from __future__ import annotations

from datetime import timedelta

from smsproxy.carrier import handsets
from smsproxy.carrier.handsets import find_handsets
from smsproxy.carrier.sandbox import new_sandbox_message_id
from smsproxy.db import utcnow
from smsproxy.models import SandboxSms
from smsproxy.proxy.sandbox import text_from_handset
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, start_chat

P1, P2 = "+447700900901", "+447700900902"


async def numbers_of(rt: Runtime, **search: object) -> list[str]:
    async with rt.db.read() as session:
        found = await find_handsets(session, **search)  # type: ignore[arg-type]
    return [handset.number for handset in found.handsets]


async def test_pages_follow_the_latest_activity(runtime: Runtime) -> None:
    await add_numbers(runtime, P1, P2)
    for n in range(3):
        await start_chat(runtime, (f"+44770090010{n}", f"Rider {n}"), (f"+44770090020{n}", "D"))
    # The oldest chat's rider texts: now the most recently active phone.
    await text_from_handset(runtime.db, runtime.routing, "+447700900100", P1, "Still there?")
    first = await numbers_of(runtime, per_page=4)
    assert first[0] == "+447700900100"
    async with runtime.db.read() as session:
        page = await find_handsets(session, per_page=4)
        second = await find_handsets(session, per_page=4, page=2)
        beyond = await find_handsets(session, per_page=4, page=9)
    assert (page.total, page.pages, second.page) == (6, 2, 2)
    assert len(second.handsets) == 2 and not set(first) & {h.number for h in second.handsets}
    assert beyond.page == 2  # past the end: the last page


async def test_search_by_name_or_any_part_of_the_number(runtime: Runtime) -> None:
    await add_numbers(runtime, P1, P2)
    await start_chat(runtime, ("+447700900111", "Rider (airport)"), ("+447700900222", "Driver"))
    await start_chat(runtime, ("+447700900333", "Buyer"), ("+447700900444", "Seller"))
    assert await numbers_of(runtime, query="airport") == ["+447700900111"]
    assert await numbers_of(runtime, query="rider") == ["+447700900111"]
    assert await numbers_of(runtime, query="07700 900 333") == ["+447700900333"]
    assert await numbers_of(runtime, query="nobody") == []
    assert handsets.matches("+447700900555", [], "900 555")
    assert not handsets.matches("+447700900555", ["Ann"], "Bob")


async def test_a_handset_shows_its_names_chats_and_newest_sms(runtime: Runtime) -> None:
    await add_numbers(runtime, P1, P2)
    view = await start_chat(runtime, ("+447700900111", "Rider"), ("+447700900222", "Driver"))
    await start_chat(runtime, ("+447700900111", "Rider (return)"), ("+447700900333", "Cab 7"))
    now = utcnow()
    async with runtime.db.transaction() as session:
        for n in range(handsets.SMS_SHOWN + 5):
            session.add(
                SandboxSms(
                    handset_number="+447700900111",
                    proxy_number=P1,
                    direction="in",
                    body=f"sms {n}",
                    carrier_message_id=new_sandbox_message_id(),
                    created_at=now - timedelta(minutes=100 - n),
                )
            )
    async with runtime.db.read() as session:
        [rider] = (await find_handsets(session, query="+447700900111")).handsets
    assert rider.names == ["Rider (return)", "Rider"]  # newest chat first
    assert len(rider.routes) == 2 and rider.routes[0].chat_id == view.chat.public_id
    assert len(rider.sms) == handsets.SMS_SHOWN
    assert rider.sms[0].body == "sms 5" and rider.sms[-1].body == f"sms {handsets.SMS_SHOWN + 4}"
    assert rider.states == []  # nothing yet: the opt-out rule fills it
