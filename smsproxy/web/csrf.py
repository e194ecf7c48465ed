"""Cross-site request forgery protection for the cookie-authenticated pages.

Every unsafe request (POST, PUT, PATCH, DELETE) to an HTML route must carry the token
kept in this browser's signed session (form field `csrf_token`, or header
`X-CSRF-Token` for fetch) and, when the browser says where it came from (Origin, or
Referer without Origin), come from this site. The API (bearer keys, no cookies), the
carrier's webhooks and the health checks are exempt: there is no ambient credential for
another site to ride on.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import urlsplit

from markupsafe import Markup
from quart import Quart, request, session
from werkzeug.exceptions import Forbidden

from . import settings

SESSION_KEY = "csrf_token"
FIELD_NAME = "csrf_token"
HEADER_NAME = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
EXEMPT_PREFIXES = ("/api/", "/webhooks/", "/healthz")
FAILURE_MESSAGE = "This form has expired or came from another site. Reload the page and try again."


class CsrfError(Forbidden):
    description = FAILURE_MESSAGE


def csrf_token() -> str:
    """This session's token, created on first use."""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[SESSION_KEY] = token
    return token


def csrf_field() -> Markup:
    """The hidden form field that carries the token: `{{ csrf_field() }}`."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(FIELD_NAME, csrf_token())


def rotate_token() -> str:
    """A fresh token at login, so a token planted before login is worthless after it."""
    session.pop(SESSION_KEY, None)
    return csrf_token()


def is_exempt(path: str) -> bool:
    return path.startswith(EXEMPT_PREFIXES)


def allowed_hosts(host: str) -> set[str]:
    """This site's host[:port] as the browser sees it: the Host header, or PUBLIC_URL's
    when a proxy in front rewrites Host."""
    hosts = {host.lower()}
    public_url = settings().public_url
    if public_url:
        hosts.add(urlsplit(public_url).netloc.lower())
    return hosts


def same_site_source(origin: str | None, referer: str | None, hosts: set[str]) -> bool:
    """Whether the browser's own account of where a request came from names this site.

    Browsers send Origin on every cross-site POST (and Referer, unless a policy strips
    it), so a request that carries neither did not come from another site's page.
    """
    source = origin if origin is not None else referer
    if source is None:
        return True
    if source == "null":
        return False
    parts = urlsplit(source)
    return parts.scheme in {"http", "https"} and parts.netloc.lower() in hosts


async def _submitted_token() -> str | None:
    header = request.headers.get(HEADER_NAME)
    if header:
        return header
    if request.mimetype in {"application/x-www-form-urlencoded", "multipart/form-data"}:
        value = (await request.form).get(FIELD_NAME)
        return value or None
    return None


async def check_csrf() -> None:
    if request.method not in UNSAFE_METHODS or is_exempt(request.path):
        return
    if not same_site_source(
        request.headers.get("Origin"), request.headers.get("Referer"), allowed_hosts(request.host)
    ):
        raise CsrfError()
    expected = session.get(SESSION_KEY)
    submitted = await _submitted_token()
    if not (
        isinstance(expected, str)
        and expected
        and submitted
        and hmac.compare_digest(expected.encode(), submitted.encode())
    ):
        raise CsrfError()


def init_app(app: Quart) -> None:
    # Quart's session cookie carries the token: same protections as the login cookie.
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("QUART_AUTH_COOKIE_SAMESITE", "Lax")
    app.config["SESSION_COOKIE_SECURE"] = app.config.get("QUART_AUTH_COOKIE_SECURE", False)
    app.before_request(check_csrf)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["csrf_field"] = csrf_field
