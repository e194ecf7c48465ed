"""HTTP and WebSocket blueprints.

Handlers reach what lives as long as the server through `services()`: the object the
composition root put on the app (the Runtime), seen here only as the narrow `Services`
protocol, so nothing in web/ imports the root.
"""

from __future__ import annotations

from typing import Protocol

from quart import current_app

from ..config import Settings
from ..db import Database
from ..events import Broker
from ..integrations.dispatch import Dispatcher
from ..proxy.chats import Templates
from ..proxy.inbound import Ingress
from ..proxy.routing import RoutingOptions

SERVICES_KEY = "smsproxy"


class Services(Protocol):
    settings: Settings
    db: Database
    broker: Broker
    routing: RoutingOptions
    ingress: Ingress
    templates: Templates
    webhooks: Dispatcher


def services() -> Services:
    value: Services = current_app.extensions[SERVICES_KEY]
    return value


def settings() -> Settings:
    """The settings: the one way handlers and templates read them."""
    return services().settings
