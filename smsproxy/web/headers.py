"""Security headers on every response.

The Content-Security-Policy lets a page run and style only what this server serves as
files: no inline script, no style attributes, no event-handler attributes, nothing
from elsewhere. So markup injected into a page (a participant's text rendered by
mistake) can neither run nor restyle the page into a phishing form. Pages pass data to
their scripts in data-* attributes.
"""

from __future__ import annotations

import re

from quart import Quart, Response, request

from . import settings

PAGE_POLICY = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "object-src 'none'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
)
STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HSTS = "max-age=31536000"
HOST = re.compile(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?")


def content_security_policy(host: str) -> str:
    # 'self' covers ws: and wss: of this host in current browsers, but not in all of
    # them: the live socket's address is named outright (when the Host header is a
    # plain host[:port], so that no header can write its own directives here).
    sockets = f" ws://{host} wss://{host}" if HOST.fullmatch(host) else ""
    return "; ".join((*PAGE_POLICY, f"connect-src 'self'{sockets}"))


async def add_security_headers(response: Response) -> Response:
    for name, value in STATIC_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Content-Security-Policy", content_security_policy(request.host))
    public_url = settings().public_url
    if public_url and public_url.startswith("https://"):
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Quart) -> None:
    app.after_request(add_security_headers)
