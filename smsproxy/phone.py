"""Phone numbers: parse what people type into E.164, and mask it for display."""

from __future__ import annotations

import re

import phonenumbers

from .errors import InvalidNumber

_E164 = re.compile(r"\+\d{1,19}")

# What an erased real number becomes where a column cannot be empty (`smsproxy erase`).
ERASED_NUMBER = "erased"

# What people put in a typed number besides digits. Anything else (a letter typed for a
# digit, an "ext. 5") would be dropped or read as a vanity letter by the parser and
# quietly yield a different number: refused instead.
_TYPED_NUMBER = re.compile(r"(?:tel:)?[\d\s+().\-/]+", re.IGNORECASE)


def parse_number(raw: str, default_region: str | None = None) -> str:
    """Return the E.164 form of `raw`, or raise InvalidNumber saying why.

    Accepts "+44 7700 900123", "447700900123" (as Vonage sends it), "00447700900123",
    and national formats when a default region is known.
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidNumber(raw, "is empty")
    if len(text) > 40:
        raise InvalidNumber(raw, "is too long to be a phone number")
    if not _TYPED_NUMBER.fullmatch(text):
        raise InvalidNumber(raw, "has characters that are not part of a phone number")
    if text.startswith("00"):
        return _parse(raw, "+" + text[2:], None)
    if text[0].isdigit() and default_region is not None:
        # National format first; digits that cannot be a national number are a number
        # with its country code but without the "+", as Vonage sends them.
        try:
            return _parse(raw, text, default_region)
        except InvalidNumber as national_error:
            try:
                return _parse(raw, "+" + text, None)
            except InvalidNumber:
                raise national_error from None
    if text[0].isdigit():
        return _parse(raw, "+" + text, None)
    return _parse(raw, text, default_region)


def _parse(raw: str, candidate: str, default_region: str | None) -> str:
    try:
        parsed = phonenumbers.parse(candidate, default_region)
    except phonenumbers.NumberParseException as error:
        raise InvalidNumber(raw, _parse_reason(error, raw)) from None
    # Possible, not valid: numbering plans change faster than the library, and ranges
    # such as the UK's drama numbers are real enough for tests; the carrier has the
    # last word on what it can deliver.
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidNumber(raw, "has the wrong number of digits for its country")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _parse_reason(error: phonenumbers.NumberParseException, raw: str) -> str:
    no_country = (
        "has an unknown country code"
        if raw.strip().lower().removeprefix("tel:").startswith(("+", "00"))
        else "has no country code: write it with a leading + and the country code"
    )
    reasons = {
        phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: no_country,
        phonenumbers.NumberParseException.NOT_A_NUMBER: "is not a phone number",
        phonenumbers.NumberParseException.TOO_SHORT_NSN: "is too short",
        phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "is too short",
        phonenumbers.NumberParseException.TOO_LONG: "is too long",
    }
    return reasons.get(error.error_type, "is not a phone number")


def region_of(e164: str) -> str:
    """ISO region code of an E.164 number ("GB"), or "ZZ" when unknown."""
    try:
        parsed = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return "ZZ"
    region = phonenumbers.region_code_for_number(parsed)
    if region is None:
        # Numbers outside every allocated range still belong to their country code.
        region = phonenumbers.region_code_for_country_code(parsed.country_code or 0)
    return region or "ZZ"


def mask(e164: str | None) -> str:
    """Show enough of a number to recognise it, not enough to call it.

    "+447700900123" -> "+44770•••••23": country code and the first three national
    digits, then bullets, then the last two digits.
    """
    if not e164:
        return ""
    if e164 == ERASED_NUMBER:
        return ERASED_NUMBER
    try:
        parsed = phonenumbers.parse(e164 if e164.startswith("+") else "+" + e164)
        country = str(parsed.country_code)
        # Keeps Italy's leading zero, which national_number (an int) drops.
        national = phonenumbers.national_significant_number(parsed)
    except phonenumbers.NumberParseException:
        digits = "".join(ch for ch in e164 if ch.isdigit())
        country, national = "", digits
    if len(national) <= 4:
        return "+" + country + "•" * len(national)
    head = national[:3] if len(national) > 7 else national[:1]
    hidden = len(national) - len(head) - 2
    return f"+{country}{head}{'•' * hidden}{national[-2:]}"


def spellings(e164: str) -> list[str]:
    """The ways a number is commonly written: E.164, without the "+" (as Vonage sends
    it), national and international formats, national digits run together, and its
    masked form. For finding every trace of one number."""
    found = [e164, e164.removeprefix("+"), mask(e164)]
    try:
        parsed = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return found
    for style in (
        phonenumbers.PhoneNumberFormat.NATIONAL,
        phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    ):
        written = phonenumbers.format_number(parsed, style)
        found += [written, "".join(ch for ch in written if ch.isdigit() or ch == "+")]
    return list(dict.fromkeys(text for text in found if len(text) >= 6))


def to_carrier(e164: str) -> str:
    """Vonage wants numbers without the leading +."""
    return e164.removeprefix("+")


def is_alphanumeric_sender(sender: str | None) -> bool:
    """True for a sender ID such as "VONAGE" or "MyBank": a name a company sends
    under, which nobody can text back. Every other sender is stored in E.164."""
    return bool(sender) and _E164.fullmatch(sender or "") is None
