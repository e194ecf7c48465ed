"""What the two Vonage carriers share: SDK clients in worker threads, and the failures
that read the same whichever Vonage API was called.

The SDK is synchronous (`requests`), so each call runs in a thread, at most
`concurrency` at a time, with a client of its own.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Callable
from typing import TypeVar

import requests
from pydantic import ValidationError
from urllib3.exceptions import MaxRetryError
from vonage import Auth, HttpClientOptions, Vonage

from ..config import PATIENT_SEND_FACTOR
from ..phone import mask
from . import AmbiguousCarrierError, CarrierError, PermanentCarrierError, TransientCarrierError

T = TypeVar("T")
MAX_SAID_LENGTH = 300
_NUMBER = re.compile(r"\+?\d{7,15}")


class _DebugOnly(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno <= logging.DEBUG


# The SDK logs each HTTP error's body at WARNING, and Vonage's words may quote the
# recipient's number. The carriers report every failure themselves, numbers masked, so
# the SDK's own lines stay at DEBUG, where numbers may be logged.
logging.getLogger("vonage").addFilter(_DebugOnly())


def whole_seconds(seconds: float) -> int:
    # The SDK only takes whole seconds; never round a short timeout down to "none".
    return max(1, math.ceil(seconds))


# An SMS whose earlier send got no answer is sent again with this many times the
# timeout: the carrier was slow, and a second timeout would likely mean a second copy.
# SEND_LEASE_SECONDS is checked against it (config.py).
PATIENT_FACTOR = PATIENT_SEND_FACTOR


class ClientPool:
    """SDK clients for one set of credentials, handed to one call at a time."""

    def __init__(
        self,
        auth: Auth,
        *,
        timeout: int,
        concurrency: int,
        rest_host: str | None = None,
        api_host: str | None = None,
    ) -> None:
        assert rest_host or api_host
        self._hosts = {
            name: host
            for name, host in {"rest_host": rest_host, "api_host": api_host}.items()
            if host
        }
        self.host = api_host or rest_host or ""
        self.timeout = timeout
        self.patient_timeout = timeout * PATIENT_FACTOR
        self._auth = auth
        self._gate = asyncio.Semaphore(concurrency)
        # Idle clients by timeout (the SDK fixes a client's timeout when it is made).
        self._idle: dict[int, list[Vonage]] = {}

    def timeout_for(self, patient: bool) -> int:
        return self.patient_timeout if patient else self.timeout

    async def call(self, operation: Callable[[Vonage], T], *, patient: bool = False) -> T:
        """Run `operation(client)` in a worker thread with a client no other call uses.

        One client (and one connection, kept alive for the next call) per concurrent
        call. With a pool of one the SDK does not silently re-post a request whose
        connection dropped before the answer (which could send the SMS twice); its
        state (headers, session) is not shared by threads. `patient` calls wait
        PATIENT_FACTOR times longer for the answer.
        """
        timeout = self.timeout_for(patient)
        async with self._gate:
            idle = self._idle.setdefault(timeout, [])
            client: Vonage | None = idle.pop() if idle else self._new_client(timeout)
            try:
                return await asyncio.to_thread(operation, client)
            except asyncio.CancelledError:
                # The thread runs on with the client: it must not serve another call.
                client = None
                raise
            finally:
                if client is not None:
                    idle.append(client)

    def _new_client(self, timeout: int) -> Vonage:
        options = HttpClientOptions(
            **self._hosts,
            timeout=timeout,
            # Retries are the sender's job: it backs off and keeps the row's history.
            max_retries=0,
            pool_connections=1,
            pool_maxsize=1,
        )
        return Vonage(self._auth, options)

    @property
    def idle(self) -> int:
        return sum(len(clients) for clients in self._idle.values())

    async def aclose(self) -> None:
        # The SDK has no close(); its requests session holds the pooled connection.
        for clients in self._idle.values():
            for client in clients:
                session = getattr(client.http_client, "_session", None)
                if session is not None:
                    session.close()
        self._idle.clear()


def transport_error(error: BaseException, *, timeout: int, host: str) -> CarrierError | None:
    """The carrier error for a failure below HTTP (timeout, network, TLS), else None.

    A failure before the request went out (no connection, TLS refused, connect timeout)
    is a plain transient error: nothing was sent. One after it went out (no answer in
    time, the connection dropped while waiting) is ambiguous: the SMS may have gone.
    """
    if isinstance(error, requests.ConnectTimeout):
        return TransientCarrierError(f"Could not connect to Vonage within {timeout} s", "network")
    if isinstance(error, requests.Timeout):
        return AmbiguousCarrierError(
            f"Vonage did not answer within {timeout} s (it may have sent the SMS)", "timeout"
        )
    if isinstance(error, requests.ConnectionError) and not _before_sending(error):
        return AmbiguousCarrierError(
            f"The connection to Vonage at {host} dropped before its answer "
            "(it may have sent the SMS)",
            "network",
        )
    if isinstance(error, requests.RequestException | OSError):
        return TransientCarrierError(
            f"Could not reach Vonage at {host} ({type(error).__name__})", "network"
        )
    return None


def _before_sending(error: requests.ConnectionError) -> bool:
    """requests wraps failures to connect (refused, DNS, TLS) in urllib3's
    MaxRetryError; a connection that broke during the exchange comes unwrapped."""
    reason = error.args[0] if error.args else None
    return isinstance(error, requests.exceptions.SSLError) or isinstance(reason, MaxRetryError)


def unsendable(error: ValidationError) -> PermanentCarrierError:
    """The SDK's model refused the message before any request: say which field and why."""
    problems = "; ".join(
        f"{'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors()
    )
    return PermanentCarrierError(f"The SMS cannot be sent to Vonage: {problems}")


def said_by_vonage(text: str) -> str:
    """Vonage's own words about a failure, fit for a Delivery's error that staff read:
    numbers in them masked, and not too long."""
    text = _NUMBER.sub(lambda match: mask(match.group()), text.strip())
    return text if len(text) <= MAX_SAID_LENGTH else text[: MAX_SAID_LENGTH - 3] + "..."
