"""The app factory: `hypercorn "smsproxy.app:create_app()"`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from quart import Quart
from quart.wrappers import Request as QuartRequest
from quart_auth import QuartAuth
from quart_rate_limiter import RateLimiter
from quart_schema import Info, QuartSchema
from werkzeug.exceptions import BadRequest

from .config import Settings, load_settings
from .runtime import Runtime
from .web import SERVICES_KEY, api, auth, csrf, dashboard, docs, health, live, proxies, webhooks
from .web.errors import register_error_handlers
from .web.guards import StaffAuthUser

ROOT = Path(__file__).resolve().parent.parent


class Request(QuartRequest):
    def on_json_loading_failed(self, error: Exception | None) -> Any:
        if error is None:
            raise BadRequest("Send the body as JSON with 'Content-Type: application/json'")
        raise BadRequest(f"Request body is not valid JSON: {error}")


def create_app(settings: Settings | None = None, *, background: bool = True) -> Quart:
    """Build the app. `background=False` skips the sender and sweeper loops (tests that
    drive them by hand), as does BACKGROUND_JOBS=off (a `smsproxy worker` runs them)."""
    settings = settings or load_settings()
    background = background and settings.background_jobs == "in-process"
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = Quart(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    app.request_class = Request
    _configure(app, settings)
    app.extensions[SERVICES_KEY] = runtime = Runtime(settings, background=background)
    _add_extensions(app, settings)
    register_error_handlers(app)
    _register_blueprints(app)
    auth.add_home_redirect(app)  # after every blueprint: only if none serves "/"
    app.before_serving(runtime.start)
    app.after_serving(runtime.stop)
    proxies.trust_proxies(app, settings.trusted_proxy_hops)
    return app


def _configure(app: Quart, settings: Settings) -> None:
    app.config["SECRET_KEY"] = settings.secret_key or "development-only-not-secret"
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024
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
    )
    # Limits only routes that ask (@rate_limit); registered before the CSRF check so
    # refused login attempts still count.
    RateLimiter(app, key_function=auth.client_address, store=auth.rate_limit_store(settings))
    QuartAuth(app, user_class=StaffAuthUser, duration=auth.SESSION_SECONDS)
    csrf.init_app(app)
    auth.init_app(app)


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
