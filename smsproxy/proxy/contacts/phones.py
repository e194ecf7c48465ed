"""Phone numbers: the library's matcher for numbers as written, runs for disguised ones."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache

import phonenumbers
from phonenumbers import Leniency, PhoneMetadata, PhoneNumberFormat, PhoneNumberMatcher

from .cues import is_reference_labelled
from .spoken import Run, read_runs

# A number is 8 to 15 digits with its country code (E.164); nationally 7 at the least.
_MIN_DIGITS, _MAX_DIGITS = 7, 17
_MIN_INTERNATIONAL, _MAX_INTERNATIONAL = 8, 15
# Runs whose digits are all written as digits, in groups, read as ordinary numbers:
# below this share of one-digit groups a run is "grouped", at or above it "spaced".
_SPACED_SHARE = 0.6
_ODD_SEPARATORS = set("_/|*~•·")


def matched(text: str, regions: Sequence[str]) -> Iterator[tuple[int, int]]:
    """Spans of numbers that `phonenumbers` finds as written, in any of the regions.

    Leniency VALID: the number must be valid in its region (POSSIBLE takes any 10 or 11
    digits, order numbers included) and carry its national prefix where the region
    writes one ("07911 123456", not "7911 123456"); the strict grouping leniencies miss
    numbers people group their own way ("0791 112 3456").
    """
    for region in regions:
        for match in PhoneNumberMatcher(text, region, leniency=Leniency.VALID):
            yield match.start, match.end


def verdict(digits: str, plus: bool, regions: tuple[str, ...], valid_only: bool) -> str | None:
    """Whether a digit string, as written, is a "valid" number, a "possible" one, or None.

    Written nationally, the digits must be the number's national form, prefix and all
    (GB "07911123456", US "4155550134"), or its country code and national number without
    a "+" ("447911123456"): "7911123456" from a GB sender is a ten-digit figure, not a
    number. With `valid_only`, digits that cannot be valid are refused before parsing.
    """
    if plus or digits.startswith("00"):
        international = digits.removeprefix("00")
        if not _MIN_INTERNATIONAL <= len(international) <= _MAX_INTERNATIONAL:
            return None
        candidates: list[tuple[str, str | None]] = [("+" + international, None)]
    else:
        candidates = []
        for region in regions:
            shape = _shape(region)
            if shape.could_be(digits, valid_only):
                candidates.append((digits, region))
            # Without its "+", a country code counts only for the participants' countries.
            rest = digits[len(shape.code) :]
            if shape.code and digits.startswith(shape.code) and shape.could_be(rest, valid_only):
                candidates.append(("+" + digits, None))
    best: str | None = None
    for candidate, in_region in candidates:
        try:
            number = phonenumbers.parse(candidate, in_region)
        except phonenumbers.NumberParseException:
            continue
        if not phonenumbers.is_possible_number(number):
            continue
        if in_region is not None:
            national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
            if "".join(ch for ch in national if ch.isdigit()) != digits:
                continue
        if phonenumbers.is_valid_number(number):
            return "valid"
        best = "possible"
    return None if valid_only else best


@dataclass(frozen=True)
class _Shape:
    """What a region's numbers look like as written, to refuse most digits unparsed.

    The parser is the slow part, and most stretches of a run are no number.
    """

    lengths: frozenset[int]  # of the national number, with and without the prefix
    code: str
    prefix: str
    bare: bool  # whether some numbers are written without the national prefix
    pattern: re.Pattern[str] | None  # what any valid national number matches

    def could_be(self, digits: str, valid_only: bool) -> bool:
        if len(digits) not in self.lengths:
            return False
        if not valid_only or self.pattern is None:
            return True
        national = []
        if self.prefix and digits.startswith(self.prefix):
            national.append(digits[len(self.prefix) :])
        if self.bare or not self.prefix:
            national.append(digits)
        return any(self.pattern.fullmatch(number) for number in national)


@cache
def _shape(region: str) -> _Shape:
    metadata = PhoneMetadata.metadata_for_region(region.upper())
    if metadata is None:
        return _Shape(frozenset(), "", "", True, None)
    general = metadata.general_desc
    lengths = set(general.possible_length if general is not None else ())
    prefix = metadata.national_prefix or ""
    rules = [f.national_prefix_formatting_rule for f in metadata.number_format]
    pattern = general.national_number_pattern if general is not None else None
    return _Shape(
        lengths=frozenset(lengths | {length + len(prefix) for length in lengths}),
        code=str(metadata.country_code),
        prefix=prefix,
        bare=not rules or any(not rule or not rule.startswith(prefix) for rule in rules),
        pattern=re.compile(pattern) if pattern else None,
    )


def _how(text: str, run: Run, first: int, last: int) -> str:
    units = run.units[first : last + 1]
    kinds = {unit.kind for unit in units}
    if "leet" in kinds:
        return "leet"
    if "word" in kinds:
        return "words" if kinds == {"word"} else "mixed"
    separators = "".join(unit.before for unit in units[1:])
    if "\u20e3" in separators or not all(text[u.start : u.end].isascii() for u in units):
        return "unicode"  # keycap emoji, full-width digits
    if "\n" in separators:
        return "lines"
    if sum(len(unit.digits) == 1 for unit in units) >= _SPACED_SHARE * len(units):
        return "spaced"
    if _ODD_SEPARATORS & set(separators):
        return "spaced"
    return "plain"


def disguised(text: str, regions: tuple[str, ...], cue: bool) -> Iterator[tuple[int, int, str]]:
    """Spans of numbers in runs of digit units, and how each was written.

    A run written like an ordinary number ("plain") counts only next to a cue or when
    grouped as the number is formatted: the matcher has had its say on the others. A
    disguised run counts when valid; a number that is merely possible (a range the
    library does not know, a drama number) needs a cue.
    A run of digits only (no words, no letters for digits) labelled as a reference
    ("Order", "ref", "#") is one unless a cue says otherwise.
    """
    for run in read_runs(text):
        units = run.units
        if sum(len(unit.digits) for unit in units) < _MIN_DIGITS:
            continue
        first = 0
        while first < len(units):
            found = _longest_number(text, run, first, regions, cue)
            if found is None:
                first += 1
                continue
            last, how = found
            yield units[first].start, units[last].end, how
            first = last + 1


def _grouped_as_a_number(text: str, start: int, end: int, regions: tuple[str, ...]) -> bool:
    """Whether digits written normally stand apart, grouped as the number is formatted.

    The matcher passes over a number run together with other digits ("Flat 2 07946
    300172"); on its own, with its groups where a phone number has them, it still counts.
    Glued to letters it is part of a code ("E6S15732719861"), as the matcher holds too.
    """
    if (start > 0 and text[start - 1].isalpha()) or (end < len(text) and text[end].isalpha()):
        return False
    written = text[start:end]
    for region in regions:
        for match in PhoneNumberMatcher(written, region, leniency=Leniency.STRICT_GROUPING):
            if match.start == 0 and match.end == len(written):
                return True
    return False


def _longest_number(
    text: str, run: Run, first: int, regions: tuple[str, ...], cue: bool
) -> tuple[int, str] | None:
    units = run.units
    digits, ends = "", []
    for unit in units[first:]:
        digits += unit.digits
        if len(digits) > _MAX_DIGITS:
            break
        ends.append(digits)
    plus = run.plus and first == 0
    for last in range(first + len(ends) - 1, first - 1, -1):
        written = ends[last - first]
        if len(written) < _MIN_DIGITS:
            break
        if verdict(written, plus, regions, valid_only=not cue) is None:
            continue
        how = _how(text, run, first, last)
        start, end = units[first].start, units[last].end
        if how == "plain" and not cue and not _grouped_as_a_number(text, start, end, regions):
            continue
        only_digits = all(unit.kind == "digits" for unit in units[first : last + 1])
        if only_digits and not cue and is_reference_labelled(text, start):
            continue
        return last, how
    return None
