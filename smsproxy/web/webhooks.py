"""The carrier's webhooks: inbound SMS and delivery receipts.

Public by design: the carrier cannot log in, so the request signature (when
VONAGE_SIGNATURE_SECRET is set) is their authentication. They answer 204 only once
what they carried is committed (webhooks arriving together share a commit: see
`proxy.inbound.Ingress`); anything else makes Vonage retry, which the routing code
turns into a no-op when the first attempt did land.
"""

from __future__ import annotations

from quart import Blueprint, Response, request

from ..carrier.webhooks import (
    MalformedWebhook,
    flatten,
    parse_inbound,
    parse_receipt,
    verify_signature,
)
from ..config import Settings
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


@blueprint.route("/inbound-sms", methods=["GET", "POST"])
@public
async def receive_inbound_sms() -> Response:
    """An SMS sent to one of the pool's numbers."""
    svc = services()
    params = await webhook_params()
    check_signature(svc.settings, params)
    await svc.ingress.receive_sms(parse_inbound(params))
    return Response(status=204)


@blueprint.route("/delivery-receipt", methods=["GET", "POST"])
@public
async def receive_delivery_receipt() -> Response:
    """The handset's network reports on an SMS part we sent."""
    svc = services()
    params = await webhook_params()
    check_signature(svc.settings, params)
    await svc.ingress.receive_receipt(parse_receipt(params))
    return Response(status=204)
