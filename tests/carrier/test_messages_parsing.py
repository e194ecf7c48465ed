"""Messages API webhooks read into InboundSms and Receipt."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from smsproxy.carrier.messages_webhooks import (
    load_body,
    parse_inbound_message,
    parse_message_status,
)
from smsproxy.carrier.webhooks import MalformedWebhook
from tests.fakes.messages_api import inbound_message, message_status

UUID = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"


def malformed(parse: Any, payload: dict[str, Any]) -> str:
    with pytest.raises(MalformedWebhook) as caught:
        parse(payload)
    assert caught.value.status == 400
    return caught.value.message


def test_an_inbound_sms() -> None:
    inbound = parse_inbound_message(inbound_message(message_uuid=UUID, text="Where are you?"))

    assert inbound.sender == "+447700900101"
    assert inbound.to == "+447700900901"
    assert inbound.carrier_message_id == UUID
    assert inbound.text == "Where are you?"
    assert inbound.received_at == datetime(2025, 2, 3, 12, 14, 25, tzinfo=UTC)
    assert (inbound.channel, inbound.message_type) == ("sms", "text")
    assert inbound.is_sms_text and not inbound.is_part
    assert inbound.carrier_api == "messages"  # to tell it from the same SMS in the other format


def test_a_long_sms_arrives_whole() -> None:
    text = "Part one of a long story. " * 12
    inbound = parse_inbound_message(inbound_message(text=text, sms={"num_messages": "3"}))
    assert inbound.text == text and not inbound.is_part


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"from": "VONAGE"}, {"sender": "VONAGE"}),  # an alphanumeric sender ID
        ({"from": "72404"}, {"sender": "72404"}),  # a short code
        ({"from": "+447700900101", "to": "+447700900901"}, {"sender": "+447700900101"}),
        ({"from": 447700900101}, {"sender": "+447700900101"}),
        ({"text": None}, {"text": ""}),
        ({"text": "Merci 🙂 à bientôt"}, {"text": "Merci 🙂 à bientôt"}),
        ({"text": "bad \ud800 half"}, {"text": "bad \ufffd half"}),  # JSON lets it through
        ({"timestamp": "2025-02-03T12:14:25.123Z"}, {"received_at": "2025-02-03 12:14:25.123"}),
        ({"timestamp": "2025-02-03T13:14:25+01:00"}, {"received_at": "2025-02-03 12:14:25"}),
        ({"timestamp": "yesterday"}, {"received_at": None}),
        ({"timestamp": None}, {"received_at": None}),
        ({"channel": "SMS", "message_type": "Text"}, {"channel": "sms", "message_type": "text"}),
        ({"sms": None, "usage": None, "something_new": {"x": 1}}, {"text": "Where are you?"}),
    ],
    ids=[
        "sender-id",
        "short-code",
        "plus",
        "number-as-int",
        "no-text",
        "unicode",
        "lone-surrogate",
        "milliseconds",
        "offset",
        "bad-time",
        "no-time",
        "upper-case",
        "extra-fields",
    ],
)
def test_odd_but_legal_inbound_messages(fields: dict[str, Any], expected: dict[str, Any]) -> None:
    inbound = parse_inbound_message(inbound_message(**fields))

    for name, value in expected.items():
        got = getattr(inbound, name)
        if name == "received_at" and got is not None:
            got = got.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f").rstrip("0").rstrip(".")
        assert got == value, name


@pytest.mark.parametrize(
    ("fields", "channel", "text"),
    [
        ({"channel": "whatsapp", "profile": {"name": "Al"}}, "whatsapp", "Where are you?"),
        (
            {
                "channel": "mms",
                "message_type": "image",
                "image": {"url": "https://example.com/i.jpg", "caption": "Here"},
                "text": None,
            },
            "mms",
            "[image] Here https://example.com/i.jpg",
        ),
        (
            {"channel": "messenger", "from": "1234567890123456", "to": "9876543210987654"},
            "messenger",
            "Where are you?",
        ),
        (
            {"channel": "whatsapp", "message_type": "unsupported"},
            "whatsapp",
            "[unsupported] Where are you?",
        ),
    ],
    ids=["whatsapp", "mms-image", "messenger-ids", "unsupported"],
)
def test_other_channels_and_types_are_read_for_staff_not_for_chats(
    fields: dict[str, Any], channel: str, text: str
) -> None:
    inbound = parse_inbound_message(inbound_message(**fields))

    assert (inbound.channel, inbound.text) == (channel, text)
    assert not inbound.is_sms_text
    if channel == "messenger":  # addresses that are not phone numbers are kept as sent
        assert (inbound.sender, inbound.to) == ("1234567890123456", "9876543210987654")


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"message_uuid": None}, "lacks message_uuid"),
        ({"message_uuid": "  "}, "lacks message_uuid"),
        ({"message_uuid": "x" * 65}, "message_uuid must be 1 to 64"),
        ({"from": ""}, "lacks from"),
        ({"to": None}, "lacks to"),
        ({"to": "12"}, "to is not a phone number"),
        ({"to": "VONAGE"}, "to is not a phone number"),
        ({"from": "Bank\u200b"}, "from is not a phone number"),
        ({"from": {"type": "sms", "number": "447700900101"}}, "set the application's Messages"),
        ({"channel": 5}, "channel must be a word"),
        ({"message_type": "no such thing!"}, "message_type must be a word"),
        ({"text": {"body": "hi"}}, "text must be a string, not dict"),
    ],
)
def test_unreadable_inbound_messages_say_why(fields: dict[str, Any], words: str) -> None:
    assert words in malformed(parse_inbound_message, inbound_message(**fields))


@pytest.mark.parametrize(
    ("status", "receipt_status"),
    [
        ("submitted", "accepted"),
        ("delivered", "delivered"),
        ("read", "delivered"),
        ("rejected", "rejected"),
        ("undeliverable", "failed"),
        ("DELIVERED", "delivered"),
        ("deleted", "unknown"),
        ("something-new", "unknown"),
    ],
)
def test_each_status_in_the_receipt_vocabulary(status: str, receipt_status: str) -> None:
    receipt = parse_message_status(message_status(status, message_uuid=UUID))

    assert (receipt.carrier_message_id, receipt.status) == (UUID, receipt_status)
    assert receipt.whole_message  # one status for the whole SMS, however many parts
    assert receipt.client_ref == "dl_0123456789abcdef"
    assert (receipt.error_code, receipt.error_text) == (None, None)
    assert receipt.extra == {
        "price": "0.0333",
        "currency": "EUR",
        "network-code": "23410",
        "parts": "1",
        "channel": "sms",
    }


@pytest.mark.parametrize(
    ("error", "code", "text"),
    [
        (
            {
                "type": "https://developer.vonage.com/api-errors/messages#1320",
                "title": 1320,
                "detail": "Message failed: the number 447700900102 is not reachable",
            },
            "1320",
            "Message failed: the number +44770•••••02 is not reachable",
        ),
        (
            {
                "type": "https://developer.vonage.com/api-errors/messages#1150",
                "title": "Invalid params",
                "detail": "The value of one or more parameters is invalid.",
            },
            "1150",
            "Invalid params: The value of one or more parameters is invalid.",
        ),
        ({"title": "1000", "detail": "Throttled"}, "1000", "Throttled"),
        ({"type": "about:blank"}, None, None),
        ("Blocked by the network", None, "Blocked by the network"),
        ({"detail": "x" * 400}, None, "x" * 297 + "..."),
        (["not", "an", "object"], None, None),
    ],
    ids=["numeric-title", "titled", "title-as-text", "bare", "text", "long", "odd"],
)
def test_a_status_error_is_kept_as_a_readable_reason(
    error: Any, code: str | None, text: str | None
) -> None:
    receipt = parse_message_status(message_status("rejected", error=error))

    assert receipt.status == "rejected"
    assert (receipt.error_code, receipt.error_text) == (code, text)


def test_a_sparse_status_is_read() -> None:
    receipt = parse_message_status({"message_uuid": UUID, "status": "delivered"})

    assert (receipt.status, receipt.client_ref, receipt.extra) == ("delivered", None, {})


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"message_uuid": None}, "lacks message_uuid"),
        ({"status": None}, "lacks status"),
        ({"status": 3}, "lacks status"),
        ({"status": " "}, "lacks status"),
    ],
)
def test_unreadable_statuses_say_why(fields: dict[str, Any], words: str) -> None:
    assert words in malformed(parse_message_status, message_status(**fields))


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b"message_uuid=1&status=delivered", "not JSON"),
        (b"[1, 2]", "must be an object"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ],
    ids=["not-utf8", "form", "array", "deep"],
)
def test_a_body_that_is_not_a_json_object_is_refused(body: bytes, words: str) -> None:
    assert words in malformed(load_body, body)


def test_a_json_object_is_loaded() -> None:
    payload = inbound_message()
    assert load_body(json.dumps(payload).encode()) == payload
