"""E-mail addresses: as written, and spelled out ("jo at gmail dot com")."""

from __future__ import annotations

import re
from collections.abc import Iterator

from .cues import has_email_cue

# Mail providers people name; "jo at gmail" needs no ".com" to be an address.
PROVIDERS = frozenset(
    {
        "gmail",
        "googlemail",
        "hotmail",
        "yahoo",
        "ymail",
        "outlook",
        "icloud",
        "me",
        "aol",
        "protonmail",
        "proton",
        "pm",
        "gmx",
        "live",
        "msn",
        "btinternet",
        "sky",
        "virginmedia",
        "talktalk",
        "comcast",
        "verizon",
        "att",
        "sbcglobal",
        "bellsouth",
        "fastmail",
        "zoho",
        "mail",
        "hey",
        "tutanota",
    }
)
# Providers named on their own stand for their domain ("jo at gmail"); the others are
# English words too ("laugh at me", "meet at sky").
_BARE_PROVIDERS = frozenset(
    {
        "gmail",
        "googlemail",
        "hotmail",
        "ymail",
        "icloud",
        "protonmail",
        "btinternet",
        "yahoo",
        "outlook",
        "aol",
    }
)
# Providers whose name, with a colon or "is", introduces a user name: "gmail: jo.b".
_NAMED_PROVIDERS = "gmail|googlemail|hotmail|yahoo|ymail|outlook|icloud|aol|protonmail|btinternet"
_TLDS = frozenset(
    {
        "com",
        "net",
        "org",
        "edu",
        "gov",
        "mil",
        "int",
        "io",
        "co",
        "uk",
        "us",
        "ca",
        "au",
        "nz",
        "ie",
        "de",
        "fr",
        "es",
        "it",
        "nl",
        "be",
        "ch",
        "at",
        "se",
        "no",
        "dk",
        "fi",
        "pl",
        "pt",
        "in",
        "me",
        "info",
        "biz",
        "app",
        "dev",
        "email",
        "online",
        "xyz",
        "tech",
        "site",
        "store",
        "shop",
        "cloud",
        "ai",
        "tv",
        "eu",
    }
)
# Words that are the thing before "at" in an English sentence, not a mailbox:
# "got it at asda dot com", "see you at ...".
_NOT_MAILBOXES = frozenset(
    {
        "it",
        "me",
        "you",
        "us",
        "him",
        "her",
        "them",
        "this",
        "that",
        "these",
        "those",
        "here",
        "there",
        "home",
        "work",
        "one",
        "ones",
        "all",
        "stuff",
        "thing",
        "things",
        "listing",
        "listings",
        "ad",
        "link",
        "site",
        "its",
    }
)
_ROLE_MAILBOXES = frozenset(
    {
        "info",
        "hello",
        "contact",
        "admin",
        "office",
        "sales",
        "bookings",
        "booking",
        "enquiries",
        "enquiry",
        "support",
        "accounts",
        "reception",
        "help",
        "team",
        "mail",
    }
)

_LABEL = r"[a-z0-9](?:[a-z0-9_%+\-]*[a-z0-9])?"
_SYMBOL_AT = "\\s?[@\uff20]\\s?"  # and the full-width at sign
_BRACKET_AT = r"\s?[(\[{<]\s?(?:at|@)\s?[)\]}>]\s?"
_WORD_AT = r"\s+at\s+"
_SYMBOL_DOT = r"\s?\.\s?"
_BRACKET_DOT = r"\s?[(\[{<]\s?dot\s?[)\]}>]\s?"
_WORD_DOT = r"\s+dot\s+"
_DOT = f"(?:{_BRACKET_DOT}|{_WORD_DOT}|{_SYMBOL_DOT})"
_ADDRESS = re.compile(
    rf"(?<![\w@.])(?P<local>{_LABEL}(?:{_DOT}{_LABEL})*)"
    rf"(?P<at>{_BRACKET_AT}|{_SYMBOL_AT}|{_WORD_AT})"
    rf"(?P<domain>{_LABEL}(?:{_DOT}{_LABEL})*)",
    re.IGNORECASE,
)
_DOT_SPLIT = re.compile(_DOT, re.IGNORECASE)
_NAMED = re.compile(
    rf"\b(?P<provider>{_NAMED_PROVIDERS})(?:\s+(?:address|account|addy))?"
    rf"(?P<sep>\s*[:=\-]\s*|\s+is\s+)(?P<user>[a-z0-9][a-z0-9._\-]{{2,}}[a-z0-9])",
    re.IGNORECASE,
)
_ENGLISH_PROVIDERS = frozenset({"outlook", "yahoo"})
_MY_BEFORE = re.compile(r"\bmy\s+$", re.IGNORECASE)
# A time, a count or an ordinal before "at" ("3am at amazon dot co dot uk"), not a name.
_FIGURE = re.compile(r"\d+(?:[.:]\d+)?(?:am|pm|st|nd|rd|th|s|x)?", re.IGNORECASE)


def find(text: str) -> Iterator[tuple[int, int, str]]:
    """Spans of e-mail addresses and how each was written."""
    position = 0
    while (match := _ADDRESS.search(text, position)) is not None:
        found = _judge(text, match)
        if found is None:
            # The words of a refused match may still start an address: "me at jo at ...".
            position = match.start() + 1
            continue
        end, how = found
        yield match.start(), end, how
        position = end
    for match in _NAMED.finditer(text):
        user = match.group("user")
        # "my gmail is jo" names a mailbox; "my outlook is good" does not.
        explicit = ":" in match.group("sep") or (
            match.group("provider").lower() not in _ENGLISH_PROVIDERS
            and _MY_BEFORE.search(text, 0, match.start()) is not None
        )
        if user.lower() in _NOT_MAILBOXES:
            continue
        if explicit or any(ch.isdigit() or ch in "._" for ch in user):
            yield match.start(), match.end(), "provider"


def _judge(text: str, match: re.Match[str]) -> tuple[int, str] | None:
    """Where the address ends and how it was written, or None when it is no address."""
    at = match.group("at").strip().lower()
    labels, dots = _split(match.group("domain"), match.start("domain"))
    # The domain ends at its last top-level domain, or at a mail provider's name.
    end = None
    for count in range(len(labels), 0, -1):
        name, last_end = labels[count - 1]
        if count > 1 and name.lower() in _TLDS:
            end = last_end
            break
    if end is None and labels[0][0].lower() in _BARE_PROVIDERS:
        end = labels[0][1]
    if end is None:
        return None
    written = text[match.start() : end]
    local = match.group("local")
    words = any(dot.strip().lower() == "dot" for dot in dots) or " dot " in local.lower()
    if at == "at":
        if local.lower() in _NOT_MAILBOXES or _FIGURE.fullmatch(local):
            return None
        provider = labels[0][0].lower() in PROVIDERS
        looks_like_user = any(ch.isdigit() or ch in "._" for ch in local) or " dot " in local
        shouted = "AT" in match.group("at") and not local.isupper()
        role = local.lower() in _ROLE_MAILBOXES
        if not (provider or looks_like_user or shouted or role or has_email_cue(text)):
            return None
        return end, "at-dot"
    if at.startswith(("(", "[", "{", "<")):
        return end, "bracketed"
    if " " in written or words:
        return end, "spaced" if not words else "at-dot"
    return end, "plain"


def _split(domain: str, offset: int) -> tuple[list[tuple[str, int]], list[str]]:
    """The labels of a domain with where each ends in the text, and the dots between."""
    labels: list[tuple[str, int]] = []
    dots: list[str] = []
    position = 0
    for dot in _DOT_SPLIT.finditer(domain):
        labels.append((domain[position : dot.start()], offset + dot.start()))
        dots.append(dot.group())
        position = dot.end()
    labels.append((domain[position:], offset + len(domain)))
    return labels, dots
