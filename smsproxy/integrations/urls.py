"""Which URLs an endpoint may have: https, or plain http to this machine only.

Events carry message texts and masked numbers, so they travel encrypted; a loopback
host never leaves the machine, which is what local development and tests need.
"""

from __future__ import annotations

import ipaddress
import unicodedata
from urllib.parse import urlsplit

from ..errors import InvalidInput

MAX_URL_LENGTH = 2000
LOOPBACK_NAMES = frozenset({"localhost"})


def is_loopback(host: str) -> bool:
    host = host.lower().rstrip(".")
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(raw: str) -> str:
    """The URL as given (trimmed), or InvalidInput saying what is wrong with it."""
    url = raw.strip()

    def refuse(reason: str) -> InvalidInput:
        return InvalidInput(f"url {reason}", field="url")

    if not url:
        raise refuse("is required")
    if len(url) > MAX_URL_LENGTH:
        raise refuse(f"is longer than {MAX_URL_LENGTH} characters")
    if any(ch.isspace() or unicodedata.category(ch) == "Cc" for ch in url):
        raise refuse("must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise refuse("is not a valid URL") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http"):
        raise refuse("must be an absolute https:// URL")
    host = parts.hostname or ""
    if not parts.netloc or not host:
        raise refuse("has no host name")
    if parts.username is not None or parts.password is not None:
        raise refuse(
            "must not carry a user name or password: endpoints prove what they receive "
            "with the signature instead"
        )
    if parts.fragment:
        raise refuse("must not have a #fragment")
    if port == 0:
        raise refuse("has port 0")
    if scheme == "http" and not is_loopback(host):
        raise refuse(
            "must use https://; plain http:// is allowed only for this machine "
            "(localhost, 127.0.0.0/8, ::1)"
        )
    return url
