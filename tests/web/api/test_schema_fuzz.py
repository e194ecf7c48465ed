"""schemathesis against the app's own /openapi.json, served by hypercorn, with an API
key: thousands of generated requests, valid and not, to every API operation and
webhook. None may answer 5xx; every status must be one the document lists for the
operation, with a body of the documented schema and content type.

Bounded for CI (2 cores): SCHEMA_FUZZ_EXAMPLES cases per operation and phase (default
100), a fixed seed (SCHEMA_FUZZ_SEED) so a failure reproduces, and a hard time limit.
Run it longer by hand with more examples and another seed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel
from quart import Blueprint
from quart_rate_limiter import rate_limit
from quart_schema import validate_querystring

from smsproxy.app import create_app
from smsproxy.proxy import keys
from smsproxy.web.api.base import ADDRESS_LIMITS_CONFIG, api_key_required
from tests.conftest import make_settings
from tests.helpers import add_numbers, start_chat
from tests.live_server import LiveServer
from tests.server import free_port

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("SCHEMA_FUZZ_EXAMPLES", "100"))
SEED = os.environ.get("SCHEMA_FUZZ_SEED", "20261202")
TIME_LIMIT = 420  # seconds: a hung run fails rather than stalls CI
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)


class Divisor(BaseModel):
    n: int


# An operation made to fail (n=0 is a 500), to prove the run reports what it finds.
careless = Blueprint("careless_api", __name__)


@careless.get("/api/v1/careless")
@rate_limit(10_000, timedelta(seconds=1))
@api_key_required
@validate_querystring(Divisor)
async def get_careless(query_args: Divisor) -> dict[str, float]:
    """Divide one by n."""
    return {"result": 1 / query_args.n}


class Served:
    def __init__(self, server: LiveServer, key: str, workdir: Path) -> None:
        self.server = server
        self.key = key
        self.workdir = workdir  # schemathesis keeps its state (.schemathesis/) there

    def schemathesis(self, *options: str) -> subprocess.CompletedProcess[str]:
        command = [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            self.server.url("/openapi.json"),
            "--header",
            f"Authorization: Bearer {self.key}",
            "--checks",
            CHECKS,
            "--phases",
            "examples,coverage,fuzzing",
            "--mode",
            "all",
            "--max-examples",
            str(EXAMPLES),
            "--seed",
            SEED,
            "--workers",
            "1",
            "--request-timeout",
            "30",
            *options,
        ]
        env = {**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"}
        return subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=TIME_LIMIT,
            env=env,
            cwd=self.workdir,
            check=False,
        )


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[Served]:
    app = create_app(make_settings(database_url), background=False)
    app.register_blueprint(careless)
    # The fuzzer is one address sending as fast as it can; the limits stay documented
    # (429) but should not hide the operations behind them.
    app.config[ADDRESS_LIMITS_CONFIG] = {1.0: 100_000, 60.0: 1_000_000}
    server = LiveServer(app, free_port())
    server.start()
    try:

        async def seed() -> str:
            rt = server.runtime
            await add_numbers(rt, "+447700900901", "+447700900902", "+12025550901")
            await start_chat(rt, ("+447700900001", "Rider"), ("+447700900002", "Driver"))
            async with rt.db.transaction() as session:
                _, key = await keys.create_key(session, "fuzz", actor="tests", can_reveal=True)
            return key

        yield Served(server, server.submit(seed()).result(30), tmp_path)
    finally:
        server.stop()


def test_every_operation_answers_as_documented(served: Served) -> None:
    run = served.schemathesis("--exclude-path", "/api/v1/careless")
    summary = run.stdout[-4000:] + run.stderr[-2000:]
    print(run.stdout[-700:])  # the counts, with -s
    assert run.returncode == 0, summary
    assert "generated" in run.stdout and " 0 generated" not in run.stdout, summary


def test_the_run_reports_a_server_error(served: Served) -> None:
    run = served.schemathesis("--include-path", "/api/v1/careless", "--max-failures", "1")
    assert run.returncode != 0
    assert "Server error" in run.stdout and "/api/v1/careless" in run.stdout, run.stdout[-3000:]
