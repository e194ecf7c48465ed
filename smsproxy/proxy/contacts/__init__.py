"""Contact details in a text: find phone numbers and e-mail addresses, redact them.

A participant who types their number or e-mail into a forwarded SMS defeats the proxy.
`find_contacts` finds them, `redact` replaces them with a marker, and `describe` tells
staff what was found without repeating it.

Phone numbers, in the participants' regions:

1. As written: `phonenumbers.PhoneNumberMatcher` at leniency VALID (see
   `phones.matched`). It already refuses dates ("12/03/2025"), times and figures that
   are not valid numbers in the region.
2. Disguised: the text is read as runs of digit units (`spoken.read_runs`): digits
   spaced, dotted or dashed out, number words ("oh seven", "double five", "triple 0",
   "fifty five", "plus four four"), digits and words mixed ("07nine11"), the letters
   O, I and l glued to digits ("O7911"), keycap emoji and full-width digits, and digits
   split over lines. A run holds a number when its digits, as written, are the
   national form of a number in one of the regions (prefix and all: "07911123456",
   "4155550134") or its international form (with "+", "00", or the region's own
   country code). The longest such stretch of a run wins.

Where a long reference ends and a phone number begins:

- A valid number is a phone number, unless it is written in digits only, the words
  right before it label it as a reference ("Order", "booking ref", "Account #", "#",
  "NHS number"...) and nothing in the text offers a way to reach someone ("call",
  "text", "ring", "whatsapp", "my number", "reach me"...: a cue). So "Order 2125550199
  is ready" passes and "Order 07911123456, call me" does not.
- A number that is only possible (the right length, in a range the library does not
  know or a drama range) counts next to a cue only.
- Figures that are not valid numbers in the regions (an 11-digit order number that does
  not start with 0 in the UK, a 10-digit one whose area code does not exist in the US,
  a 14-digit tracking number) are never phone numbers, whatever the words around them.
- A run of ordinary digit groups that the matcher did not take counts next to a cue, or
  when it stands apart from letters and is grouped as the number is formatted (the
  matcher passes over "Flat 2 07946 300172" for the 2): "9 30, 10 45, 12 15" and
  "E6S15732719861" pass.

E-mail addresses (`emails.find`): as written; with a spaced "@" and "."; with "(at)",
"[at]", "(dot)" and the like; with the words "at" and "dot" when the mailbox looks like
one (a known provider, digits or dots in the name, a role such as "info", a shouted
"AT", or the word "email" nearby: "got it at asda dot com" passes); and a provider named
with a user name ("gmail: jo.b", "my yahoo is kev_1985").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from . import emails, phones
from .cues import has_phone_cue, is_reference_labelled

__all__ = ["Finding", "describe", "find_contacts", "redact"]

Kind = Literal["phone", "email"]
MARKERS: dict[str, str] = {"phone": "[number removed]", "email": "[email removed]"}
_DIGIT = re.compile(r"\d")
_MIN_DIGITS_TO_MATCH = 7


@dataclass(frozen=True, slots=True)
class Finding:
    """One contact detail: `text[start:end]`, of a kind, written in a way (`how`)."""

    kind: Kind
    start: int
    end: int
    how: str


def find_contacts(text: str, regions: Sequence[str] = ("GB", "US")) -> list[Finding]:
    """Phone numbers and e-mail addresses in `text`, in order, none overlapping."""
    regions = tuple(region.upper() for region in regions)
    cue = has_phone_cue(text)
    found: list[Finding] = []
    if len(_DIGIT.findall(text)) >= _MIN_DIGITS_TO_MATCH:
        for start, end in phones.matched(text, regions):
            if cue or not is_reference_labelled(text, start):
                found.append(Finding("phone", start, end, "plain"))
    for start, end, how in phones.disguised(text, regions, cue):
        found.append(Finding("phone", start, end, how))
    for start, end, how in emails.find(text):
        found.append(Finding("email", start, end, how))
    return [_with_marks(text, finding) for finding in _merge(found)]


def _with_marks(text: str, finding: Finding) -> Finding:
    """Take in the marks that belong to the last character (a keycap's "⃣")."""
    end = finding.end
    while end < len(text) and unicodedata.category(text[end]) in ("Mn", "Me", "Cf"):
        end += 1
    return finding if end == finding.end else Finding(finding.kind, finding.start, end, finding.how)


def _merge(found: list[Finding]) -> list[Finding]:
    """One finding for each stretch of overlapping ones; an e-mail holds its digits."""
    merged: list[Finding] = []
    for finding in sorted(found, key=lambda f: (f.start, -f.end)):
        if merged and finding.start < merged[-1].end:
            last = merged[-1]
            if last.kind != finding.kind:
                kind: Kind = "email"
                how = last.how if last.kind == "email" else finding.how
            else:
                kind, how = last.kind, finding.how if last.how == "plain" else last.how
            merged[-1] = Finding(kind, last.start, max(last.end, finding.end), how)
        else:
            merged.append(finding)
    return merged


def redact(text: str, findings: Sequence[Finding]) -> str:
    """`text` with each finding replaced by its marker and everything else unchanged.

    Findings that overlap (only hand-made ones do) become one marker, an e-mail's if any.
    """
    spans: list[tuple[int, int, str]] = []
    for finding in sorted(findings, key=lambda f: (f.start, f.end)):
        if spans and finding.start < spans[-1][1]:
            start, end, kind = spans[-1]
            kind = "email" if "email" in (kind, finding.kind) else kind
            spans[-1] = (start, max(end, finding.end), kind)
        elif finding.end > finding.start:
            spans.append((finding.start, finding.end, finding.kind))
    parts: list[str] = []
    position = 0
    for start, end, kind in spans:
        parts += [text[position:start], MARKERS[kind]]
        position = end
    parts.append(text[position:])
    return "".join(parts)


_PHONE_HOW = {
    "spaced": "digits spaced out",
    "words": "written in words",
    "mixed": "digits and words mixed",
    "leet": "letters for digits",
    "lines": "split across lines",
    "unicode": "in look-alike digits",
}
_EMAIL_HOW = {
    "spaced": "spaced out",
    "at-dot": "with 'at' and 'dot' in words",
    "bracketed": "with '(at)' or '[dot]'",
    "provider": "as a provider and user name",
}
_NOUNS = {
    "phone": ("a phone number", "phone numbers"),
    "email": ("an e-mail address", "e-mail addresses"),
}


def describe(findings: Sequence[Finding]) -> str:
    """What was found, for staff, without the details themselves.

    "a phone number (written in words) and an e-mail address"
    """
    phrases = []
    for kind, ways in (("phone", _PHONE_HOW), ("email", _EMAIL_HOW)):
        of_kind = [finding for finding in findings if finding.kind == kind]
        if not of_kind:
            continue
        one, many = _NOUNS[kind]
        noun = one if len(of_kind) == 1 else f"{len(of_kind)} {many}"
        hows = list(dict.fromkeys(ways[f.how] for f in of_kind if f.how in ways))
        phrases.append(f"{noun} ({', '.join(hows)})" if hows else noun)
    return " and ".join(phrases) if phrases else "nothing"
