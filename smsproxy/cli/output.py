"""What the command says: to stderr for people; stdout is kept for what scripts read
(an API key, a password)."""

from __future__ import annotations

import sys


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
