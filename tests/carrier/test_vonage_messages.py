"""The Messages API carrier: the real SDK against the fake Vonage HTTPS server."""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from vonage import Auth

from smsproxy.carrier import OutboundSms, PermanentCarrierError, TransientCarrierError
from smsproxy.carrier.vonage_messages import VonageMessagesCarrier
from tests.conftest import make_settings
from tests.fakes.messages_api import MessagesRequest

if TYPE_CHECKING:
    from tests.fakes.vonage_server import FakeVonage

pytest_plugins = ["tests.fakes.vonage_server"]

TO = "+447700900123"
FROM = "+447700900001"
DELIVERY = "dl_0123456789abcdef"


def carrier_for(tmp_path: Path, fake: FakeVonage, **overrides: Any) -> VonageMessagesCarrier:
    values = {**fake.settings("messages"), "vonage_timeout_seconds": 1, **overrides}
    return VonageMessagesCarrier(make_settings(f"sqlite:///{tmp_path}/unused.db", **values))


@pytest.fixture
async def carrier(tmp_path: Path, fake_vonage: FakeVonage) -> Any:
    value = carrier_for(tmp_path, fake_vonage)
    yield value
    await value.aclose()


def sms(text: str = "Your driver is outside", to: str = TO) -> OutboundSms:
    return OutboundSms(delivery_id=DELIVERY, from_number=FROM, to_number=to, text=text)


def only_request(fake: FakeVonage) -> MessagesRequest:
    [request] = fake.requests
    assert isinstance(request, MessagesRequest)
    return request


async def test_sends_an_sms_with_the_delivery_as_client_ref(
    carrier: VonageMessagesCarrier, fake_vonage: FakeVonage
) -> None:
    result = await carrier.send(sms())

    request = only_request(fake_vonage)
    assert request.outcome == "ok"
    assert result.message_ids == request.message_ids  # the message_uuid, and only it
    assert result.whole_message  # which stands for every part the SMS takes
    assert request.body == {
        "to": "447700900123",  # Vonage takes numbers without "+"
        "from": "447700900001",
        "text": "Your driver is outside",
        "client_ref": DELIVERY,
        "channel": "sms",
        "message_type": "text",
        "sms": {"encoding_type": "text"},
    }


async def test_each_request_carries_a_fresh_jwt_of_the_application(
    carrier: VonageMessagesCarrier, fake_vonage: FakeVonage
) -> None:
    await carrier.send(sms())
    await carrier.send(sms())

    claims = [request.claims for request in fake_vonage.requests]
    assert all(claim and claim["application_id"] == fake_vonage.application_id for claim in claims)
    assert claims[0] and claims[1] and claims[0]["jti"] != claims[1]["jti"]
    assert claims[0]["exp"] - claims[0]["iat"] == 15 * 60  # as the SDK's own tokens


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Merci, à bientôt 🙂", "unicode"),
        ("Wait for me “here”", "unicode"),
        ("ć" * 300, "unicode"),  # five parts, still one message
        ("Price: 5€ {ok}", "text"),
        ("é" * 160, "text"),
        ("x" * 400, "text"),
    ],
)
async def test_unicode_only_when_needed_and_one_id_per_message(
    carrier: VonageMessagesCarrier, fake_vonage: FakeVonage, text: str, encoding: str
) -> None:
    result = await carrier.send(sms(text))

    request = only_request(fake_vonage)
    assert (request.text, request.encoding) == (text, encoding)
    assert len(result.message_ids) == 1


@pytest.mark.parametrize(
    ("setup", "code", "words"),
    [
        (lambda fake: fake.throttle(), "429", "throttled"),
        (lambda fake: fake.fail_http(status=500), "500", "server error (http 500: internal"),
        (lambda fake: fake.fail_http(status=502), "502", "server error"),
        (lambda fake: fake.fail_http(status=503), "503", "service unavailable"),
        (lambda fake: fake.fail_http(status=202), "bad-answer", "could not be read"),
        # The request went out and no answer came back: the SMS may have been sent.
        (lambda fake: fake.hang(seconds=3), "timeout", "did not answer within 1 s (it may"),
        (lambda fake: fake.drop(), "network", "dropped before its answer (it may"),
    ],
    ids=["http-429", "http-500", "http-502", "http-503", "no-uuid", "hang", "drop"],
)
async def test_transient_failures(
    carrier: VonageMessagesCarrier, fake_vonage: FakeVonage, setup: Any, code: str, words: str
) -> None:
    setup(fake_vonage)

    with pytest.raises(TransientCarrierError) as caught:
        await carrier.send(sms())

    assert caught.value.code == code
    assert words in caught.value.message.lower()
    assert caught.value.ambiguous == (code in ("timeout", "network"))
    assert len(fake_vonage.requests) == 1  # the SDK did not retry behind our back


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (400, "refused the request (HTTP 400: Bad Request"),
        (401, "check VONAGE_APPLICATION_ID and VONAGE_PRIVATE_KEY"),
        (402, "out of credit (HTTP 402: Low balance"),
        (403, "does not allow this request (HTTP 403: Forbidden"),
        (404, "check VONAGE_API_HOST"),
        (422, "refused the message as invalid (HTTP 422: Invalid params"),
    ],
)
async def test_permanent_http_failures_say_what_to_do(
    carrier: VonageMessagesCarrier, fake_vonage: FakeVonage, status: int, words: str
) -> None:
    fake_vonage.fail_http(status=status)

    with pytest.raises(PermanentCarrierError) as caught:
        await carrier.send(sms())

    assert caught.value.code == str(status)
    assert words in caught.value.message


async def test_an_invalid_recipient_names_the_field_with_the_number_masked(
    carrier: VonageMessagesCarrier, fake_vonage: FakeVonage
) -> None:
    fake_vonage.reject(TO, "3")  # Vonage's detail quotes the number

    with pytest.raises(PermanentCarrierError) as caught:
        await carrier.send(sms())

    message = caught.value.message
    assert caught.value.code == "422"
    assert "to: Invalid to param +44770•••••23" in message
    assert "7700900123" not in message


@pytest.mark.parametrize("wrong", ["application", "key"])
async def test_a_jwt_vonage_cannot_verify_is_permanent(
    tmp_path: Path, fake_vonage: FakeVonage, wrong: str
) -> None:
    if wrong == "application":
        overrides: dict[str, Any] = {"vonage_application_id": "another-application"}
    else:
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        overrides = {
            "vonage_private_key": other.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ).decode()
        }
    carrier = carrier_for(tmp_path, fake_vonage, **overrides)

    with pytest.raises(PermanentCarrierError) as caught:
        await carrier.send(sms())
    await carrier.aclose()

    assert caught.value.code == "401"
    assert "check VONAGE_APPLICATION_ID and VONAGE_PRIVATE_KEY" in caught.value.message
    assert only_request(fake_vonage).outcome == "bad-credentials"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"delivery_id": "d" * 101}, "client_ref"),
        ({"text": "x" * 3201}, "text"),
        ({"to_number": "+0123"}, "to"),
    ],
    ids=["client-ref", "text", "to"],
)
async def test_what_vonage_cannot_take_is_refused_before_sending(
    carrier: VonageMessagesCarrier, fake_vonage: FakeVonage, changes: dict[str, str], field: str
) -> None:
    with pytest.raises(PermanentCarrierError) as caught:
        await carrier.send(replace(sms(), **changes))

    assert f"{field}:" in caught.value.message
    assert fake_vonage.requests == []


async def test_nothing_listening_is_transient(tmp_path: Path, fake_vonage: FakeVonage) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    carrier = carrier_for(tmp_path, fake_vonage, vonage_api_host=f"127.0.0.1:{port}")

    with pytest.raises(TransientCarrierError) as caught:
        await carrier.send(sms())

    assert caught.value.code == "network"
    assert f"127.0.0.1:{port}" in caught.value.message


async def test_untrusted_certificate_is_transient(
    carrier: VonageMessagesCarrier, fake_vonage: FakeVonage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")

    with pytest.raises(TransientCarrierError) as caught:
        await carrier.send(sms())

    assert (caught.value.code, "SSLError" in caught.value.message) == ("network", True)


async def test_concurrency_is_bounded(tmp_path: Path, fake_vonage: FakeVonage) -> None:
    carrier = carrier_for(tmp_path, fake_vonage, send_concurrency=2)
    fake_vonage.slow(count=6, seconds=0.3)

    results = await asyncio.gather(*(carrier.send(sms(f"message {n}")) for n in range(6)))
    await carrier.aclose()

    assert len({result.message_ids[0] for result in results}) == 6
    assert fake_vonage.max_in_flight == 2


async def test_logs_carry_no_numbers_or_text(
    carrier: VonageMessagesCarrier, fake_vonage: FakeVonage, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    fake_vonage.reject("+447700900999")
    fake_vonage.throttle()

    with pytest.raises(TransientCarrierError):
        await carrier.send(sms("secret words"))
    await carrier.send(sms("secret words"))
    with pytest.raises(PermanentCarrierError):
        await carrier.send(sms("secret words", to="+447700900999"))

    logged = [record.getMessage() for record in caplog.records]
    assert any(DELIVERY in line for line in logged)
    for line in logged:
        assert "secret words" not in line
        assert "7700900" not in line


def test_the_fake_refuses_what_vonage_refuses(fake_vonage: FakeVonage) -> None:
    """The checks above rely on the fake reading requests as Vonage does."""
    url = f"https://{fake_vonage.host}/v1/messages"
    body = {"to": "447700900123", "from": "Shop", "channel": "mms", "message_type": "text"}

    unsigned = requests.post(url, json=body, timeout=5, verify=fake_vonage.ca_path)
    assert unsigned.status_code == 401

    auth = Auth(application_id=fake_vonage.application_id, private_key=fake_vonage.keys.private_pem)
    headers = {"Authorization": auth.create_jwt_auth_string().decode()}
    invalid = requests.post(url, json=body, headers=headers, timeout=5, verify=fake_vonage.ca_path)
    assert invalid.status_code == 422
    named = {item["name"] for item in invalid.json()["invalid_parameters"]}
    assert named == {"channel", "text"}
