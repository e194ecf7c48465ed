"""The Vonage carrier: the real SDK against the fake Vonage HTTPS server."""

from __future__ import annotations

import asyncio
import logging
import socket
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from smsproxy.carrier import OutboundSms, PermanentCarrierError, TransientCarrierError
from smsproxy.carrier.vonage import VonageCarrier
from tests.conftest import make_settings
from tests.server import free_port

if TYPE_CHECKING:
    from tests.fakes.vonage_server import FakeVonage

pytest_plugins = ["tests.fakes.vonage_server"]

TO = "+447700900123"
FROM = "+447700900001"


def carrier_for(tmp_path: Path, fake: FakeVonage, **overrides: Any) -> VonageCarrier:
    values = {**fake.settings(), "vonage_timeout_seconds": 1, **overrides}
    return VonageCarrier(make_settings(f"sqlite:///{tmp_path}/unused.db", **values))


@pytest.fixture
async def carrier(tmp_path: Path, fake_vonage: FakeVonage) -> Any:
    value = carrier_for(tmp_path, fake_vonage)
    yield value
    await value.aclose()


def sms(text: str = "Your driver is outside", to: str = TO) -> OutboundSms:
    return OutboundSms(delivery_id="dl_0123456789abcdef", from_number=FROM, to_number=to, text=text)


async def test_sends_with_client_ref_and_receipt_request(
    carrier: VonageCarrier, fake_vonage: FakeVonage
) -> None:
    result = await carrier.send(sms())

    [request] = fake_vonage.requests
    assert request.outcome == "ok"
    assert result.message_ids == request.message_ids
    assert len(result.message_ids) == 1
    assert (request.api_key, request.api_secret) == (fake_vonage.api_key, fake_vonage.api_secret)
    assert request.to == "447700900123"  # Vonage takes numbers without "+"
    assert request.sender == "447700900001"
    assert request.text == "Your driver is outside"
    assert request.client_ref == "dl_0123456789abcdef"
    assert request.status_report_req is True
    assert request.type is None  # GSM-7 goes as plain text
    assert "sig" not in request.form


async def test_long_text_returns_every_part_id(
    carrier: VonageCarrier, fake_vonage: FakeVonage
) -> None:
    result = await carrier.send(sms("x" * 400))  # 3 parts of 153

    [request] = fake_vonage.requests
    assert len(result.message_ids) == 3
    assert len(set(result.message_ids)) == 3
    assert result.message_ids == request.message_ids


@pytest.mark.parametrize(
    ("text", "expected_type", "parts"),
    [
        ("Merci, à bientôt 🙂", "unicode", 1),
        ("Wait for me “here”", "unicode", 1),
        ("ć" * 71, "unicode", 2),
        ("Price: 5€ {ok}", None, 1),
        ("é" * 160, None, 1),
    ],
)
async def test_unicode_only_when_needed(
    carrier: VonageCarrier,
    fake_vonage: FakeVonage,
    text: str,
    expected_type: str | None,
    parts: int,
) -> None:
    result = await carrier.send(sms(text))

    [request] = fake_vonage.requests
    assert request.type == expected_type
    assert request.text == text
    assert len(result.message_ids) == parts


async def test_signature_secret_never_reaches_the_sending_client(
    tmp_path: Path, fake_vonage: FakeVonage
) -> None:
    carrier = carrier_for(tmp_path, fake_vonage, vonage_signature_secret="sig-secret-x")
    await carrier.send(sms())
    await carrier.aclose()

    [request] = fake_vonage.requests
    assert request.outcome == "ok"
    assert "sig" not in request.form
    assert request.api_secret == fake_vonage.api_secret


@pytest.mark.parametrize(
    ("setup", "code", "words"),
    [
        (lambda fake: fake.throttle(), "1", "throttled"),
        (lambda fake: fake.fail_http(status=500), "500", "server error"),
        (lambda fake: fake.fail_http(status=503), "503", "server error"),
        (lambda fake: fake.fail_http(status=429), "429", "rate-limited"),
        (lambda fake: fake.reject(TO, "5"), "5", "internal error"),
        # The request went out and no answer came back: the SMS may have been sent.
        (lambda fake: fake.hang(seconds=3), "timeout", "did not answer within 1 s (it may"),
        (lambda fake: fake.drop(), "network", "dropped before its answer (it may"),
        (lambda fake: fake.fail_later_parts("1"), "1", "2 of 3 parts failed"),
    ],
    ids=["throttled", "http-500", "http-503", "http-429", "status-5", "hang", "drop", "partial"],
)
async def test_transient_failures(
    carrier: VonageCarrier, fake_vonage: FakeVonage, setup: Any, code: str, words: str
) -> None:
    setup(fake_vonage)

    with pytest.raises(TransientCarrierError) as caught:
        await carrier.send(sms("y" * 400))

    assert caught.value.code == code
    assert words in caught.value.message.lower()
    assert caught.value.ambiguous == (code in ("timeout", "network"))
    assert len(fake_vonage.requests) == 1  # the SDK did not retry behind our back


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("2", "missing"),
        ("3", "invalid"),
        ("6", "could not route"),
        ("7", "barred"),
        ("8", "account is barred"),
        ("9", "out of credit"),
        ("15", "sender number"),
        ("29", "allowed list"),
        ("99", "refused the message"),
    ],
)
async def test_permanent_statuses(
    carrier: VonageCarrier, fake_vonage: FakeVonage, status: str, words: str
) -> None:
    fake_vonage.reject(TO, status)

    with pytest.raises(PermanentCarrierError) as caught:
        await carrier.send(sms())

    assert caught.value.code == status
    assert words in caught.value.message.lower()
    assert f"Vonage status {status}" in caught.value.message


async def test_permanent_part_failure_is_permanent(
    carrier: VonageCarrier, fake_vonage: FakeVonage
) -> None:
    fake_vonage.fail_later_parts("7")

    with pytest.raises(PermanentCarrierError) as caught:
        await carrier.send(sms("z" * 200))

    assert caught.value.code == "7"
    assert "1 of 2 parts failed" in caught.value.message


async def test_bad_credentials_are_permanent_and_say_what_to_fix(
    tmp_path: Path, fake_vonage: FakeVonage
) -> None:
    carrier = carrier_for(tmp_path, fake_vonage, vonage_api_secret="wrong-secret")

    with pytest.raises(PermanentCarrierError) as caught:
        await carrier.send(sms())
    await carrier.aclose()

    assert caught.value.code == "4"
    assert "VONAGE_API_KEY and VONAGE_API_SECRET" in caught.value.message
    assert fake_vonage.requests[0].outcome == "bad-credentials"


@pytest.mark.parametrize("status", [401, 403, 404])
async def test_http_client_errors_are_permanent(
    carrier: VonageCarrier, fake_vonage: FakeVonage, status: int
) -> None:
    fake_vonage.fail_http(status=status)

    with pytest.raises(PermanentCarrierError) as caught:
        await carrier.send(sms())

    assert caught.value.code == str(status)
    assert f"HTTP {status}" in caught.value.message


async def test_nothing_listening_is_transient(tmp_path: Path, fake_vonage: FakeVonage) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    carrier = carrier_for(tmp_path, fake_vonage, vonage_rest_host=f"127.0.0.1:{port}")

    with pytest.raises(TransientCarrierError) as caught:
        await carrier.send(sms())

    assert caught.value.code == "network"
    assert f"127.0.0.1:{port}" in caught.value.message


async def test_untrusted_certificate_is_transient(
    carrier: VonageCarrier, fake_vonage: FakeVonage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")

    with pytest.raises(TransientCarrierError) as caught:
        await carrier.send(sms())

    assert caught.value.code == "network"
    assert "SSLError" in caught.value.message


async def test_text_vonage_cannot_take_is_refused_before_sending(
    carrier: VonageCarrier, fake_vonage: FakeVonage
) -> None:
    too_long_ref = OutboundSms(delivery_id="d" * 101, from_number=FROM, to_number=TO, text="hi")

    with pytest.raises(PermanentCarrierError) as caught:
        await carrier.send(too_long_ref)

    assert "client_ref" in caught.value.message
    assert fake_vonage.requests == []


async def test_concurrency_is_bounded(tmp_path: Path, fake_vonage: FakeVonage) -> None:
    carrier = carrier_for(tmp_path, fake_vonage, send_concurrency=2)
    fake_vonage.slow(count=6, seconds=0.3)

    results = await asyncio.gather(*(carrier.send(sms(f"message {n}")) for n in range(6)))
    await carrier.aclose()

    assert len({result.message_ids[0] for result in results}) == 6
    assert fake_vonage.max_in_flight == 2


async def test_logs_carry_no_numbers_or_text(
    carrier: VonageCarrier, fake_vonage: FakeVonage, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    fake_vonage.reject("+447700900999", "7")
    fake_vonage.throttle()

    with pytest.raises(TransientCarrierError):
        await carrier.send(sms("secret words"))
    await carrier.send(sms("secret words"))
    with pytest.raises(PermanentCarrierError):
        await carrier.send(sms("secret words", to="+447700900999"))

    logged = [record.getMessage() for record in caplog.records if record.levelno >= logging.INFO]
    assert any("dl_0123456789abcdef" in line for line in logged)
    for line in logged:
        assert "secret words" not in line
        assert "7700900" not in line


async def test_nothing_listening_is_a_plain_transient_failure(
    tmp_path: Path, fake_vonage: FakeVonage
) -> None:
    closed = carrier_for(tmp_path, fake_vonage, vonage_rest_host=f"127.0.0.1:{free_port()}")
    try:
        with pytest.raises(TransientCarrierError) as caught:
            await closed.send(sms())
    finally:
        await closed.aclose()

    # Nothing went out, so sending again cannot send it twice.
    assert (caught.value.code, caught.value.ambiguous) == ("network", False)
    assert "could not reach vonage" in caught.value.message.lower()


async def test_a_patient_send_waits_longer_for_a_slow_answer(
    carrier: VonageCarrier, fake_vonage: FakeVonage
) -> None:
    fake_vonage.slow(count=2, seconds=1.5)  # slower than the 1 s timeout

    with pytest.raises(TransientCarrierError) as caught:
        await carrier.send(sms())
    result = await carrier.send(replace(sms(), patient=True))

    assert caught.value.ambiguous
    assert [request.outcome for request in fake_vonage.requests] == ["ok", "ok"]
    assert result.message_ids == fake_vonage.requests[1].message_ids
