"""Data scale: the pages and API calls staff and integrations use, on a large database.

A separate SQLite file is migrated (`smsproxy db upgrade`), given a pool (`smsproxy
numbers add`) and a staff user (`smsproxy users create`), filled by `seed`, and served
by `smsproxy run`. Each request kind is then timed over sequential requests (after one
untimed request), as one person or one integration would send them.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from .apps import SEND_RATE, embedded_smsproxy
from .carrier import FakeCarrier
from .seed import Sizes, pool_numbers, samples, seed
from .servers import ServerError, run_command
from .stats import ms, percentile
from .web import Answer, Browser, HttpError

# API keys may make 50 requests a second: stay below it, so no answer is a 429.
MIN_GAP_SECONDS = 0.03


@dataclass
class ScaleResult:
    sizes: Sizes
    timings: dict[str, list[float]] = field(default_factory=dict)
    broken: str | None = None

    def p95(self) -> dict[str, float]:
        return {name: percentile(values, 0.95) for name, values in self.timings.items()}


def request_kinds(
    browser: Browser, picks: dict[str, list[str]]
) -> dict[str, Callable[[int], Answer]]:
    def page(path: str) -> Answer:
        return browser.request("GET", path)

    def search(text: str) -> Answer:
        return page("/chats?" + urlencode({"q": text, "status": "all"}))

    def create(n: int) -> Answer:
        numbers = [f"+447911{secrets.randbelow(10**6):06d}" for _ in range(2)]
        payload = {
            "participants": [
                {"number": numbers[0], "name": f"New rider {n}"},
                {"number": numbers[1], "name": f"New driver {n}"},
            ],
            "reference": f"NEW-{secrets.token_hex(4)}",
        }
        return browser.api("POST", "/api/v1/chats", payload, expect=201)

    def pick(kind: str, n: int) -> str:
        return picks[kind][n % len(picks[kind])]

    return {
        "chat list page": lambda n: page("/chats"),
        "chat page": lambda n: page(f"/chats/{pick('chat', n)}"),
        "GET /api/v1/chats": lambda n: browser.api("GET", "/api/v1/chats"),
        "transcript (API)": lambda n: browser.api(
            "GET", f"/api/v1/chats/{pick('chat', n)}/messages"
        ),
        "search by reference": lambda n: search(pick("reference", n)),
        "search by name": lambda n: search(pick("name", n)),
        "chat creation (API)": create,
    }


def run_datascale(scale: float, repeats: int, workdir: Path) -> ScaleResult:
    sizes = Sizes.at(scale)
    result = ScaleResult(sizes)
    print(f"\n== data scale: {sizes.describe()}; SQLite, smsproxy run")
    directory = workdir / "scale"
    directory.mkdir()
    username, password = "bench-staff", secrets.token_urlsafe(18)
    try:
        with FakeCarrier() as carrier:
            env = {**carrier.environment, "SEND_RATE_PER_SECOND": SEND_RATE}
            run_command(["smsproxy", "db", "upgrade"], env, directory)
            run_command(["smsproxy", "numbers", "add", *pool_numbers()], env, directory)
            run_command(
                ["smsproxy", "users", "create", username, "--password-stdin"],
                env,
                directory,
                stdin=password + "\n",
            )
            database = directory / "smsproxy.db"
            print(f"  seeded in {seed(database, sizes):.1f} s", flush=True)
            picks = samples(database, repeats)
            with embedded_smsproxy("scale", env, directory) as (server, key):
                browser = Browser(server.port, api_key=key)
                browser.log_in(username, password)
                for name, send in request_kinds(browser, picks).items():
                    result.timings[name] = _time(name, send, repeats)
                    _print_kind(name, result.timings[name])
                browser.close()
    except (ServerError, HttpError, RuntimeError) as error:
        result.broken = str(error)
        print(f"  BROKEN: {error}")
    return result


def _time(name: str, send: Callable[[int], Answer], repeats: int) -> list[float]:
    seconds = []
    for n in range(repeats + 1):
        started = time.monotonic()
        answer = send(n)
        if answer.status not in (200, 201):
            raise HttpError(f"{name}: answered {answer.status}: {answer.body[:200]!r}")
        if n:  # the first warms caches and templates
            seconds.append(answer.seconds)
        time.sleep(max(0.0, started + MIN_GAP_SECONDS - time.monotonic()))
    return seconds


def _print_kind(name: str, seconds: list[float]) -> None:
    figures = ", ".join(
        f"{label} {ms(percentile(seconds, share))}"
        for label, share in (("p50", 0.5), ("p95", 0.95), ("max", 1.0))
    )
    print(f"  {name:<22} {figures}", flush=True)
