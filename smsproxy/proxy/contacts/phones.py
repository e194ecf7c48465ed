"""Phone numbers: the library's matcher for numbers as written, runs for disguised ones."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
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


def verdict(digits: str, plus: bool, regions: tuple[str, ...]) -> str | None:
    """Whether a digit string, as written, is a "valid" number, a "possible" one, or None.

    Written nationally, the digits must be the number's national form, prefix and all
    (GB "07911123456", US "4155550134"), or its country code and national number without
    a "+" ("447911123456"): "7911123456" from a GB sender is a ten-digit figure, not a
    number.
    """
    if plus or digits.startswith("00"):
        international = digits.removeprefix("00")
        if not _MIN_INTERNATIONAL <= len(international) <= _MAX_INTERNATIONAL:
            return None
        candidates: list[tuple[str, str | None]] = [("+" + international, None)]
    else:
        candidates = []
        for region in regions:
            lengths, code = _written_lengths(region)
            if len(digits) in lengths:
                candidates.append((digits, region))
            # Without its "+", a country code counts only for the participants' countries.
            if code and digits.startswith(code) and len(digits) - len(code) in lengths:
                candidates.append(("+" + digits, None))
    best: str | None = None
    for candidate, in_region in candidates:
        try:
            number = phonenumbers.parse(candidate, in_region)
        except phonenumbers.NumberParseException:
            continue
        if in_region is not None:
            national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
            if "".join(ch for ch in national if ch.isdigit()) != digits:
                continue
        if phonenumbers.is_valid_number(number):
            return "valid"
        if phonenumbers.is_possible_number(number):
            best = "possible"
    return best


@cache
def _written_lengths(region: str) -> tuple[frozenset[int], str]:
    """Lengths a national number of the region can have as written, and its country code.

    Checked before parsing: most stretches of a run are the wrong length for any number,
    and the parser is the slow part.
    """
    metadata = PhoneMetadata.metadata_for_region(region.upper())
    if metadata is None:
        return frozenset(), ""
    general = metadata.general_desc
    lengths = set(general.possible_length if general is not None else ())
    prefix = len(metadata.national_prefix or "")
    return frozenset(lengths | {length + prefix for length in lengths}), str(metadata.country_code)


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

    A run written like an ordinary number ("plain") counts only next to a cue: the
    matcher has had its say on those. A disguised run counts when valid; a number that
    is merely possible (a range the library does not know, a drama number) needs a cue.
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
        how = _how(text, run, first, last)
        if how == "plain" and not cue:
            continue
        found = verdict(written, plus, regions)
        if found is None or (found == "possible" and not cue):
            continue
        only_digits = all(unit.kind == "digits" for unit in units[first : last + 1])
        if only_digits and not cue and is_reference_labelled(text, units[first].start):
            continue
        return last, how
    return None
