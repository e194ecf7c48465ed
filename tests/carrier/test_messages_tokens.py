"""Messages API webhooks: the signed token in Authorization, checked against the body."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import jwt
import pytest
from vonage_jwt import VonageVerifyJwtError, verify_signature

from smsproxy.carrier.messages_webhooks import verify_token
from smsproxy.carrier.webhooks import SignatureRejected
from tests.fakes.messages_api import inbound_message, signed_webhook

SECRET = "a-signature-secret-from-the-dashboard-0123456789"
SKEW = 300


def check(
    body: bytes,
    authorization: str | None,
    *,
    secret: str | None = SECRET,
    allow_unsigned: bool = False,
    now: float | None = None,
) -> dict[str, Any] | None:
    return verify_token(
        authorization,
        body,
        secret=secret,
        allow_unsigned=allow_unsigned,
        max_skew_seconds=SKEW,
        now=now,
    )


def refused(body: bytes, authorization: str | None, **options: Any) -> str:
    with pytest.raises(SignatureRejected) as caught:
        check(body, authorization, **options)
    assert caught.value.status == 401
    return caught.value.message


def test_a_webhook_signed_as_vonage_signs_it_is_accepted() -> None:
    body, headers = signed_webhook(inbound_message(), SECRET)

    claims = check(body, headers["Authorization"])

    assert claims is not None
    assert claims["payload_hash"] == hashlib.sha256(body).hexdigest()
    assert claims["iss"] == "Vonage"


@pytest.mark.parametrize("authorization", [None, "", "Bearer", "Bearer  ", "Basic abc:def"])
def test_no_token_is_refused(authorization: str | None) -> None:
    body, _ = signed_webhook(inbound_message(), SECRET)
    assert "carries no signed token" in refused(body, authorization)


def test_a_token_signed_with_another_secret_is_refused() -> None:
    body, headers = signed_webhook(inbound_message(), "not-the-secret-" + "x" * 32)
    message = refused(body, headers["Authorization"])
    assert "not signed with VONAGE_SIGNATURE_SECRET" in message


def test_a_tampered_body_is_refused() -> None:
    body, headers = signed_webhook(inbound_message(text="Meet at 5"), SECRET)
    tampered = body.replace(b"Meet at 5", b"Send money")

    assert "does not match its token's payload_hash" in refused(tampered, headers["Authorization"])


def test_a_token_without_payload_hash_is_refused() -> None:
    token = jwt.encode({"iat": int(time.time()), "api_key": "k"}, SECRET, algorithm="HS256")
    assert "no 'payload_hash' claim" in refused(b"{}", f"Bearer {token}")


@pytest.mark.parametrize(
    ("token", "words"),
    [
        ("garbage", "not a valid HS256 JWT (DecodeError)"),
        (jwt.encode({"iat": 1}, SECRET * 2, algorithm="HS512"), "InvalidAlgorithmError"),
        (jwt.encode({"payload_hash": "x"}, SECRET, algorithm="HS256"), "no valid 'iat'"),
        (jwt.encode({"iat": "today"}, SECRET, algorithm="HS256"), "no valid 'iat'"),
        (jwt.encode({"iat": 1, "exp": 2}, SECRET, algorithm="HS256"), "has expired"),
    ],
    ids=["not-a-jwt", "hs512", "no-iat", "text-iat", "expired"],
)
def test_a_token_that_is_not_vonages_is_refused(token: str, words: str) -> None:
    assert words in refused(b"{}", f"Bearer {token}")


@pytest.mark.parametrize(
    ("offset", "words"),
    [(-(SKEW + 300), f"issued {SKEW + 300} s ago"), (SKEW + 60, f"{SKEW + 60} s ahead")],
    ids=["stale", "future"],
)
def test_a_token_issued_too_long_from_now_is_refused(offset: int, words: str) -> None:
    now = float(int(time.time()))
    body, headers = signed_webhook(inbound_message(), SECRET, iat=int(now) + offset)

    message = refused(body, headers["Authorization"], now=now)

    assert words in message and f"at most {SKEW} s" in message


def test_a_token_a_little_ahead_of_our_clock_is_accepted() -> None:
    """Vonage's clock a little ahead of ours: the SDK helper, which has no leeway, would
    refuse this token; refusing it would hold back every webhook queued behind it."""
    body, headers = signed_webhook(inbound_message(), SECRET, iat=int(time.time()) + 2)
    token = headers["Authorization"].removeprefix("Bearer ")
    with pytest.raises(VonageVerifyJwtError, match="not yet valid"):
        verify_signature(token, SECRET)

    assert check(body, headers["Authorization"]) is not None


def test_without_a_secret_webhooks_are_refused_unless_allowed() -> None:
    body, headers = signed_webhook(inbound_message(), SECRET)

    message = refused(body, headers["Authorization"], secret=None)
    assert "VONAGE_SIGNATURE_SECRET" in message and "VONAGE_WEBHOOKS_UNSIGNED=allow" in message

    assert check(body, None, secret=None, allow_unsigned=True) is None
    assert check(body, "Bearer anything", secret=None, allow_unsigned=True) is None


def test_allowing_unsigned_webhooks_does_not_weaken_a_secret_that_is_set() -> None:
    body, headers = signed_webhook(inbound_message(), "not-the-secret-" + "x" * 32)

    assert "carries no signed token" in refused(body, None, allow_unsigned=True)
    assert "not signed with" in refused(body, headers["Authorization"], allow_unsigned=True)
