"""The endpoint rules: which URLs and event types, secrets sealed at rest, signatures an
integrator's Standard Webhooks library accepts."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from smsproxy.db import utcnow
from smsproxy.errors import InvalidInput
from smsproxy.events import INTEGRATION_TYPES
from smsproxy.integrations.endpoints import check_events
from smsproxy.integrations.signing import SecretBox, SecretUnreadable, new_secret, signed_headers
from smsproxy.integrations.urls import check_url


@pytest.mark.parametrize(
    "url",
    [
        "https://booking.example.com/hooks/smsproxy",
        "https://example.com:8443/h?token=abc",
        "http://127.0.0.1:9000/hook",
        "http://127.5.6.7/hook",
        "http://localhost:8080/",
        "http://[::1]:9000/hook",
        "HTTPS://EXAMPLE.COM/",
    ],
)
def test_accepted_urls(url: str) -> None:
    assert check_url(f"  {url} ") == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "is required"),
        ("http://example.com/hook", "must use https://"),
        ("http://10.0.0.1/hook", "must use https://"),
        ("http://localhost.example.com/", "must use https://"),
        ("ftp://example.com/", "absolute https:// URL"),
        ("example.com/hook", "absolute https:// URL"),
        ("https://user:pw@example.com/", "user name or password"),
        ("https://example.com/#part", "#fragment"),
        ("https://example.com:99999/", "not a valid URL"),
        ("https://exa mple.com/", "spaces"),
        ("https://" + "a" * 2000 + ".com", "longer than 2000"),
        ("https:///path", "host"),
    ],
)
def test_refused_urls_say_why(url: str, reason: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_url(url)
    assert reason in refused.value.message and refused.value.field == "url"


def test_event_types_are_checked_deduplicated_and_ordered() -> None:
    assert check_events(["message.received", "chat.created", "chat.created"]) == [
        "chat.created",
        "message.received",
    ]
    assert check_events(["chat.closed", "*"]) == ["*"]
    with pytest.raises(InvalidInput, match=r"'chat\.opened' is not an event type"):
        check_events(["chat.opened"])
    with pytest.raises(InvalidInput, match="at least one"):
        check_events([])
    with pytest.raises(InvalidInput, match="'ping' is not an event type"):
        check_events(["ping"])  # sent on request, never subscribed to
    assert "ping" not in INTEGRATION_TYPES


def test_the_signature_verifies_with_the_standardwebhooks_library() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    body = json.dumps({"type": "chat.created", "data": {"text": "Grüße"}}, ensure_ascii=False)
    headers = signed_headers(secret, "evt_1", body, utcnow())
    assert Webhook(secret).verify(body, headers)["data"]["text"] == "Grüße"
    assert headers["webhook-id"] == "evt_1" and headers["content-type"] == "application/json"

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body.replace("Grüße", "Hello"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)
    stale = signed_headers(secret, "evt_1", body, utcnow() - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError, match="too old"):
        Webhook(secret).verify(body, stale)


def test_secrets_are_sealed_with_a_key_from_secret_key() -> None:
    box = SecretBox("a long secret key for the tests")
    secret = new_secret()
    sealed = box.seal(secret)
    assert secret not in sealed and secret.removeprefix("whsec_") not in sealed
    assert box.open(sealed) == secret
    assert SecretBox("a long secret key for the tests").open(sealed) == secret
    with pytest.raises(SecretUnreadable, match="SECRET_KEY"):
        SecretBox("another key").open(sealed)
    with pytest.raises(SecretUnreadable):
        box.open("")
