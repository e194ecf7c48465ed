"""`smsproxy erase NUMBER`: every trace of one real number goes, in any spelling; what
others wrote stays (without the number); a STOP it sent still holds."""

from __future__ import annotations

from sqlmodel import select

from smsproxy.carrier import InboundSms
from smsproxy.models import (
    ApiKey,
    AuditEvent,
    ChatStatus,
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    ErasedOptOut,
    IdempotencyRecord,
    Message,
    OptOut,
)
from smsproxy.phone import mask, spellings
from smsproxy.proxy.erasure import Erasure, erase_number, survey
from smsproxy.proxy.inbound import receive_sms
from smsproxy.proxy.messages import send_staff_message
from smsproxy.proxy.options import RoutingOptions
from smsproxy.proxy.queries import ChatView, get_chat
from smsproxy.proxy.sandbox import text_from_handset
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers, create_api_key, database_text, start_chat

P1, P2, P3 = "+447700900901", "+447700900902", "+447700900903"
ERASED = "+447911123456"  # the person who asks to be forgotten
BOB, CAROL = "+447700900102", "+447700900103"
OPTIONS = RoutingOptions(ended_reply="Ended.", opt_out_reply="Unsubscribed.", opt_in_reply="Back.")
_ids = iter(range(1, 1000))


async def text(rt: Runtime, sender: str, to: str, body: str, **parts: object) -> None:
    async with rt.db.transaction() as session:
        inbound = InboundSms(sender, to, f"E{next(_ids)}", body, **parts)  # type: ignore[arg-type]
        await receive_sms(session, inbound, OPTIONS)


def proxy_of(view: ChatView, number: str) -> str:
    return next(p.proxy_number for p in view.participants if p.real_number == number)


async def everywhere(rt: Runtime) -> tuple[ChatView, ChatView]:
    """The number in every place the product keeps one."""
    await add_numbers(rt, P1, P2, P3)
    earlier = await start_chat(rt, (ERASED, "Erin"), (CAROL, "Carol"), intro=True)
    await text(rt, ERASED, proxy_of(earlier, ERASED), "erin's old words")
    async with rt.db.transaction() as session:
        chat = (await get_chat(session, earlier.chat.public_id)).chat
        from smsproxy.proxy.chats import close_chat

        await close_chat(
            session, chat, reason="staff", actor="t", goodbye=True, templates=rt.templates
        )
    current = await start_chat(rt, (ERASED, "Erin"), (BOB, "Bob"), intro=True)
    await text(rt, ERASED, proxy_of(current, ERASED), "erin's words")
    await text(rt, BOB, proxy_of(current, BOB), "Carol says Erin is on 07911 123456")
    async with rt.db.transaction() as session:
        await send_staff_message(
            session,
            current.chat.public_id,
            "Erin, +44 7911 123456 is noted",
            staff_user_id=None,
            actor="t",
        )
    await text(rt, ERASED, P3, "erin's stray words")  # unrouted: an ended reply
    await text(rt, ERASED, P3, "STOP")
    await text_from_handset(rt.db, rt.routing, ERASED, P3, "erin's sandbox words")
    await text(rt, ERASED, P2, "erin's first part", concat_ref="5", concat_total=2, concat_part=1)
    await create_api_key(rt)
    async with rt.db.transaction() as session:
        key = (await session.exec(select(ApiKey))).one()
        assert key.id is not None
        erin = next(p for p in current.participants if p.real_number == ERASED)
        replay = {"participants": [{"id": erin.public_id, "number": mask(ERASED)}]}
        session.add(
            IdempotencyRecord(
                api_key_id=key.id, key="k", request_hash="h", status_code=201, response=replay
            )
        )
    return earlier, current


async def erase(rt: Runtime, number: str = ERASED) -> Erasure:
    async with rt.db.transaction() as session:
        return await erase_number(session, number, actor="cli", templates=rt.templates)


async def test_every_spelling_of_the_number_and_every_word_of_theirs_goes(
    runtime: Runtime,
) -> None:
    await everywhere(runtime)
    before = await database_text(runtime)
    assert all(form in before for form in spellings(ERASED)[:4]), "setup: it is everywhere"

    done = await erase(runtime)

    after = await database_text(runtime)
    for form in spellings(ERASED):
        assert form not in after, f"{form!r} survived the erasure"
    for words in ("erin's", "Erin'", "07911"):
        assert words not in after
    assert done.participants == 2 and done.messages >= 4 and done.opted_out


async def test_what_others_wrote_stays_without_the_number(runtime: Runtime) -> None:
    _, current = await everywhere(runtime)

    await erase(runtime)

    async with runtime.db.read() as session:
        bodies = (
            await session.exec(select(Message.body).where(Message.chat_id == current.chat.id))
        ).all()
    assert "Carol says Erin is on [erased]" in bodies
    assert "Erin, [erased] is noted" in bodies
    assert "" in bodies  # Erin's own words, erased


async def test_active_chats_are_closed_first_without_a_goodbye(runtime: Runtime) -> None:
    _, current = await everywhere(runtime)
    async with runtime.db.read() as session:
        assert (await survey(session, ERASED)).chats_closed == 1

    done = await erase(runtime)

    assert done.chats_closed == 1
    async with runtime.db.read() as session:
        view = await get_chat(session, current.chat.public_id)
        goodbyes = (
            await session.exec(
                select(Delivery).where(
                    Delivery.chat_id == current.chat.id, Delivery.kind == DeliveryKind.goodbye
                )
            )
        ).all()
    assert (view.chat.status, view.chat.close_reason) == (ChatStatus.closed, "erasure")
    assert goodbyes == []
    assert [p.real_number for p in view.participants] == ["erased", BOB]


async def test_the_audit_log_records_the_erasure_without_the_number(runtime: Runtime) -> None:
    await everywhere(runtime)

    await erase(runtime)

    async with runtime.db.read() as session:
        [entry] = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "number.erase"))
        ).all()
    assert entry.actor == "cli" and entry.target is None
    assert entry.detail["participants"] == 2
    assert not any(form in repr(entry.detail) for form in spellings(ERASED))


async def test_a_stop_survives_erasure(runtime: Runtime) -> None:
    await everywhere(runtime)
    await erase(runtime)
    async with runtime.db.read() as session:
        assert (await session.exec(select(OptOut))).all() == []
        assert len((await session.exec(select(ErasedOptOut))).all()) == 1

    view = await start_chat(runtime, (ERASED, "Again"), (CAROL, "Carol"), intro=True)

    again = next(p for p in view.participants if p.real_number == ERASED)
    assert again.opted_out, "erasure did not subscribe them again"
    async with runtime.db.read() as session:
        intro = (
            await session.exec(
                select(Delivery).where(
                    Delivery.to_number == ERASED, Delivery.kind == DeliveryKind.intro
                )
            )
        ).one()
    assert intro.status == DeliveryStatus.suppressed


async def test_start_after_erasure_opts_in_again(runtime: Runtime) -> None:
    await everywhere(runtime)
    await erase(runtime)

    await text(runtime, ERASED, P1, "START")

    async with runtime.db.read() as session:
        assert (await session.exec(select(ErasedOptOut))).all() == []
        [reply] = (await session.exec(select(Delivery).where(Delivery.to_number == ERASED))).all()
    assert reply.body == "Back."


async def test_a_number_never_seen_erases_nothing_but_its_spellings(runtime: Runtime) -> None:
    await add_numbers(runtime, P1)
    view = await start_chat(runtime, (BOB, "Bob"), (CAROL, "Carol"))
    await text(runtime, BOB, proxy_of(view, BOB), "my old number was 07911 123456")

    done = await erase(runtime)

    assert (done.participants, done.messages, done.deliveries) == (0, 0, 0)
    assert "07911" not in await database_text(runtime)
