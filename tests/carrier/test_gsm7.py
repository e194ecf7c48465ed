from __future__ import annotations

import pytest

from smsproxy.carrier.gsm7 import is_gsm7, segments


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", True),
        ("Hello, your driver is 2 min away!", True),
        ("Prix: 5€ [promo] {code} ~ ^ | \\", True),  # extension table
        ("Ça coûte £3 @ Zürich, señor: ÆØÅ äöü ß", False),  # û is not in GSM-7
        ("Ça va? £3 @ Zürich, señor. ÆØÅ äöü ß ¿¡ §", True),
        ("Tschüss ΔΦΓΛΩΠΨΣΘΞ", True),  # Greek capitals in the basic table
        ("line\nbreak\rreturn", True),
        ("tab\there", False),
        ("emoji 🙂", False),
        ("“curly quotes”", False),
        ("Привет", False),
        ("á", False),
        ("ç", False),  # only the capital Ç is in the table
        ("Ç", True),
    ],
)
def test_is_gsm7(text: str, expected: bool) -> None:
    assert is_gsm7(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("€" * 80, 1),  # 160 septets
        ("€" + "a" * 159, 2),  # 161 septets
        # 152 plain septets then an escape pair: the pair is not split across parts.
        ("a" * 152 + "€" + "a" * 10, 2),
        ("a" * 152 + "€" + "a" * 152, 3),
        ("é" * 160, 1),  # é is GSM-7
        ("ć" * 70, 1),
        ("ć" * 71, 2),
        ("ć" * 134, 2),
        ("ć" * 135, 3),
        ("🙂" * 35, 1),  # 70 UTF-16 units
        ("🙂" * 36, 2),
        # 66 units then a surrogate pair: the pair moves to the next part.
        ("ć" * 66 + "🙂" + "ć" * 10, 2),
        ("ć" * 66 + "🙂" + "ć" * 66, 3),
        ("a" * 200 + "🙂", 4),  # one emoji makes the whole text UCS-2
    ],
)
def test_segments(text: str, expected: int) -> None:
    assert segments(text) == expected
