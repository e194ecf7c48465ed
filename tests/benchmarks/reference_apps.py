"""The two apps smsproxy is measured against, served by hypercorn as smsproxy is.

- `bare_app()`: answers 204 to the webhook and does nothing else: the ceiling of
  Quart + hypercorn (and of the load generator) on this machine.
- `naive_app()`: on each inbound SMS, calls the vonage SDK inline (in a thread) to send
  the text on to the other party, then answers. No database: an SMS in flight when it
  crashes is lost, and a retried webhook is sent twice. The least a proxy can do.

The naive forwarder reads its routes from NAIVE_ROUTES, "sender:proxy>recipient:proxy"
pairs separated by commas (numbers as Vonage writes them, without "+"), and the usual
VONAGE_API_KEY, VONAGE_API_SECRET, VONAGE_REST_HOST (and REQUESTS_CA_BUNDLE).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from quart import Quart, request


def _with_health(app: Quart) -> Quart:
    @app.get("/healthz")
    async def get_health() -> Any:
        return "ok"

    return app


def bare_app() -> Quart:
    app = _with_health(Quart(__name__))

    @app.route("/webhooks/inbound-sms", methods=["GET", "POST"])
    async def receive_inbound_sms() -> Any:
        return "", 204

    return app


def parse_routes(raw: str) -> dict[tuple[str, str], tuple[str, str]]:
    routes = {}
    for item in filter(None, raw.split(",")):
        source, _, target = item.partition(">")
        sender, _, via = source.partition(":")
        recipient, _, sent_from = target.partition(":")
        routes[(sender, via)] = (recipient, sent_from)
    return routes


def naive_app() -> Quart:
    from vonage import Auth, HttpClientOptions, Vonage
    from vonage_sms import SmsMessage

    routes = parse_routes(os.environ["NAIVE_ROUTES"])
    client = Vonage(
        Auth(api_key=os.environ["VONAGE_API_KEY"], api_secret=os.environ["VONAGE_API_SECRET"]),
        HttpClientOptions(rest_host=os.environ["VONAGE_REST_HOST"], timeout=10),
    )
    app = _with_health(Quart(__name__))

    @app.route("/webhooks/inbound-sms", methods=["GET", "POST"])
    async def receive_inbound_sms() -> Any:
        params = request.args if request.method == "GET" else await request.form
        route = routes.get((params.get("msisdn", ""), params.get("to", "")))
        if route is not None:
            message = SmsMessage(to=route[0], from_=route[1], text=params.get("text", ""))
            await asyncio.to_thread(client.sms.send, message)
        return "", 204

    return app
