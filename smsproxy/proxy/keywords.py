"""STOP, START and HELP: texts that are instructions to the service, not to the chat.

A keyword is the whole message, with case and whitespace ignored, as carriers match
them: "stop", " Stop ", "STOP ALL" and "stop\\n" are keywords; "Stop at the corner" is a
message like any other. Keyword texts are recorded for staff but never forwarded.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ..config import keyword_list

# Settings' defaults, for options built without settings (tests, scripts).
STANDARD_OPT_OUT = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT")
STANDARD_OPT_IN = ("START", "UNSTOP")
STANDARD_HELP = ("HELP",)
# No keyword is longer than this once whitespace is gone: longer texts are not read.
_LONGEST_KEYWORD = 32


class KeywordKind(StrEnum):
    opt_out = "opt_out"
    opt_in = "opt_in"
    help = "help"


@dataclass(frozen=True)
class Keyword:
    kind: KeywordKind
    word: str  # as configured: upper case, no whitespace


@dataclass(frozen=True)
class Keywords:
    opt_out: frozenset[str] = frozenset(STANDARD_OPT_OUT)
    opt_in: frozenset[str] = frozenset(STANDARD_OPT_IN)
    help: frozenset[str] = frozenset(STANDARD_HELP)

    @classmethod
    def from_lists(cls, opt_out: str, opt_in: str, help: str) -> Keywords:
        """From the settings' comma-separated lists."""
        return cls(
            frozenset(keyword_list(opt_out)),
            frozenset(keyword_list(opt_in)),
            frozenset(keyword_list(help)),
        )

    def match(self, text: str) -> Keyword | None:
        """The keyword `text` is, or None for an ordinary message."""
        if len(text) > 4 * _LONGEST_KEYWORD:
            return None
        word = "".join(text.split()).upper()
        if not word or len(word) > _LONGEST_KEYWORD:
            return None
        for kind, words in (
            (KeywordKind.opt_out, self.opt_out),
            (KeywordKind.opt_in, self.opt_in),
            (KeywordKind.help, self.help),
        ):
            if word in words:
                return Keyword(kind, word)
        return None


def note_for(keyword: Keyword) -> str:
    """What the keyword did, for the transcript."""
    return {
        KeywordKind.opt_out: f"{keyword.word}: opted out of SMS from every proxy number",
        KeywordKind.opt_in: f"{keyword.word}: opted in to SMS again",
        KeywordKind.help: f"{keyword.word}: answered with the help reply",
    }[keyword.kind]
