"""Chat lifecycle in the domain: create, validate, close, list, transcript, retries."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from smsproxy.db import utcnow
from smsproxy.errors import Conflict, InvalidChat, InvalidNumber, NotFound
from smsproxy.models import (
    AuditEvent,
    AuthorKind,
    Chat,
    ChatStatus,
    Delivery,
    DeliveryKind,
    EventRecord,
    Message,
    Participant,
)
from smsproxy.proxy import chats, queries, transcripts
from smsproxy.proxy.chats import (
    ChatSpec,
    NewParticipant,
    Templates,
    close_chat,
    create_chat,
    retry_on_route_conflict,
)
from smsproxy.proxy.queries import ChatView
from smsproxy.runtime import Runtime
from tests.helpers import add_numbers

PROXY = "+447700900901"
ALICE, BOB, CAROL = "+447700900101", "+447700900102", "+447700900103"
TEMPLATES = Templates(intro="Hi {name}, you can text {other} here ({reference})", goodbye="Bye")


def spec(*people: str, **options: object) -> ChatSpec:
    names = ["Rider", "Driver", "Helper"]
    return ChatSpec(
        [NewParticipant(p, names[i]) for i, p in enumerate(people)],
        **options,  # type: ignore[arg-type]
    )


async def create(
    rt: Runtime, chat_spec: ChatSpec, templates: Templates = TEMPLATES, region: str | None = None
) -> ChatView:
    async with rt.db.transaction() as session:
        return await create_chat(
            session, chat_spec, templates=templates, actor="tests", default_region=region
        )


async def close(rt: Runtime, view: ChatView, *, goodbye: bool = True) -> bool:
    async with rt.db.transaction() as session:
        chat = await session.get(Chat, view.chat.id)
        assert chat is not None
        return await close_chat(
            session, chat, reason="staff", actor="tests", goodbye=goodbye, templates=TEMPLATES
        )


async def deliveries(rt: Runtime, kind: DeliveryKind) -> list[Delivery]:
    async with rt.db.read() as session:
        query = select(Delivery).where(Delivery.kind == kind).order_by(col(Delivery.id))
        return list((await session.exec(query)).all())


@pytest.fixture
async def rt(runtime: Runtime) -> Runtime:
    await add_numbers(runtime, PROXY)
    return runtime


async def test_create_records_the_chat_and_its_routes(rt: Runtime) -> None:
    before = utcnow()
    view = await create(
        rt, spec(ALICE, " 07700 900102 ", reference="booking-7", ttl_seconds=600), region="GB"
    )
    chat = view.chat
    assert chat.public_id.startswith("ch_")
    assert (chat.status, chat.reference, chat.idle_ttl_seconds) == ("active", "booking-7", 600)
    assert chat.idle_expires_at is not None
    assert chat.idle_expires_at - chat.last_activity_at == timedelta(seconds=600)
    assert chat.last_activity_at >= before
    assert [
        (p.real_number, p.name, p.proxy_number, p.position, p.active) for p in view.participants
    ] == [
        (ALICE, "Rider", PROXY, 0, True),
        (BOB, "Driver", PROXY, 1, True),
    ]
    async with rt.db.read() as session:
        stored = (await session.exec(select(Participant.channel))).all()
        audit = (await session.exec(select(AuditEvent))).all()
        event = (
            await session.exec(select(EventRecord).where(EventRecord.name == "chat.created"))
        ).one()
    assert stored == ["sms", "sms"]  # each participant's channel, recorded at creation
    assert [(a.actor, a.action, a.target) for a in audit] == [
        ("tests", "chat.create", chat.public_id)
    ]
    assert event.chat_public_id == chat.public_id
    assert [p["number"] for p in event.payload["participants"]] == [
        "+44770•••••01",
        "+44770•••••02",
    ]
    assert ALICE not in json.dumps(event.payload) and BOB not in json.dumps(event.payload)


async def test_expiry_is_kept_in_utc(rt: Runtime) -> None:
    in_new_york = datetime(2100, 1, 1, 7, 0, tzinfo=timezone(-timedelta(hours=5)))
    view = await create(rt, spec(ALICE, BOB, expires_at=in_new_york))
    assert view.chat.expires_at == in_new_york
    assert view.chat.expires_at is not None and view.chat.expires_at.tzinfo == UTC
    assert view.chat.expires_at.hour == 12


async def test_intro_goes_to_each_participant_from_their_own_number(rt: Runtime) -> None:
    await add_numbers(rt, "+12025550901")
    sam = "+12025550111"
    view = await create(rt, spec(ALICE, sam, reference="B-1"))
    intros = await deliveries(rt, DeliveryKind.intro)
    assert [(d.to_number, d.from_number, d.body, d.status) for d in intros] == [
        (ALICE, PROXY, "Hi Rider, you can text Driver here (B-1)", "queued"),
        (sam, "+12025550901", "Hi Driver, you can text Rider here (B-1)", "queued"),
    ]
    assert {d.chat_id for d in intros} == {view.chat.id}
    async with rt.db.read() as session:
        message = (await session.exec(select(Message))).one()
    assert message.author_kind == AuthorKind.system
    assert {d.message_id for d in intros} == {message.id}


@pytest.mark.parametrize(("intro", "template"), [(False, TEMPLATES.intro), (True, ""), (False, "")])
async def test_no_intro_when_not_asked_or_not_configured(
    rt: Runtime, intro: bool, template: str
) -> None:
    await create(rt, spec(ALICE, BOB, intro=intro), Templates(intro=template, goodbye="Bye"))
    assert await deliveries(rt, DeliveryKind.intro) == []
    async with rt.db.read() as session:
        assert (await session.exec(select(Message))).all() == []


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{name} meets {other}", "Rider meets Driver, Helper"),
        ("ref {reference}!", "ref R9!"),
        ("keeps {unknown} as typed", "keeps {unknown} as typed"),
        ("broken {", "broken {"),
        ("{0} positional", "{0} positional"),
        ("{other.name} attribute", "{other.name} attribute"),
        ("{nobody.name} attribute", "{nobody.name} attribute"),
    ],
)
def test_render(template: str, expected: str) -> None:
    view = ChatView(
        Chat(reference="R9"),
        [
            Participant(
                id=i + 1, chat_id=1, real_number=n, proxy_number=PROXY, name=name, position=i
            )
            for i, (n, name) in enumerate([(ALICE, "Rider"), (BOB, "Driver"), (CAROL, "Helper")])
        ],
    )
    assert chats.render(template, view, view.participants[0]) == expected


def test_unnamed_participants_are_numbered() -> None:
    third = Participant(chat_id=1, real_number=ALICE, proxy_number=PROXY, position=2)
    assert third.display_name == "Participant 3"


ELEVEN = ChatSpec([NewParticipant(f"+4477009002{i:02d}") for i in range(11)])
PAST = utcnow() - timedelta(seconds=1)
YEAR_10000 = datetime(9999, 12, 31, tzinfo=timezone(-timedelta(hours=12)))  # in UTC
NUL_NAME = ChatSpec([NewParticipant(ALICE), NewParticipant(BOB, "nul\x00")])
SECOND = "participants.1.number"


@pytest.mark.parametrize(
    ("chat_spec", "error", "field", "words"),
    [
        (spec(ALICE), InvalidChat, "participants", "2 to 10 participants, got 1"),
        (ELEVEN, InvalidChat, "participants", "got 11"),
        (spec(ALICE, "call me"), InvalidNumber, SECOND, "Participant 2's number 'call me'"),
        (spec(ALICE, "+44 7700 900101"), InvalidChat, SECOND, "the same number (+44770•••••01)"),
        (spec(ALICE, PROXY), InvalidChat, SECOND, "one of the pool's proxy numbers"),
        (spec(ALICE, BOB, ttl_seconds=59), InvalidChat, "ttl_seconds", "at least 60"),
        (spec(ALICE, BOB, reference="x" * 201), InvalidChat, "reference", "longer than 200"),
        (spec(ALICE, BOB, reference="a\nb"), InvalidChat, "reference", "control characters"),
        (spec(ALICE, BOB, expires_at=PAST), InvalidChat, "expires_at", "in the past"),
        (spec(ALICE, BOB, expires_at=YEAR_10000), InvalidChat, "expires_at", "too far in the"),
        (NUL_NAME, InvalidChat, "participants.1.name", "Participant 2's name has control"),
    ],
)  # fmt: skip
async def test_invalid_chats_are_refused_with_a_reason(
    rt: Runtime, chat_spec: ChatSpec, error: type[Exception], field: str, words: str
) -> None:
    with pytest.raises(error) as caught:
        await create(rt, chat_spec)
    assert caught.value.field == field  # type: ignore[attr-defined]
    assert words in caught.value.message  # type: ignore[attr-defined]
    async with rt.db.read() as session:
        assert (await session.exec(select(Chat))).all() == []


async def test_close_frees_routes_records_why_and_says_goodbye(rt: Runtime) -> None:
    view = await create(rt, spec(ALICE, BOB))
    assert await close(rt, view) is True
    async with rt.db.read() as session:
        closed = await queries.get_chat(session, view.chat.public_id)
        events = (await session.exec(select(EventRecord.name).order_by(col(EventRecord.id)))).all()
    assert closed.chat.status == ChatStatus.closed
    assert closed.chat.close_reason == "staff"
    assert closed.chat.closed_at is not None
    assert [p.active for p in closed.participants] == [False, False]
    goodbyes = await deliveries(rt, DeliveryKind.goodbye)
    assert [(d.to_number, d.from_number, d.body) for d in goodbyes] == [
        (ALICE, PROXY, "Bye"),
        (BOB, PROXY, "Bye"),
    ]
    assert events[-1] == "chat.closed"


async def test_closing_twice_changes_nothing(rt: Runtime) -> None:
    view = await create(rt, spec(ALICE, BOB))
    assert await close(rt, view) is True
    async with rt.db.read() as session:
        first = await queries.get_chat(session, view.chat.public_id)
    assert await close(rt, view) is False
    async with rt.db.read() as session:
        second = await queries.get_chat(session, view.chat.public_id)
        closes = (
            await session.exec(select(AuditEvent).where(AuditEvent.action == "chat.close"))
        ).all()
    assert second.chat.closed_at == first.chat.closed_at
    assert len(closes) == 1
    assert len(await deliveries(rt, DeliveryKind.goodbye)) == 2


async def test_close_without_goodbye_sends_nothing(rt: Runtime) -> None:
    view = await create(rt, spec(ALICE, BOB))
    assert await close(rt, view, goodbye=False)
    assert await deliveries(rt, DeliveryKind.goodbye) == []


async def test_get_chat_unknown_id(rt: Runtime) -> None:
    async with rt.db.read() as session:
        with pytest.raises(NotFound, match="No chat with id 'ch_nope'"):
            await queries.get_chat(session, "ch_nope")


async def test_list_filters_and_pages_without_gaps(rt: Runtime) -> None:
    made = []
    for i in range(7):
        made.append(
            await create(
                rt,
                spec(
                    f"+4477009003{i:02d}", f"+4477009004{i:02d}", reference=f"r{i % 2}", intro=False
                ),
            )
        )
    await close(rt, made[0], goodbye=False)
    await close(rt, made[3], goodbye=False)
    newest_first = [v.chat.public_id for v in reversed(made)]

    seen: list[str] = []
    cursor = None
    async with rt.db.read() as session:
        while True:
            page, cursor = await queries.list_chats(session, cursor=cursor, limit=3)
            seen.extend(v.chat.public_id for v in page)
            assert all(len(v.participants) == 2 for v in page)
            if cursor is None:
                break
        assert seen == newest_first
        active, _ = await queries.list_chats(session, status=ChatStatus.active)
        closed, _ = await queries.list_chats(session, status=ChatStatus.closed)
        r1, _ = await queries.list_chats(session, reference="r1")
        r0_active, _ = await queries.list_chats(session, reference="r0", status=ChatStatus.active)
    assert [v.chat.public_id for v in closed] == [made[3].chat.public_id, made[0].chat.public_id]
    assert len(active) == 5
    assert [v.chat.public_id for v in r1] == [made[i].chat.public_id for i in (5, 3, 1)]
    assert [v.chat.public_id for v in r0_active] == [made[i].chat.public_id for i in (6, 4, 2)]


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        "",
        "YWJj",
        "Yw",  # "c" alone
        "Yzk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5",
        "Yy0x",
    ],
)
def test_bad_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(InvalidChat, match="cursor is not one this API returned"):
        queries.decode_cursor(cursor)


def test_cursor_round_trip() -> None:
    assert queries.decode_cursor(queries.encode_cursor(12345)) == 12345


async def test_transcript_lists_messages_with_their_deliveries(rt: Runtime) -> None:
    view = await create(rt, spec(ALICE, BOB))
    await close(rt, view)
    async with rt.db.read() as session:
        fresh = await queries.get_chat(session, view.chat.public_id)
        entries = await transcripts.transcript(session, fresh)
    assert [e.message.body for e in entries] == [
        "Hi , you can text Rider, Driver here ()",
        "Bye",
    ]
    assert [[d.kind for d in e.deliveries] for e in entries] == [
        ["intro", "intro"],
        ["goodbye", "goodbye"],
    ]
    assert all(e.author is None for e in entries)


async def test_a_route_conflict_is_retried(rt: Runtime) -> None:
    view = await create(rt, spec(ALICE, BOB, intro=False))
    chat_id = view.chat.id
    assert chat_id is not None
    attempts = []

    async def work(session: AsyncSession) -> str:
        attempts.append(1)
        if len(attempts) == 1:
            # What a concurrent creation that took the route first looks like.
            session.add(Participant(chat_id=chat_id, real_number=ALICE, proxy_number=PROXY))
            await session.flush()
        created = await create_chat(
            session, spec(CAROL, "+447700900104"), templates=TEMPLATES, actor="tests"
        )
        return created.chat.public_id

    public_id = await retry_on_route_conflict(rt.db, work)
    assert len(attempts) == 2
    async with rt.db.read() as session:
        assert (await queries.get_chat(session, public_id)).chat.status == "active"


async def test_a_route_conflict_that_persists_becomes_a_clear_conflict(rt: Runtime) -> None:
    view = await create(rt, spec(ALICE, BOB, intro=False))
    calls = []

    async def work(session: AsyncSession) -> None:
        calls.append(1)
        session.add(Participant(chat_id=view.chat.id or 0, real_number=ALICE, proxy_number=PROXY))
        await session.flush()

    with pytest.raises(Conflict, match="number pool is busy"):
        await retry_on_route_conflict(rt.db, work, attempts=3)
    assert len(calls) == 3


async def test_other_integrity_errors_are_not_retried(rt: Runtime) -> None:
    calls = []

    async def work(session: AsyncSession) -> None:
        calls.append(1)
        session.add(Participant(chat_id=999_999, real_number=ALICE, proxy_number=PROXY))
        await session.flush()

    with pytest.raises(IntegrityError):
        await retry_on_route_conflict(rt.db, work)
    assert calls == [1]
