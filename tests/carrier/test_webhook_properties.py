"""The SMS-API webhook parsers with arbitrary fields: each either reads a webhook into
values the database can hold, or refuses it with MalformedWebhook; nothing else."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from smsproxy.carrier.webhooks import (
    MAX_ID_LENGTH,
    MAX_REF_LENGTH,
    MAX_SENDER_LENGTH,
    MalformedWebhook,
    flatten,
    parse_inbound,
    parse_receipt,
)

INBOUND_FIELDS = ["msisdn", "to", "messageId", "text", "type", "concat", "concat-ref"]
INBOUND_FIELDS += ["concat-total", "concat-part", "message-timestamp", "keyword"]
RECEIPT_FIELDS = ["messageId", "status", "err-code", "client-ref", "msisdn", "to", "price"]

values = st.one_of(
    st.text(max_size=80),
    st.sampled_from(["447700900001", "+447700900001", "12025550111", "VONAGE", "72404"]),
    st.sampled_from(["true", "false", "0", "1", "2", "255", "256", "-1", "x", ""]),
    st.sampled_from(["2025-01-01 12:00:00", "2025-13-45 99:99:99", "delivered", "failed"]),
    st.from_regex(r"[0-9]{1,30}", fullmatch=True),
)


def fields(names: list[str]) -> st.SearchStrategy[dict[str, str]]:
    return st.dictionaries(st.one_of(st.sampled_from(names), st.text(max_size=10)), values)


@settings(max_examples=250, deadline=None)
@given(params=fields(INBOUND_FIELDS))
def test_inbound_is_read_or_refused(params: dict[str, str]) -> None:
    try:
        sms = parse_inbound(params)
    except MalformedWebhook as refused:
        assert refused.status == 400 and refused.message
        return
    assert sms.to.startswith("+") and sms.to[1:].isdigit()
    assert 1 <= len(sms.sender) <= MAX_SENDER_LENGTH
    assert 1 <= len(sms.carrier_message_id) <= MAX_ID_LENGTH
    if sms.concat_ref is not None:
        assert len(sms.concat_ref) <= MAX_REF_LENGTH
        assert sms.concat_total is not None and sms.concat_part is not None
        assert 1 <= sms.concat_part <= sms.concat_total <= 255


@settings(max_examples=200, deadline=None)
@given(params=fields(RECEIPT_FIELDS))
def test_receipt_is_read_or_refused(params: dict[str, str]) -> None:
    try:
        receipt = parse_receipt(params)
    except MalformedWebhook as refused:
        assert refused.status == 400 and refused.message
        return
    assert 1 <= len(receipt.carrier_message_id) <= MAX_ID_LENGTH
    assert receipt.status


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(body=st.dictionaries(st.text(max_size=12), json_values, max_size=6))
def test_any_json_object_flattens_to_text_or_is_refused(body: dict[str, Any]) -> None:
    try:
        flat = flatten(body)
    except MalformedWebhook as refused:
        assert "must be a string" in refused.message
        assert any(isinstance(v, list | dict) for v in body.values())
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in flat.items())
    assert set(flat) == {k for k, v in body.items() if v is not None}
