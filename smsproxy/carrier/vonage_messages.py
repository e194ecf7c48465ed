"""The Vonage carrier over the Messages API: the official SDK's Messages client, called
from worker threads, each request signed with a JWT from the application's key pair.

Sends as `vonage.py` does (same client pool, timeout, no SDK retries). The Messages API
answers one `message_uuid` per message, however many SMS parts it takes, and reports
failures as HTTP statuses with an RFC 7807 body (title, detail, invalid_parameters)
rather than per-message status codes. Every failure comes out as a Transient- or
PermanentCarrierError whose message a person can act on.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import ValidationError
from requests import Response
from vonage import Auth
from vonage_http_client.errors import HttpRequestError, JWTGenerationError
from vonage_jwt import VonageJwtError
from vonage_messages import Sms, SmsOptions
from vonage_messages.models.enums import EncodingType

from ..config import Settings
from ..phone import to_carrier
from . import CarrierError, OutboundSms, PermanentCarrierError, SendResult, TransientCarrierError
from .gsm7 import is_gsm7
from .vonage_clients import (
    ClientPool,
    said_by_vonage,
    transport_error,
    unsendable,
    whole_seconds,
)

log = logging.getLogger(__name__)


class VonageMessagesCarrier:
    name = "vonage-messages"

    def __init__(self, settings: Settings) -> None:
        assert settings.vonage_application_id and settings.vonage_private_key
        auth = ApplicationAuth(settings.vonage_application_id, settings.vonage_private_key)
        self._clients = ClientPool(
            auth,
            api_host=settings.vonage_api_host,
            timeout=whole_seconds(settings.vonage_timeout_seconds),
            concurrency=settings.send_concurrency,
        )

    async def send(self, sms: OutboundSms) -> SendResult:
        message = build_message(sms)
        clients = self._clients
        try:
            response = await clients.call(
                lambda client: client.messages.send(message), patient=sms.patient
            )
        except Exception as error:
            timeout = clients.timeout_for(sms.patient)
            failure = classify(error, timeout=timeout, host=clients.host)
            log.info(
                "vonage messages send for delivery %s failed: %s (code %s)",
                sms.delivery_id,
                "ambiguous"
                if failure.ambiguous
                else ("transient" if failure.transient else "permanent"),
                failure.code,
            )
            raise failure from error
        log.debug(
            "vonage accepted delivery %s as message %s", sms.delivery_id, response.message_uuid
        )
        return SendResult(message_ids=[response.message_uuid], whole_message=True)

    async def aclose(self) -> None:
        await self._clients.aclose()


class ApplicationAuth(Auth):  # type: ignore[misc]  # the SDK ships no type stubs
    """The SDK's JWT authentication, with the private key loaded once.

    The SDK hands the PEM text to PyJWT for every request, which loads and checks the
    RSA key each time: some 50 ms of CPU per SMS, where signing with the loaded key takes
    under one. The token is the SDK's: application_id, iat, a fresh jti, exp 15 minutes on.
    """

    JWT_LIFETIME_SECONDS = 15 * 60

    def __init__(self, application_id: str, private_key_pem: str) -> None:
        super().__init__(application_id=application_id, private_key=private_key_pem)
        key = load_pem_private_key(private_key_pem.encode(), password=None)
        assert isinstance(key, RSAPrivateKey)  # settings refuse any other key
        self._key = key

    def generate_application_jwt(self, claims: dict[str, Any] | None = None) -> bytes:
        issued = int(time.time())
        payload = {
            "iat": issued,
            "jti": str(uuid.uuid4()),
            "exp": issued + self.JWT_LIFETIME_SECONDS,
            **(claims or {}),
            "application_id": self.application_id,
        }
        return jwt.encode(payload, self._key, algorithm="RS256").encode()


def build_message(sms: OutboundSms) -> Sms:
    # The Messages API would guess the encoding; ours is the same GSM-7 judgement the SMS
    # API path makes, so a text costs the same number of parts on either API.
    encoding = EncodingType.TEXT if is_gsm7(sms.text) else EncodingType.UNICODE
    try:
        return Sms(
            to=to_carrier(sms.to_number),
            from_=to_carrier(sms.from_number),
            text=sms.text,
            client_ref=sms.delivery_id,
            sms=SmsOptions(encoding_type=encoding),
        )
    except ValidationError as error:
        raise unsendable(error) from None


def classify(error: BaseException, *, timeout: int, host: str) -> CarrierError:
    """Turn whatever the SDK (or `requests` under it) raised into a carrier error."""
    if isinstance(error, HttpRequestError):
        return _http_error(error.response, host)
    if transport := transport_error(error, timeout=timeout, host=host):
        return transport
    if isinstance(error, VonageJwtError | JWTGenerationError):
        return PermanentCarrierError(
            "Could not sign the request to Vonage with the application's private key: "
            "check VONAGE_PRIVATE_KEY",
            "jwt",
        )
    if isinstance(error, KeyError | TypeError | ValueError):
        # A 2xx whose body is not {"message_uuid": ...}.
        return TransientCarrierError("Vonage sent an answer that could not be read", "bad-answer")
    if isinstance(error, CarrierError):
        return error
    return TransientCarrierError(f"Unexpected error talking to Vonage ({type(error).__name__})")


def _http_error(response: Response, host: str) -> CarrierError:
    status = response.status_code
    code = str(status)
    said = problem(response)
    http = f"HTTP {status}" + (f": {said}" if said else "")
    if status == 429:
        return TransientCarrierError(
            f"Vonage throttled the request ({http}): more messages per second than the "
            "account allows",
            code,
        )
    if status >= 500 or status == 408:
        return TransientCarrierError(f"Vonage had a server error ({http})", code)
    if status == 401:
        return PermanentCarrierError(
            f"Vonage refused the request's credentials ({http}): check VONAGE_APPLICATION_ID "
            "and VONAGE_PRIVATE_KEY against the application in the Vonage dashboard",
            code,
        )
    if status == 402:
        return PermanentCarrierError(
            f"The Vonage account is out of credit ({http}): top up its balance", code
        )
    if status == 403:
        return PermanentCarrierError(
            f"Vonage does not allow this request ({http}): check that the account and the "
            "application may send SMS through the Messages API",
            code,
        )
    if status == 404:
        return PermanentCarrierError(
            f"Vonage has no Messages API at {host} ({http}): check VONAGE_API_HOST", code
        )
    if status == 422:
        return PermanentCarrierError(f"Vonage refused the message as invalid ({http})", code)
    return PermanentCarrierError(f"Vonage refused the request ({http})", code)


def problem(response: Response) -> str:
    """Vonage's own account of a failure (RFC 7807 title, detail, invalid parameters),
    with numbers masked; empty when the body says nothing readable."""
    try:
        body: Any = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    said = ": ".join(str(body[key]).strip() for key in ("title", "detail") if body.get(key))
    invalid = body.get("invalid_parameters")
    if isinstance(invalid, list):
        fields = [
            f"{item.get('name', '?')}: {item.get('reason', 'invalid')}"
            for item in invalid
            if isinstance(item, dict)
        ]
        said = "; ".join([said, *fields] if said else fields)
    return said_by_vonage(said)
