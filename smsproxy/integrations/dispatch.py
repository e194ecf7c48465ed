"""Sending: one signed HTTP POST per attempt, then its outcome recorded.

The worker (`workers/webhooks.py`) sends what it claims through `Dispatcher.deliver`;
the API and the dashboard send test pings through `Dispatcher.ping`. A request never
holds a database connection: the row is leased first, the outcome recorded after.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx

from .. import events
from ..db import Database, utcnow
from ..models import WebhookDelivery, WebhookDeliveryStatus
from .claims import Claimed
from .endpoints import get_endpoint
from .results import AttemptResult, Outcome, Policy, record_attempts
from .signing import SecretBox, SecretUnreadable, signed_headers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WebhookOptions:
    """The settings sending needs, as plain values."""

    timeout_seconds: float = 10.0
    concurrency: int = 4  # requests at once per endpoint, per process
    retry_seconds: float = 24 * 3600
    disable_after_seconds: float = 3 * 24 * 3600
    log_days: int = 30

    @property
    def lease_seconds(self) -> float:
        # Outlasts the request's own timeout, so a live worker's row is never taken.
        return self.timeout_seconds + 5.0

    @property
    def policy(self) -> Policy:
        return Policy(self.retry_seconds, self.disable_after_seconds)


def make_client(timeout_seconds: float) -> httpx.AsyncClient:
    """One pooled client per process. Redirects are not followed: the signature is for
    the URL the integrator registered."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_seconds),
        follow_redirects=False,
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=32),
    )


def retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, (when - now).total_seconds())


async def post(
    client: httpx.AsyncClient, url: str, body: str, headers: dict[str, str]
) -> AttemptResult:
    """One POST; what the endpoint answered, or why it did not."""
    started = time.perf_counter()
    status: int | None = None
    error: str | None = None
    wait: float | None = None
    try:
        response = await client.post(url, content=body.encode(), headers=headers)
        status = response.status_code
        if not 200 <= status < 300:
            error = f"HTTP {status} {response.reason_phrase}".strip()
            if 300 <= status < 400:
                error += ": redirects are not followed; register the final URL"
            if status in (429, 503):
                wait = retry_after(response.headers.get("retry-after"), utcnow())
    except httpx.TimeoutException:
        error = "Timed out waiting for the endpoint"
    except httpx.TransportError as problem:
        error = f"Could not connect: {type(problem).__name__}"
    except httpx.HTTPError as problem:
        error = f"The request failed: {type(problem).__name__}"
    duration = int((time.perf_counter() - started) * 1000)
    return AttemptResult(status, duration, error, wait)


class Dispatcher:
    """What sending takes: a database for the outcomes, an HTTP client, the key that
    opens endpoint secrets, and the options."""

    def __init__(self, db: Database, box: SecretBox, options: WebhookOptions) -> None:
        self.db = db
        self.box = box
        self.options = options
        self.client = make_client(options.timeout_seconds)

    async def aclose(self) -> None:
        await self.client.aclose()

    async def attempt(self, claimed: Claimed) -> Outcome:
        """Send one leased row; what happened, to be recorded (`record_attempts`)."""
        row = claimed.delivery
        assert row.id is not None
        policy = self.options.policy
        try:
            secret = self.box.open(claimed.sealed_secret)
        except SecretUnreadable as problem:
            return Outcome(
                row.id, row.attempts, AttemptResult(None, 0, str(problem)), Policy(retries=False)
            )
        headers = signed_headers(secret, row.event_id, row.body, utcnow())
        result = await post(self.client, claimed.url, row.body, headers)
        return Outcome(row.id, row.attempts, result, policy)

    async def deliver(
        self, claimed: Claimed, policy: Policy | None = None
    ) -> WebhookDeliveryStatus:
        """Send one leased row and record the outcome at once."""
        outcome = await self.attempt(claimed)
        if policy is not None and outcome.policy.retries:
            outcome = replace(outcome, policy=policy)
        (status,) = await record_attempts(self.db, [outcome])
        return status

    async def ping(self, endpoint_public_id: str) -> WebhookDelivery:
        """Send a `ping` event to one endpoint now (enabled or not), once, and return
        its delivery with the outcome."""
        event = events.integration_event(events.Ping(endpoint_public_id))
        assert event is not None
        now = utcnow()
        async with self.db.transaction() as session:
            endpoint = await get_endpoint(session, endpoint_public_id)
            assert endpoint.id is not None
            row = WebhookDelivery(
                endpoint_id=endpoint.id,
                event_id=event.id,
                event_type=event.type,
                body=event.body(),
                status=WebhookDeliveryStatus.sending,
                attempts=1,
                lease_until=now + timedelta(seconds=self.options.lease_seconds),
                next_attempt_at=now,
                queued_at=now,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            await session.flush()
            claimed = Claimed(row, endpoint.id, endpoint.url, endpoint.secret)
        await self.deliver(claimed, Policy(retries=False))
        async with self.db.read() as session:
            fresh = await session.get(WebhookDelivery, row.id)
        assert fresh is not None
        return fresh
