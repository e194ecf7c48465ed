"""GSM 03.38: which texts fit the 7-bit default alphabet, and how many SMS a text takes.

A text with a single character outside the alphabet (an emoji, a curly quote, most
accented letters) must go as UCS-2, which cuts the room per SMS from 160 to 70.
"""

from __future__ import annotations

# The default alphabet, in code order (0x1B, the escape to the extension table, left out).
BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x20ÆæßÉ"
    "!\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Reached through the escape code, so each costs two septets.
EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE = 160
GSM7_PART = 153  # a multipart SMS spends 7 septets of each part on its header
UCS2_SINGLE = 70
UCS2_PART = 67


def is_gsm7(text: str) -> bool:
    """True when every character is in the default alphabet or its extension table."""
    return all(char in BASIC or char in EXTENSION for char in text)


def segments(text: str) -> int:
    """How many SMS the text is sent as (at least one).

    Parts are filled greedily without splitting an escape pair (GSM-7) or a surrogate
    pair (UCS-2), as handsets and carriers do.
    """
    if is_gsm7(text):
        units = [2 if char in EXTENSION else 1 for char in text]
        return _count(units, GSM7_SINGLE, GSM7_PART)
    units = [2 if ord(char) > 0xFFFF else 1 for char in text]
    return _count(units, UCS2_SINGLE, UCS2_PART)


def _count(units: list[int], single: int, part: int) -> int:
    if sum(units) <= single:
        return 1
    parts, used = 1, 0
    for size in units:
        if used + size > part:
            parts += 1
            used = 0
        used += size
    return parts
