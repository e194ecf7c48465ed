"""What a search query means, and the short extract of a message shown for a hit.

A query is its words (runs of letters and digits, as both databases' tokenizers cut
text): every word must be in the message, as a whole word or the start of one
("arriv" finds "arriving"). Anything else typed (quotes, stars, brackets, minus
signs, the databases' own query syntax) separates words and is never passed on, so no
query can be a syntax error. One-letter words match whole words only: as a prefix they
would match nearly every message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_QUERY_LENGTH = 200
MAX_WORDS = 8
SNIPPET_LENGTH = 140
_WORD = re.compile(r"[^\W_]+")


def query_words(text: str) -> list[str]:
    """The distinct words of a query, lower case, at most MAX_WORDS."""
    found = dict.fromkeys(word.lower() for word in _WORD.findall(text))
    return list(found)[:MAX_WORDS]


def fts5_match(words: list[str]) -> str:
    """An FTS5 MATCH expression: each word quoted (words hold no quote), most as prefixes."""
    return " ".join(f'"{word}"*' if len(word) > 1 else f'"{word}"' for word in words)


def tsquery(words: list[str]) -> str:
    """A PostgreSQL to_tsquery text: each word quoted, most as prefixes, all required."""
    return " & ".join(f"'{word}':*" if len(word) > 1 else f"'{word}'" for word in words)


@dataclass(frozen=True)
class Snippet:
    """A short extract of a body: its parts in order, each marked when it matched."""

    parts: tuple[tuple[str, bool], ...]

    @property
    def text(self) -> str:
        return "".join(part for part, _ in self.parts)

    @property
    def highlights(self) -> list[tuple[int, int]]:
        """(start, end) offsets of the matched parts in `text`."""
        spans, at = [], 0
        for part, matched in self.parts:
            if matched:
                spans.append((at, at + len(part)))
            at += len(part)
        return spans


def snippet(body: str, words: list[str], length: int = SNIPPET_LENGTH) -> Snippet:
    """Up to `length` characters of `body` around its first match, matches marked; the
    start of the body when no word is found in it (a search by number)."""
    body = " ".join(body.split())
    pattern = _pattern(words)
    first = pattern.search(body) if pattern else None
    start = 0
    if first is not None and first.start() > length // 3:
        start = body.rfind(" ", 0, first.start() - length // 3) + 1
    end = min(len(body), start + length)
    if end < len(body) and " " in body[start + length // 2 : end]:
        end = body.rfind(" ", start + length // 2, end)
    window = body[start:end]
    parts: list[tuple[str, bool]] = [("…", False)] if start > 0 else []
    at = 0
    for match in pattern.finditer(window) if pattern else ():
        parts += [(window[at : match.start()], False), (match.group(), True)]
        at = match.end()
    parts.append((window[at:], False))
    if end < len(body):
        parts.append(("…", False))
    return Snippet(tuple((text, marked) for text, marked in parts if text))


def _pattern(words: list[str]) -> re.Pattern[str] | None:
    if not words:
        return None
    alternatives = "|".join(
        re.escape(word) + (r"[^\W_]*" if len(word) > 1 else r"(?![^\W_])")
        for word in sorted(words, key=len, reverse=True)
    )
    return re.compile(rf"(?<![^\W_])(?:{alternatives})", re.IGNORECASE)
