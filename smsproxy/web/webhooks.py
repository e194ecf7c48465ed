"""The carrier's webhooks: inbound SMS and delivery receipts, in both of Vonage's
formats at once.

    SMS API       /webhooks/inbound-sms, /webhooks/delivery-receipt (the account's URLs)
    Messages API  /webhooks/inbound, /webhooks/status (the application's URLs)

Both pairs stay open whatever VONAGE_API says: while an account switches its "Messaging
API type", webhooks arrive in either format and all go through the same front door,
which records an SMS once even when it comes in both.

Public by design: the carrier cannot log in, so the request signature is their
authentication (for the Messages API, the signed token in the Authorization header).
With the vonage carrier and no VONAGE_SIGNATURE_SECRET they are refused (401, naming the
setting) unless VONAGE_WEBHOOKS_UNSIGNED=allow: an unchecked webhook lets anyone make
the product send SMS at the operator's cost. The sandbox carrier sends nothing out of
the machine (its "SMS" land on simulated phones), so there its webhooks are taken
unsigned, for trying integrations with curl; a secret that is set is enforced with any
carrier.

They answer 204 only once what they carried is committed (webhooks arriving together
share a commit: see `proxy.inbound.Ingress`); anything else makes Vonage retry, which
the routing code turns into a no-op when the first attempt did land. One address may
send CARRIER_WEBHOOK_RATE_PER_SECOND of them (averaged over ten seconds); beyond that
429 with Retry-After, which Vonage retries later, so a flood from one address cannot
starve the others.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from quart import Blueprint, Response, has_app_context, request
from quart_rate_limiter import RateLimit, limit_blueprint
from quart_schema import document_request

from ..carrier.messages_webhooks import (
    load_body,
    parse_inbound_message,
    parse_message_status,
    verify_token,
)
from ..carrier.webhooks import (
    MalformedWebhook,
    SignatureRejected,
    flatten,
    parse_inbound,
    parse_receipt,
    verify_signature,
)
from ..config import Settings
from . import services, settings
from .guards import public

blueprint = Blueprint("webhooks", __name__, url_prefix="/webhooks")

RATE_WINDOW = timedelta(seconds=10)
UNSIGNED_REFUSAL = (
    "Webhooks cannot be checked without VONAGE_SIGNATURE_SECRET: set it to the account's "
    "signature secret (Vonage dashboard, API settings), or set VONAGE_WEBHOOKS_UNSIGNED=allow "
    "to accept them unchecked"
)


async def sender_address() -> str:
    return f"webhook:{request.remote_addr or '-'}"


class WebhookLimit(RateLimit):
    """Per sending address; the count follows CARRIER_WEBHOOK_RATE_PER_SECOND."""

    def __init__(self) -> None:
        super().__init__(1, RATE_WINDOW, key_function=sender_address)

    @property
    def count(self) -> int:
        if not has_app_context():
            return self._count
        per_window = settings().carrier_webhook_rate_per_second * RATE_WINDOW.total_seconds()
        return max(1, round(per_window))

    @count.setter
    def count(self, value: int) -> None:
        self._count = value


WEBHOOK_LIMITS: list[RateLimit] = [WebhookLimit()]
limit_blueprint(blueprint, limits=WEBHOOK_LIMITS)


class SignedFields(BaseModel):
    model_config = ConfigDict(extra="allow")

    timestamp: str | None = Field(None, description="Unix time of signing (signed webhooks)")
    nonce: str | None = Field(None, description="Random text of the signature (signed webhooks)")
    sig: str | None = Field(None, description="The signature (with VONAGE_SIGNATURE_SECRET)")


class InboundSmsFields(SignedFields):
    """Vonage's inbound-SMS webhook (SMS API). The same fields come as JSON, a form or
    a query string, as the account is set up."""

    msisdn: str = Field(description="The sender's number, international without +")
    to: str = Field(description="The proxy number it was sent to")
    messageId: str = Field(max_length=64, description="Vonage's id of the SMS (part)")
    text: str = Field("", description="The text")
    type: str | None = Field(None, description="text, unicode or binary")
    message_timestamp: str | None = Field(None, alias="message-timestamp")
    concat: str | None = Field(None, description="true for a part of a multipart SMS")
    concat_ref: str | None = Field(None, alias="concat-ref")
    concat_total: str | None = Field(None, alias="concat-total")
    concat_part: str | None = Field(None, alias="concat-part")


class ReceiptFields(SignedFields):
    """Vonage's delivery receipt (SMS API), as JSON, a form or a query string."""

    messageId: str = Field(max_length=64, description="Vonage's id of the SMS part we sent")
    status: str = Field(description="delivered, expired, failed, rejected, accepted, ...")
    msisdn: str | None = Field(None, description="The handset's number")
    to: str | None = Field(None, description="The number it was sent from")
    err_code: str | None = Field(None, alias="err-code")
    client_ref: str | None = Field(None, alias="client-ref")


def unsigned_webhooks(settings: Settings) -> str | None:
    """How unsigned webhooks are treated when that needs saying: "refused" or
    "accepted" with the vonage carrier and no secret, else None."""
    if settings.carrier != "vonage" or settings.vonage_signature_secret:
        return None
    return "accepted" if settings.vonage_webhooks_unsigned == "allow" else "refused"


async def webhook_params() -> dict[str, str]:
    """The webhook's fields, however Vonage was told to send them."""
    if request.method == "GET":
        return flatten(request.args)
    if request.is_json:
        body = await request.get_json()
        if not isinstance(body, dict):
            raise MalformedWebhook("The JSON body must be an object of webhook fields")
        return flatten(body)
    form = await request.form
    return flatten(form if form else request.args)


def refuse_unsigned(settings: Settings) -> None:
    if unsigned_webhooks(settings) == "refused":
        raise SignatureRejected(UNSIGNED_REFUSAL)


def check_signature(settings: Settings, params: dict[str, str]) -> None:
    if not settings.vonage_signature_secret:
        return
    verify_signature(
        params,
        secret=settings.vonage_signature_secret,
        method=settings.vonage_signature_method,
        max_skew_seconds=settings.signature_max_skew_seconds,
        api_key=settings.vonage_api_key,
    )


async def signed_payload(settings: Settings) -> dict[str, Any]:
    """A Messages API webhook's JSON body, once its signed token vouches for it."""
    body = await request.get_data(cache=True, as_text=False, parse_form_data=False)
    verify_token(
        request.headers.get("Authorization"),
        body,
        secret=settings.vonage_signature_secret,
        allow_unsigned=unsigned_webhooks(settings) != "refused",
        max_skew_seconds=settings.signature_max_skew_seconds,
    )
    return load_body(body)


@blueprint.route("/inbound-sms", methods=["GET", "POST"])
@public
@document_request(InboundSmsFields)
async def receive_inbound_sms() -> Response:
    """An SMS sent to one of the pool's numbers."""
    svc = services()
    refuse_unsigned(svc.settings)
    params = await webhook_params()
    check_signature(svc.settings, params)
    await svc.ingress.receive_sms(parse_inbound(params))
    return Response(status=204)


@blueprint.route("/delivery-receipt", methods=["GET", "POST"])
@public
@document_request(ReceiptFields)
async def receive_delivery_receipt() -> Response:
    """The handset's network reports on an SMS part we sent."""
    svc = services()
    refuse_unsigned(svc.settings)
    params = await webhook_params()
    check_signature(svc.settings, params)
    await svc.ingress.receive_receipt(parse_receipt(params))
    return Response(status=204)


@blueprint.post("/inbound")
@public
async def receive_inbound_message() -> Response:
    """A message sent to one of the pool's numbers, as the Messages API reports it."""
    svc = services()
    payload = await signed_payload(svc.settings)
    inbound = parse_inbound_message(payload)
    await svc.ingress.receive_sms(inbound)
    return Response(status=204)


@blueprint.post("/status")
@public
async def receive_message_status() -> Response:
    """The Messages API reports on a message we sent."""
    svc = services()
    payload = await signed_payload(svc.settings)
    receipt = parse_message_status(payload)
    await svc.ingress.receive_receipt(receipt)
    return Response(status=204)
