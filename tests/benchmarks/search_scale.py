"""Message search at data scale: the requests tests.benchmarks.data_scale times.

Words as common as "the" (in about half of a million texts), a prefix, two words, a
word in one chat of a thousand, the next pages of a common word (following
next_cursor), a rider's real number typed in national format, and a proxy number
(which carries thousands of chats).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

import phonenumbers

from .seed_scale import PROXIES

Request = Callable[[int], Awaitable[int]]
SEARCH = "/api/v1/messages/search"


def national(e164: str) -> str:
    number = phonenumbers.parse(e164)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


def search_requests(
    client: Any, api: dict[str, str], riders: list[str]
) -> list[tuple[str, Request]]:
    async def get(path: str, **args: str) -> int:
        headers = api if path.startswith("/api/") else {}
        response = await client.get(f"{path}?{urlencode(args)}", headers=headers)
        await response.get_data()
        return int(response.status_code)

    cursor: list[str | None] = [None]

    async def next_page(_: int) -> int:
        """The page after the last one asked for; the first again after the last."""
        args = {"q": "the", **({"cursor": cursor[0]} if cursor[0] else {})}
        response = await client.get(f"{SEARCH}?{urlencode(args)}", headers=api)
        cursor[0] = (await response.get_json())["next_cursor"]
        return int(response.status_code)

    return [
        ("GET /search?q=the (page)", lambda _: get("/search", q="the")),
        ("API search: the (common word)", lambda _: get(SEARCH, q="the")),
        ("API search: the, next pages", next_page),
        ("API search: arriv (prefix)", lambda _: get(SEARCH, q="arriv")),
        ("API search: north gate (2 words)", lambda _: get(SEARCH, q="north gate")),
        ("API search: umbrella (rare)", lambda _: get(SEARCH, q="umbrella")),
        ("GET /search?q=<rider, national>", lambda n: get("/search", q=national(riders[n]))),
        ("API search: a proxy number", lambda n: get(SEARCH, q=PROXIES[n % len(PROXIES)])),
    ]
