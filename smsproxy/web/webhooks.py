"""The carrier's webhooks: inbound SMS and delivery receipts, in both of Vonage's
formats at once.

    SMS API       /webhooks/inbound-sms, /webhooks/delivery-receipt (the account's URLs)
    Messages API  /webhooks/inbound, /webhooks/status (the application's URLs)

Both pairs stay open whatever VONAGE_API says: while an account switches its "Messaging
API type", webhooks arrive in either format and all go through the same front door,
which records an SMS once even when it comes in both.

Public by design: the carrier cannot log in, so the request signature (when
VONAGE_SIGNATURE_SECRET is set; always, for the Messages API, unless unsigned webhooks
are allowed) is their authentication. They answer 204 only once what they carried is
committed; anything else makes Vonage retry, which the routing code turns into a no-op
when the first attempt did land.
"""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response, request

from ..carrier.messages_webhooks import (
    load_body,
    parse_inbound_message,
    parse_message_status,
    verify_token,
)
from ..carrier.webhooks import (
    MalformedWebhook,
    flatten,
    parse_inbound,
    parse_receipt,
    verify_signature,
)
from ..config import Settings
from ..proxy.inbound import receive_receipt, receive_sms
from . import services
from .guards import public

blueprint = Blueprint("webhooks", __name__, url_prefix="/webhooks")


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
        allow_unsigned=settings.vonage_webhooks_unsigned == "allow",
        max_skew_seconds=settings.signature_max_skew_seconds,
    )
    return load_body(body)


@blueprint.route("/inbound-sms", methods=["GET", "POST"])
@public
async def receive_inbound_sms() -> Response:
    """An SMS sent to one of the pool's numbers."""
    svc = services()
    params = await webhook_params()
    check_signature(svc.settings, params)
    inbound = parse_inbound(params)
    async with svc.db.transaction() as session:
        await receive_sms(session, inbound, svc.routing)
    return Response(status=204)


@blueprint.route("/delivery-receipt", methods=["GET", "POST"])
@public
async def receive_delivery_receipt() -> Response:
    """The handset's network reports on an SMS part we sent."""
    svc = services()
    params = await webhook_params()
    check_signature(svc.settings, params)
    receipt = parse_receipt(params)
    async with svc.db.transaction() as session:
        await receive_receipt(session, receipt)
    return Response(status=204)


@blueprint.post("/inbound")
@public
async def receive_inbound_message() -> Response:
    """A message sent to one of the pool's numbers, as the Messages API reports it."""
    svc = services()
    payload = await signed_payload(svc.settings)
    inbound = parse_inbound_message(payload)
    async with svc.db.transaction() as session:
        await receive_sms(session, inbound, svc.routing)
    return Response(status=204)


@blueprint.post("/status")
@public
async def receive_message_status() -> Response:
    """The Messages API reports on a message we sent."""
    svc = services()
    payload = await signed_payload(svc.settings)
    receipt = parse_message_status(payload)
    async with svc.db.transaction() as session:
        await receive_receipt(session, receipt)
    return Response(status=204)
