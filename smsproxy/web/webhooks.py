"""The carrier's webhooks: inbound SMS and delivery receipts.

Public by design: the carrier cannot log in, so the request signature (when
VONAGE_SIGNATURE_SECRET is set) is their authentication. They answer 204 only once
what they carried is committed; anything else makes Vonage retry, which the routing
code turns into a no-op when the first attempt did land.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from quart import Blueprint, Response, request

from ..carrier.webhooks import (
    MalformedWebhook,
    flatten,
    parse_inbound,
    parse_receipt,
    verify_signature,
)
from ..config import Settings
from ..proxy import multipart
from ..proxy.receipts import apply_receipt
from ..proxy.routing import routing_options
from . import runtime

blueprint = Blueprint("webhooks", __name__, url_prefix="/webhooks")

F = TypeVar("F", bound=Callable[..., Any])


def public(handler: F) -> F:
    """Mark a handler as deliberately unauthenticated (the meta-tests look for this)."""
    handler.__smsproxy_auth__ = "public"  # type: ignore[attr-defined]
    return handler


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
    rt = runtime()
    params = await webhook_params()
    check_signature(rt.settings, params)
    inbound = parse_inbound(params)
    async with rt.db.transaction() as session:
        await multipart.accept(session, inbound, routing_options(rt.settings))
    return Response(status=204)


@blueprint.route("/delivery-receipt", methods=["GET", "POST"])
@public
async def receive_delivery_receipt() -> Response:
    """The handset's network reports on an SMS part we sent."""
    rt = runtime()
    params = await webhook_params()
    check_signature(rt.settings, params)
    receipt = parse_receipt(params)
    async with rt.db.transaction() as session:
        await apply_receipt(session, receipt)
    return Response(status=204)
