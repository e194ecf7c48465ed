"""Random create/close sequences against a model of the pool computed here.

After every step the database's active routes must equal the model's, with no pair
twice; a creation is refused exactly when some participant has no free number, and
then the error names the first such participant.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete
from sqlmodel import SQLModel, col, select

from smsproxy.db import Database
from smsproxy.errors import PoolExhausted
from smsproxy.models import Chat, Participant
from smsproxy.proxy import load, pool
from smsproxy.proxy.chats import ChatSpec, NewParticipant, Templates, close_chat, create_chat

COUNTRIES = ("GB", "US")


def number_in(country: str, index: int, base: int) -> str:
    if country == "GB":
        return f"+4477009{base + index:05d}"
    return f"+1202555{base + index:04d}"


@dataclass(frozen=True)
class Create:
    people: tuple[int, ...]


@dataclass(frozen=True)
class Close:
    which: int


@dataclass
class Model:
    """The pool as the rules describe it, kept without the database."""

    pool: dict[str, str]  # enabled proxy number -> country
    people: list[tuple[str, str]]  # (real number, country)
    routes: set[tuple[str, str]] = field(default_factory=set)
    chats: dict[int, list[tuple[str, str]]] = field(default_factory=dict)

    def free_for(self, person: str) -> list[str]:
        return [n for n in self.pool if (person, n) not in self.routes]


pools = st.lists(
    st.tuples(st.sampled_from(COUNTRIES), st.booleans()), min_size=1, max_size=4
).filter(lambda numbers: any(enabled for _, enabled in numbers))
people_countries = st.lists(st.sampled_from(COUNTRIES), min_size=3, max_size=5)
steps = st.lists(
    st.one_of(
        st.builds(
            Create,
            st.lists(st.integers(0, 4), min_size=2, max_size=3, unique=True).map(tuple),
        ),
        st.builds(Close, st.integers(0, 50)),
    ),
    min_size=1,
    max_size=14,
)


@dataclass
class Loop:
    """One event loop and one database for every example: a new engine per example
    would spend most of the time connecting."""

    runner: asyncio.Runner
    db: Database


@pytest.fixture
def loop(database_url: str) -> Iterator[Loop]:
    with asyncio.Runner() as runner:
        db = Database(database_url)
        yield Loop(runner, db)
        runner.run(db.dispose())


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(pool_spec=pools, countries=people_countries, plan=steps)
def test_allocation_matches_the_model(
    loop: Loop,
    pool_spec: list[tuple[str, bool]],
    countries: list[str],
    plan: list[Create | Close],
) -> None:
    loop.runner.run(run_example(loop.db, pool_spec, countries, plan))


async def run_example(
    db: Database,
    pool_spec: list[tuple[str, bool]],
    countries: list[str],
    plan: list[Create | Close],
) -> None:
    await empty(db)
    model = Model(
        pool={},
        people=[(number_in(c, i, 100), c) for i, c in enumerate(countries)],
    )
    async with db.transaction() as session:
        for index, (country, enabled) in enumerate(pool_spec):
            number = number_in(country, index, 900)
            await pool.add_number(session, number)
            if enabled:
                model.pool[number] = country
            else:
                await pool.set_enabled(session, number, False)
    for step in plan:
        if isinstance(step, Create):
            await create_step(db, model, step)
        else:
            await close_step(db, model, step)
        await check_database(db, model)


async def empty(db: Database) -> None:
    """One example's rows must not meet the next one's."""
    async with db.transaction() as session:
        for table in reversed(SQLModel.metadata.sorted_tables):
            await session.exec(delete(table))


async def create_step(db: Database, model: Model, step: Create) -> None:
    people = [model.people[i] for i in step.people if i < len(model.people)]
    if len(people) < 2:
        return
    free = {person: model.free_for(person) for person, _ in people}
    starved = [i for i, (person, _) in enumerate(people) if not free[person]]
    spec = ChatSpec([NewParticipant(person) for person, _ in people], intro=False)
    try:
        async with db.transaction() as session:
            view = await create_chat(session, spec, templates=Templates(), actor="tests")
    except PoolExhausted as error:
        assert starved, f"refused although everyone had a free number: {free}"
        assert error.field == f"participants.{starved[0]}.number"
        assert f"participant {starved[0] + 1} (" in error.message
        return
    assert not starved, f"created although participant {starved} had no free number"
    given = {p.real_number: p.proxy_number for p in view.participants}
    for person, country in people:
        proxy = given[person]
        assert proxy in free[person], "a route that was not free (or a disabled number)"
        home = [n for n in free[person] if model.pool[n] == country]
        if home:
            assert model.pool[proxy] == country, "a free number in their country was skipped"
    shared = [n for n in model.pool if all(n in free[p] and model.pool[n] == c for p, c in people)]
    if shared:
        assert len(set(given.values())) == 1, "one number could serve everyone"
    assert view.chat.id is not None
    model.chats[view.chat.id] = list(given.items())
    model.routes.update(given.items())


async def close_step(db: Database, model: Model, step: Close) -> None:
    if not model.chats:
        return
    chat_id = sorted(model.chats)[step.which % len(model.chats)]
    async with db.transaction() as session:
        chat = await session.get(Chat, chat_id)
        assert chat is not None
        closed = await close_chat(
            session, chat, reason="test", actor="tests", goodbye=False, templates=Templates()
        )
    assert closed
    model.routes.difference_update(model.chats.pop(chat_id))


async def check_database(db: Database, model: Model) -> None:
    async with db.read() as session:
        rows = (
            await session.exec(
                select(Participant.real_number, Participant.proxy_number).where(
                    col(Participant.active)
                )
            )
        ).all()
        assert await load.count_drift(session) == [], "route counters differ from a count"
    pairs = [tuple(row) for row in rows]
    assert len(pairs) == len(set(pairs)), "a (real number, proxy number) pair is active twice"
    assert set(pairs) == model.routes
