"""Read a text as people write digits to get them past a filter.

"0 7 9 1 1", "oh seven nine one one", "07nine11", "O7911", "double five", "plus four
four", keycap emoji and digits split over lines all become runs of digit units, each
unit knowing where it sits in the text. What a run is (a phone number or not) is decided
elsewhere; this module only reads.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

_ONES = {
    "zero": "0", "oh": "0", "o": "0", "nought": "0", "nil": "0",
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
    "six": "6", "seven": "7", "eight": "8", "nine": "9",
}  # fmt: skip
_TEENS = {
    "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14",
    "fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19",
}  # fmt: skip
_TENS = {
    "twenty": "2", "thirty": "3", "forty": "4", "fifty": "5",
    "sixty": "6", "seventy": "7", "eighty": "8", "ninety": "9",
}  # fmt: skip
_REPEAT = {"double": 2, "dbl": 2, "triple": 3, "treble": 3}
_FILLER = {"dash", "hyphen", "space", "then"}
# Longest first, so that "fourteen" is not read as "four" and a stray "teen".
_NUMBER_WORD = re.compile(
    "|".join(sorted([*_ONES, *_TEENS, *_TENS], key=len, reverse=True)), re.IGNORECASE
)
# Letters that stand for digits when glued to digits ("O7911", "l23", "7I8"). Only
# these: S for 5 or B for 8 would turn booking codes into numbers.
_LEET = str.maketrans({"o": "0", "i": "1", "l": "1"})

_TOKEN = re.compile(
    r"(?P<digits>\d+)|(?P<letters>[^\W\d_]+)|(?P<plus>[+\uff0b])"
    # What may sit between the digits of one number: spaces, line breaks, the usual
    # punctuation, and the marks that turn a digit into a keycap emoji.
    r"|(?P<sep>[\s.,\-\u2010-\u2015_/()\[\]|*~•·'\"\ufe0f\u20e3\u200b-\u200d\u2060]+)"
    r"|(?P<other>.)",
    re.DOTALL,
)
_MAX_SEPARATOR = 8


@dataclass(slots=True)
class Unit:
    """Some digits as written: a digit group, a number word, or letters for digits."""

    start: int
    end: int
    digits: str
    kind: str  # "digits", "word", "leet"
    before: str = ""  # the separator written before it within its run
    tens: bool = False  # "fifty": the next "five" makes it 55


@dataclass(slots=True)
class Run:
    """Units separated only by separators: possibly one number, possibly several."""

    units: list[Unit] = field(default_factory=list)
    plus: bool = False  # "+" or "plus" before the first unit


def _decompose(letters: str) -> list[tuple[str, bool]] | None:
    """Digits of letters made only of number words ("fivefivefive"), else None."""
    parts: list[tuple[str, bool]] = []
    position = 0
    while position < len(letters):
        match = _NUMBER_WORD.match(letters, position)
        if match is None:
            return None
        word = match.group().lower()
        if word in _TENS:
            parts.append((_TENS[word] + "0", True))
        else:
            parts.append((_ONES.get(word) or _TEENS[word], False))
        position = match.end()
    return parts


def _digit_value(digits: str) -> str:
    return "".join(str(unicodedata.digit(ch)) for ch in digits)


def read_runs(text: str) -> list[Run]:
    """Every run of digit units in `text`, in order."""
    runs: list[Run] = []
    run = Run()
    separator = ""
    repeat = 0  # "double"/"triple" waiting for its digit
    plus = False
    pending_start: int | None = None  # where that "double" or "plus" was written

    def close() -> None:
        nonlocal run, separator, repeat, plus, pending_start
        if run.units:
            runs.append(run)
        run, separator, repeat, plus, pending_start = Run(), "", 0, False, None

    def add(unit: Unit) -> None:
        nonlocal separator, repeat, plus, pending_start
        if repeat:
            unit.digits = unit.digits[0] * (repeat - 1) + unit.digits
            repeat = 0
        if not run.units and plus:
            run.plus = True
        if pending_start is not None:
            unit.start, pending_start = pending_start, None
        previous = run.units[-1] if run.units else None
        if (
            previous is not None
            and previous.tens
            and unit.kind == "word"
            and len(unit.digits) == 1
            and unit.digits != "0"
            and separator.strip(" -") == ""
        ):
            previous.digits = previous.digits[0] + unit.digits
            previous.end, previous.tens = unit.end, False
        else:
            unit.before = separator if run.units else ""
            run.units.append(unit)
        separator, plus = "", False

    for match in _TOKEN.finditer(text):
        kind, value = match.lastgroup, match.group()
        start, end = match.span()
        if kind == "digits":
            add(Unit(start, end, _digit_value(value), "digits"))
        elif kind == "sep":
            if len(value) > _MAX_SEPARATOR or value.count("\n") > 2:
                close()
            else:
                separator += value
        elif kind == "plus" and not run.units and not repeat:
            plus, pending_start = True, start
        elif kind == "letters":
            lower = value.lower()
            parts = _decompose(lower)
            glued = (start > 0 and text[start - 1].isdigit()) or (
                end < len(text) and text[end].isdigit()
            )
            if glued and lower.translate(_LEET).isdigit() and (parts is None or len(lower) == 1):
                add(Unit(start, end, lower.translate(_LEET), "leet"))
            elif parts is not None:
                for digits, tens in parts:
                    add(Unit(start, end, digits, "word", tens=tens))
            elif lower in _REPEAT and not repeat:
                repeat = _REPEAT[lower]
                if pending_start is None:
                    pending_start = start
            elif lower == "plus" and not run.units and not repeat:
                plus, pending_start = True, start
            elif lower in _FILLER and run.units:
                separator += " "
            else:
                close()
        else:
            close()
    close()
    return runs
