"""What a participant's text may become before it is forwarded: at most the forward
cap, and, under CONTACT_POLICY, without the phone numbers and e-mail addresses the
contact guard (`contacts`) finds in the participants' regions.

Plain functions over the text, no database: screening costs no round trip. Staff
messages are not screened (staff know what they send); neither are keywords.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ..models import Participant, Screening
from ..phone import region_of
from .contacts import describe, find_contacts, redact
from .limits import MAX_BODY_LENGTH

Policy = Literal["off", "redact", "hold"]
POLICIES: tuple[Policy, ...] = ("off", "redact", "hold")

# A forwarded text is at most this long; the message keeps all that was received.
FORWARD_CAP = MAX_BODY_LENGTH
FALLBACK_REGIONS = ("GB", "US")
_NOTE_LENGTH = 200


@dataclass(frozen=True)
class Screened:
    text: str  # what may be forwarded: capped, and redacted when the policy says so
    action: str | None = None  # Screening.redacted or Screening.held; None: as written
    note: str | None = None  # what was found, in words


def regions_of(participants: Iterable[Participant]) -> tuple[str, ...]:
    """The regions whose number formats a text in this chat is read in."""
    found = sorted({region_of(p.real_number) for p in participants} - {"ZZ"})
    return tuple(found) or FALLBACK_REGIONS


def capped(text: str) -> str:
    return text if len(text) <= FORWARD_CAP else text[: FORWARD_CAP - 1] + "…"


def is_capped(text: str) -> bool:
    """Whether forwarding `text` cut it at FORWARD_CAP (the transcript says so)."""
    return len(text) > FORWARD_CAP


def screen(text: str, regions: tuple[str, ...], policy: Policy) -> Screened:
    """The text to forward and what screening did. Only the part that can be forwarded
    is read, so a huge text costs no more than a long one."""
    text = capped(text)
    if policy == "off":
        return Screened(text)
    findings = find_contacts(text, regions)
    if not findings:
        return Screened(text)
    note = describe(findings)[:_NOTE_LENGTH]
    if policy == "hold":
        return Screened(text, Screening.held, note)
    return Screened(redact(text, findings), Screening.redacted, note)


def sms_name(participant: Participant, regions: tuple[str, ...], policy: Policy) -> str:
    """A participant's name as other participants read it in SMS (group prefixes,
    intro texts): names come from integrations, which may take them from users, so
    contact details in them are removed whenever the policy is on (never held)."""
    name = participant.display_name
    if policy == "off":
        return name
    findings = find_contacts(name, regions)
    return redact(name, findings) if findings else name


def forward_body(
    author: Participant, everyone: list[Participant], text: str, policy: Policy
) -> str:
    """The SMS each recipient gets: in a group, everyone hears everyone through one
    number, so the text says who wrote."""
    if len(everyone) <= 2:
        return text
    return f"{sms_name(author, regions_of(everyone), policy)}: {text}"
