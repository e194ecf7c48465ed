"""Words around a candidate that say what it is: a phone number, an e-mail, a reference."""

from __future__ import annotations

import re

# Nouns that make the figure after them a reference rather than a number to call.
_REFERENCE_NOUNS = (
    r"order|ref|reference|booking|tracking|track|invoice|inv|confirmation|conf|account|acct"
    r"|acc|policy|claim|case|ticket|parcel|consignment|shipment|item|receipt|transaction|txn"
    r"|serial|sku|reservation|voucher|member(?:ship)?|loyalty|patient|nhs|rx|prescription"
    r"|id|pin|meter|iban|vin|imei|isbn|awb|part|model|product"
)

# Someone giving a way to reach them. Only a leading word boundary: "calling", "texted",
# "ringing" and "callme" are cues too. "My <word> number" is one unless the word makes
# it a reference ("my NHS number", "my order number").
_PHONE_CUE = re.compile(
    r"\b(?:call|ring|phone|text|txt|tel\b|cell|mobile|mob\b|landline|whats\s?app|wa\.me"
    r"|signal\b|telegram|viber|facetime|sms\b|reach\s+me|contact\s+me|get\s+me\s+on"
    r"|hmu\b|hit\s+me\s+up|digits\b|give\s+us\s+a\s+bell"
    rf"|(?:my|his|her|our|their)\s+(?:(?!(?:{_REFERENCE_NOUNS})\b)[a-z']+\s+)?"
    r"(?:number|no\b|num\b|#))",
    re.IGNORECASE,
)

_EMAIL_CUE = re.compile(r"\b(?:e-?mail|mail\s+me|addy\b|inbox\b)", re.IGNORECASE)

# A label naming what follows as a reference of some kind, ending right where the
# candidate starts: "Order 2125550199", "booking ref: 0791...", "Account # 3105550123",
# "#1847".
_REFERENCE_LABEL = re.compile(
    rf"(?:\b(?:{_REFERENCE_NOUNS})"
    r"(?:\s+(?:no\.?|number|num|#|id|code|ref))?(?:\s+is)?|#)\s*[:#.\-]?\s*$",
    re.IGNORECASE,
)

_LABEL_REACH = 40


def has_phone_cue(text: str) -> bool:
    return _PHONE_CUE.search(text) is not None


def has_email_cue(text: str) -> bool:
    return _EMAIL_CUE.search(text) is not None


def is_reference_labelled(text: str, start: int) -> bool:
    """Whether the words just before `start` name what follows as a reference."""
    return _REFERENCE_LABEL.search(text, max(0, start - _LABEL_REACH), start) is not None
