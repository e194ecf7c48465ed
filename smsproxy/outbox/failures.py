"""Why an SMS was not delivered, in words staff can act on.

The SMS API's delivery receipts give a bare err-code, explained here from Vonage's
table; the Messages API's statuses bring Vonage's own words (and a code such as 1320),
which are kept as they came (numbers masked by the parser).
"""

from __future__ import annotations

from ..models import CarrierMessage, DeliveryStatus

# Vonage's DLR err-code values, so staff read a reason rather than a number.
ERROR_TEXT = {
    "1": "Unknown error from the handset's network",
    "2": "The handset is off or out of coverage (temporary)",
    "3": "The handset is off or out of coverage (permanent)",
    "4": "The recipient has barred this call or SMS",
    "5": "The number was ported and could not be routed",
    "6": "The network rejected the SMS as spam",
    "7": "The handset was busy",
    "8": "Network error",
    # With Vonage's Opt-Out Assist, the recipient texted STOP to the sending number.
    "9": "The recipient has opted out of SMS from this number",
    "10": "The network rejected the message text",
    "11": "The number cannot be reached from this sender",
    "12": "The destination is unreachable",
    "13": "The recipient is under the age limit for this content",
    "14": "The recipient's network blocked the number",
    "15": "The recipient's prepaid account has no credit",
    "16": "The gateway's quota was exceeded",
    "50": "The recipient's network filtered the SMS (entity filter)",
    "51": "The recipient's network filtered the SMS (sender id filter)",
    "52": "The recipient's network filtered the SMS (content filter)",
    "53": "The recipient's network filtered the SMS (consent filter)",
    "54": "The SMS breaks a local regulation",
    "99": "General error",
}


def describe_failure(status: DeliveryStatus, failed: CarrierMessage | None, parts: int) -> str:
    """The Delivery's error: what happened, to which part, and why as the carrier says.

    `failed` is the carrier message (a part, or the whole SMS) whose receipt decided it;
    `parts` how many parts the SMS was reported in.
    """
    what = {
        DeliveryStatus.failed: "The carrier could not deliver the SMS",
        DeliveryStatus.rejected: "The carrier rejected the SMS",
        DeliveryStatus.expired: "The SMS expired before the handset could take it",
    }.get(status, "The SMS was not delivered")
    if parts > 1 and failed is not None and not failed.whole_message:
        what += f" (at least one of its {parts} parts)"
    code = failed.error_code if failed else None
    said = failed.error_text if failed else None
    if said:
        what += f": {said}" + (f" (error {code})" if code else "")
    elif code:
        reason = ERROR_TEXT.get(code, "see the carrier's error codes")
        what += f": {reason} (error {code})"
    return what[:500]
