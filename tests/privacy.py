"""Finding a phone number in text, however it is written: for the tests that check
numbers never show where they should not (pages, API answers, live events, logs)."""

from __future__ import annotations

import re

import phonenumbers

# Separators people and formatters put inside numbers: "07700 900123", "+1-202-555-0147",
# "(202) 555.0147". Removed between digits, so every spelling becomes one digit run.
_SEPARATORS = re.compile(r"(?<=\d)[\s\-.()/\u00a0]+(?=\d)")
_DIGIT_RUNS = re.compile(r"\d+")


def national_digits(e164: str) -> str:
    """The digits every spelling of the number holds in a row: E.164, with or without
    +, national (with its trunk 0), international with spaces, tel: URIs."""
    return phonenumbers.national_significant_number(phonenumbers.parse(e164))


def spelled_in(text: str, *numbers: str) -> list[str]:
    """The numbers (E.164) written in `text` in any spelling."""
    runs = _DIGIT_RUNS.findall(_SEPARATORS.sub("", text))
    return [n for n in numbers if any(national_digits(n) in run for run in runs)]
