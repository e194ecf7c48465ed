"""The app factory: `hypercorn "smsproxy.app:create_app()"`."""

from __future__ import annotations

import logging
from pathlib import Path

from quart import Quart
from quart_auth import QuartAuth
from quart_rate_limiter import RateLimiter
from quart_schema import Info, QuartSchema

from .config import Settings, load_settings
from .runtime import Runtime
from .web import (
    SERVICES_KEY,
    api,
    auth,
    bodies,
    csrf,
    dashboard,
    docs,
    headers,
    health,
    live,
    proxies,
    webhooks,
)
from .web.errors import register_error_handlers
from .web.guards import StaffAuthUser

ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, *, background: bool = True) -> Quart:
    """Build the app. `background=False` skips the sender and sweeper loops (tests that
    drive them by hand), as does BACKGROUND_JOBS=off (a `smsproxy worker` runs them)."""
    settings = settings or load_settings()
    background = background and settings.background_jobs == "in-process"
    configure_logging(settings.log_level)
    app = Quart(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.request_class = bodies.Request
    _configure(app, settings)
    app.extensions[SERVICES_KEY] = runtime = Runtime(settings, background=background)
    _add_extensions(app, settings)
    register_error_handlers(app)
    headers.init_app(app)
    _register_blueprints(app)
    auth.add_home_redirect(app)  # after every blueprint: only if none serves "/"
    app.before_serving(runtime.start)
    app.after_serving(runtime.stop)
    proxies.trust_proxies(app, settings.trusted_proxy_hops)
    _warn_about_webhooks(settings)
    return app


def _warn_about_webhooks(settings: Settings) -> None:
    state = webhooks.unsigned_webhooks(settings)
    if state == "accepted":
        log.warning(
            "webhooks are accepted unchecked (VONAGE_WEBHOOKS_UNSIGNED=allow, no "
            "VONAGE_SIGNATURE_SECRET): anyone who finds their address can fake inbound SMS"
        )
    elif state == "refused":
        log.warning(
            "webhooks from Vonage will be refused: set VONAGE_SIGNATURE_SECRET to the "
            "account's signature secret (or VONAGE_WEBHOOKS_UNSIGNED=allow)"
        )


class _PrintedByHypercorn(logging.Filter):
    """Drops what hypercorn's own handler has printed already.

    Run from its command line (the Procfile), hypercorn gives its error logger a stderr
    handler of its own and lets it propagate to the root as well: each of its lines
    ("Running on …") would show twice. `smsproxy run` hands hypercorn the bare logger
    instead, which has no handler, so its lines reach the root once.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        own = record.name.startswith("hypercorn.") and logging.getLogger(record.name).handlers
        return not own


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if root.handlers:
        return  # configured by whoever runs the app (a test runner, a log config)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for handler in root.handlers:
        handler.addFilter(_PrintedByHypercorn())


def _configure(app: Quart, settings: Settings) -> None:
    app.config["SECRET_KEY"] = settings.secret_key or "development-only-not-secret"
    # Each path has a tighter limit of its own (web/bodies.py); this is the ceiling.
    app.config["MAX_CONTENT_LENGTH"] = bodies.DEFAULT_BODY_LIMIT
    app.config["QUART_AUTH_COOKIE_SECURE"] = bool(
        settings.public_url and settings.public_url.startswith("https://")
    )
    app.config["QUART_AUTH_COOKIE_SAMESITE"] = "Lax"


def _add_extensions(app: Quart, settings: Settings) -> None:
    QuartSchema(
        app,
        info=Info(title="smsproxy", version="1"),
        openapi_path="/openapi.json",
        swagger_ui_path=None,  # /api/docs is our own page (web/docs.py): no CDN
        redoc_ui_path=None,
        scalar_ui_path=None,
        security_schemes={"bearer": {"type": "http", "scheme": "bearer"}},
        security=[{"bearer": []}],
        openapi_provider_class=api.ApiOpenAPIProvider,  # adds every route's error answers
    )
    # Limits only routes that ask (@rate_limit); registered before the CSRF check so
    # refused login attempts still count.
    store = auth.rate_limit_store(settings)
    RateLimiter(app, key_function=auth.client_address, store=store)
    # Next, before the CSRF check or any handler reads it: a body over the path's limit
    # is a 413, and JSON that would fail later (not UTF-8, too deep, a lone surrogate)
    # a 400, now.
    app.before_request(bodies.check_body)
    QuartAuth(app, user_class=StaffAuthUser, duration=auth.SESSION_SECONDS)
    csrf.init_app(app)
    auth.init_app(app, store, settings)


def _register_blueprints(app: Quart) -> None:
    for blueprint in (
        health.blueprint,
        api.blueprint,
        docs.blueprint,
        live.blueprint,
        webhooks.blueprint,
        dashboard.blueprint,
    ):
        app.register_blueprint(blueprint)
