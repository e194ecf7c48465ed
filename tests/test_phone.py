"""Phone numbers: what people type becomes E.164; masks never show the whole number."""

from __future__ import annotations

import re

import pytest

from smsproxy.errors import InvalidNumber
from smsproxy.phone import mask, parse_number, region_of, to_carrier


@pytest.mark.parametrize(
    ("typed", "region", "expected"),
    [
        ("+44 7700 900123", None, "+447700900123"),
        ("+44-7700-900-123", None, "+447700900123"),
        ("+44 (0)7700 900123", None, "+447700900123"),
        ("447700900123", None, "+447700900123"),  # as Vonage sends it
        ("00447700900123", None, "+447700900123"),
        ("0044 7700 900123", "US", "+447700900123"),
        ("  +1 (202) 555-0123 ", None, "+12025550123"),
        ("tel:+447700900123", None, "+447700900123"),
        ("07700 900123", "GB", "+447700900123"),
        ("(202) 555-0123", "US", "+12025550123"),
        ("202.555.0123", "US", "+12025550123"),
        ("+44 7700 900123", "US", "+447700900123"),  # a + wins over the region
        # Vonage's form still works where a default region is set: the digits cannot be
        # a US national number, so they carry their country code.
        ("447700900123", "US", "+447700900123"),
        ("447700900123", "GB", "+447700900123"),
        ("+390612345678", None, "+390612345678"),  # Italy keeps its leading zero
    ],
)
def test_parse_number_gives_e164(typed: str, region: str | None, expected: str) -> None:
    assert parse_number(typed, region) == expected


@pytest.mark.parametrize(
    ("typed", "region", "reason"),
    [
        ("", None, "is empty"),
        ("   ", None, "is empty"),
        ("hello", None, "characters that are not part of a phone number"),
        ("+44 7700 9001a3", None, "characters that are not part of a phone number"),
        ("+44 7700 900123 ext 5", None, "characters that are not part of a phone number"),
        ("07700 900123", None, "has no country code"),
        ("+999 1234567", None, "unknown country code"),
        ("00999 1234567", None, "unknown country code"),
        ("+44 12", None, "wrong number of digits"),
        ("+44 7700 900123 4567", None, "wrong number of digits"),
        ("+", None, "is not a phone number"),
        ("1" * 41, None, "too long to be a phone number"),
    ],
)
def test_invalid_numbers_say_why(typed: str, region: str | None, reason: str) -> None:
    with pytest.raises(InvalidNumber) as caught:
        parse_number(typed, region)
    assert reason in caught.value.message
    assert caught.value.status == 422


def test_a_very_long_input_is_shortened_in_the_message() -> None:
    with pytest.raises(InvalidNumber) as caught:
        parse_number("9" * 500)
    assert len(caught.value.message) < 100
    assert "..." in caught.value.message


@pytest.mark.parametrize(
    ("number", "shown"),
    [
        ("+447700900123", "+44770•••••23"),
        ("+12025550123", "+1202•••••23"),
        ("+390612345678", "+39061•••••78"),
        ("447700900123", "+44770•••••23"),
        ("+3531234567", "+3531••••67"),  # short national number: less is shown
        ("+2901234", "+290••••"),
    ],
)
def test_mask_shows_country_a_few_digits_and_the_end(number: str, shown: str) -> None:
    assert mask(number) == shown


@pytest.mark.parametrize(
    "number",
    [
        "+447700900123",
        "+12025550123",
        "+390612345678",
        "+4915112345678",
        "+2901234",
        "+61491570156",
    ],
)
def test_mask_never_shows_the_whole_number(number: str) -> None:
    masked = mask(number)
    digits = re.sub(r"\D", "", masked)
    assert number.removeprefix("+") not in digits
    assert len(digits) <= len(number.removeprefix("+")) - 4
    assert "•" in masked


def test_mask_of_nothing_is_empty() -> None:
    assert mask(None) == ""
    assert mask("") == ""


@pytest.mark.parametrize(
    ("number", "region"),
    [("+447700900123", "GB"), ("+12025550123", "US"), ("+4915112345678", "DE"), ("junk", "ZZ")],
)
def test_region_of(number: str, region: str) -> None:
    assert region_of(number) == region


def test_carrier_form_has_no_plus() -> None:
    assert to_carrier("+447700900123") == "447700900123"
