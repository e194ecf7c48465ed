"""The contact-leak guard: what it finds, what it leaves alone, and how it redacts."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsproxy.proxy.contacts import MARKERS, Finding, describe, find_contacts, redact
from tests.benchmarks import contact_guard

# "07946 300172" in full-width digits, as a phone's wide keyboard types them.
FULL_WIDTH = "07946 300172".translate({ord(d): 0xFF10 + int(d) for d in "0123456789"})


def found(text: str, regions: tuple[str, ...] = ("GB", "US")) -> list[tuple[str, str, str]]:
    return [(f.kind, f.how, text[f.start : f.end]) for f in find_contacts(text, regions)]


@pytest.mark.parametrize(
    ("text", "how", "number"),
    [
        ("Call me on 07946 300172 tonight", "plain", "07946 300172"),
        ("text 415-555-0134 when you're here", "plain", "415-555-0134"),
        ("whatsapp +44 7946 300 172", "plain", "+44 7946 300 172"),
        ("ring (0113) 496 0558", "plain", "(0113) 496 0558"),
        ("ring me 0 7 9 4 6 3 0 0 1 7 2 ok", "spaced", "0 7 9 4 6 3 0 0 1 7 2"),
        ("0.7.9.4.6.3.0.0.1.7.2", "spaced", "0.7.9.4.6.3.0.0.1.7.2"),
        ("num 0-7-9-4-6-3-0-0-1-7-2", "spaced", "0-7-9-4-6-3-0-0-1-7-2"),
        ("4 1 5 5 5 5 0 1 3 4 text me", "spaced", "4 1 5 5 5 5 0 1 3 4"),
        ("its zero seven nine four six three zero zero one seven two", "words",
         "zero seven nine four six three zero zero one seven two"),
        ("oh seven nine four six, three oh oh, one seven two x", "words",
         "oh seven nine four six, three oh oh, one seven two"),
        ("oh seven nine double one, one two three four five six", "words",
         "oh seven nine double one, one two three four five six"),
        ("four one five triple five oh one three four", "words",
         "four one five triple five oh one three four"),
        ("four one five, five fifty five, oh one three four", "words",
         "four one five, five fifty five, oh one three four"),
        ("plus four four seven nine four six three zero zero one seven two", "words",
         "plus four four seven nine four six three zero zero one seven two"),
        ("call 07nine46 three00 172", "mixed", "07nine46 three00 172"),
        ("415 five five five 0134", "mixed", "415 five five five 0134"),
        ("O7946 3OO l72 whatsapp", "leet", "O7946 3OO l72"),
        ("415 555 O134", "leet", "415 555 O134"),
        ("07946\n300\n172", "lines", "07946\n300\n172"),
        (FULL_WIDTH, "unicode", FULL_WIDTH),
        ("0️⃣7️⃣9️⃣4️⃣6️⃣3️⃣0️⃣0️⃣1️⃣7️⃣2️⃣", "unicode", "0️⃣7️⃣9️⃣4️⃣6️⃣3️⃣0️⃣0️⃣1️⃣7️⃣2️⃣"),
        ("wa.me/447946300172", "plain", "447946300172"),
        # Not a valid range, but a cue says it is a number to call.
        ("call 07700 900123 when here", "plain", "07700 900123"),
    ],
)  # fmt: skip
def test_finds_phone_numbers_however_written(text: str, how: str, number: str) -> None:
    assert found(text) == [("phone", how, number)]


@pytest.mark.parametrize(
    ("text", "how", "address"),
    [
        ("mail jo.bloggs+sms@example.co.uk thanks", "plain", "jo.bloggs+sms@example.co.uk"),
        ("JO@GMAIL.COM", "plain", "JO@GMAIL.COM"),
        ("jo.bloggs@gmail", "plain", "jo.bloggs@gmail"),
        ("jo dot bloggs at gmail dot com", "at-dot", "jo dot bloggs at gmail dot com"),
        ("jo.bloggs at gmail.com", "at-dot", "jo.bloggs at gmail.com"),
        ("jo.bloggs at hotmail", "at-dot", "jo.bloggs at hotmail"),
        ("info AT smithjoinery DOT co DOT uk", "at-dot", "info AT smithjoinery DOT co DOT uk"),
        ("email me: jo at smithjoinery dot com", "at-dot", "jo at smithjoinery dot com"),
        ("jo (at) example (dot) com", "bracketed", "jo (at) example (dot) com"),
        ("jo[at]example[dot]co[dot]uk", "bracketed", "jo[at]example[dot]co[dot]uk"),
        ("jo @ example . com", "spaced", "jo @ example . com"),
        ("gmail: jo.bloggs", "provider", "gmail: jo.bloggs"),
        ("my yahoo is jo_b1985 x", "provider", "yahoo is jo_b1985"),
    ],
)
def test_finds_email_addresses_however_written(text: str, how: str, address: str) -> None:
    assert found(text) == [("email", how, address)]


@pytest.mark.parametrize(
    "text",
    [
        # prices
        "That'll be £12.50, card or cash?", "It's $1,299 firm", "45 quid for the lot",
        "prices: 9.99, 12.50, 4.75, 3.20 and 8.60", "the bill was 415.55 and tip 50.13",
        # times
        "the 10:30 is cancelled, I'm on the 11:15", "see you 7pm", "pick up at 18.45",
        "times: 9 30, 10 45, 12 15, 1 30", "between 0800 and 1700 weekdays",
        # dates
        "checkout 12/03/2025 by 10am", "arriving 3rd March", "dob 12.03.1985",
        "Its 10:30-11:30 on 12.03.2025",
        # booking codes, references, tracking and order numbers that are not numbers to call
        "Booking ref BK-884213", "code XJ7K2P", "ABC123 is your code",
        "Your order 40721938475 has been dispatched", "Order 2125550199 is ready for pickup",
        "Account # 3105550123 on the cable bill", "my NHS number is 943 476 5919",
        "USPS 9400 1000 0000 0000 0000 00", "FedEx tracking 7489 2345 1234",
        "UPS 1Z999AA10123456784", "your order #112-4958371-2948571 shipped",
        "ISBN 978-0-14-103614-4", "IBAN GB29 NWBK 6016 1331 9268 19",
        "Reference 2 1 2 5 5 5 0 1 9 9 for the claim",
        # flights
        "Flight BA 2490 from Madrid", "UA901 lands at 6:45pm", "flight EZY eight oh two one",
        # addresses and postcodes
        "221B Baker Street, London NW1 6XE", "1600 Amphitheatre Pkwy, Mountain View CA 94043",
        "Postcode SW1A 1AA", "ZIP is 10001-1234", "zip 90210", "postcode S W 1 A 1 A A",
        # quantities, ratings, percentages, card endings, door codes
        "2 x 500g packs", "3 bags and a buggy", "Rating 4.8 out of 5 from 212 guests",
        "a 20% discount", "card ending 4421", "door code 4471#", "Lockbox code is 0 4 1 9",
        "Door code 2 5 8 0 and the flat is 1 4",
        # words that look like disguises
        "Be there in five, two minutes tops", "Table for two at seven thirty",
        "Flight AA fourteen thirty two lands at nine fifty", "Oh one more thing, bins out Weds",
        "got it at asda dot com for like 20 quid", "Check the listing at zillow dot com",
        "Ordered it at 3am at amazon dot co dot uk", "Jessica at reception has the key",
        "I'm at home dot dot dot waiting", "O2 arena at 7", "reg LB19 XKP",
        "gmail is down again", "my outlook is good", "don't laugh at me", "meet at sky later",
        "I work at aol",
    ],
)  # fmt: skip
def test_leaves_innocent_texts_alone(text: str) -> None:
    assert find_contacts(text) == []


def test_regions_decide_which_national_numbers_count() -> None:
    text = "ring 07946 300172"
    assert found(text, ("GB",)) == [("phone", "plain", "07946 300172")]
    assert found(text, ("US",)) == []
    assert found(text, ("gb",)) == [("phone", "plain", "07946 300172")]
    # With a "+" the region does not matter.
    assert found("ring +44 7946 300172", ("US",)) == [("phone", "plain", "+44 7946 300172")]


def test_a_reference_label_gives_way_to_a_cue() -> None:
    assert find_contacts("Order 2125550199 is ready") == []
    assert found("Order 2125550199, call me about it") == [("phone", "plain", "2125550199")]


def test_digits_a_region_would_not_write_are_no_number() -> None:
    # A GB number written without its 0 is a ten-digit figure, not a GB number.
    assert find_contacts("seven nine four six three zero zero one seven two", ("GB",)) == []


def test_redact_replaces_findings_and_keeps_the_rest_byte_for_byte() -> None:
    text = "Hi 👋, call 07946 300172 or mail jo@example.com.\nBye, room 12 at 7"
    findings = find_contacts(text)
    assert [(f.kind, f.start, f.end) for f in findings] == [
        ("phone", 11, 23),
        ("email", 32, 46),
    ]
    assert redact(text, findings) == (
        "Hi 👋, call [number removed] or mail [email removed].\nBye, room 12 at 7"
    )


def test_redact_swallows_a_keycap_whole() -> None:
    text = "0️⃣7️⃣9️⃣4️⃣6️⃣3️⃣0️⃣0️⃣1️⃣7️⃣2️⃣ 😂"
    assert redact(text, find_contacts(text)) == "[number removed] 😂"


def test_redact_copes_with_unsorted_and_overlapping_findings() -> None:
    text = "abcdefghij"
    findings = [Finding("email", 6, 8, "plain"), Finding("phone", 1, 4, "plain"),
                Finding("phone", 3, 5, "plain")]  # fmt: skip
    assert redact(text, findings) == "a[number removed]f[email removed]ij"


def test_describe_says_what_was_found_without_the_details() -> None:
    text = "zero seven nine four six three zero zero one seven two or jo at gmail dot com"
    findings = find_contacts(text)
    assert describe(findings) == (
        "a phone number (written in words) and an e-mail address (with 'at' and 'dot' in words)"
    )
    two = find_contacts("07946 300172 or 0 7 9 4 6 3 0 0 1 7 3")
    assert describe(two) == "2 phone numbers (digits spaced out)"
    assert describe(find_contacts("call 07946 300172")) == "a phone number"
    assert describe([]) == "nothing"


def test_the_main_corpus_meets_the_targets() -> None:
    rows = contact_guard.load(contact_guard.MAIN)
    tallies = contact_guard.evaluate(rows)
    for tier, (least_recall, most_fp) in contact_guard.TARGETS.items():
        tally = tallies[tier]
        misses = [row.text for row, _ in tally.misses]
        alarms = [row.text for row, _ in tally.false_alarms]
        assert tally.recall >= least_recall, f"{tier} recall {tally.recall:.1%}: {misses}"
        assert tally.false_positive_rate <= most_fp, f"{tier} FP: {alarms}"


def test_the_corpus_is_big_and_balanced_enough_to_mean_something() -> None:
    main = contact_guard.load(contact_guard.MAIN)
    holdout = contact_guard.load(contact_guard.HOLDOUT)
    assert len(main) >= 300
    assert 0.2 <= len(holdout) / len(main) <= 0.4
    for rows in (main, holdout):
        for tier in contact_guard.TIERS:
            for region in ("GB", "US"):
                for leak in (True, False):
                    group = [r for r in rows if (r.tier, r.region, r.leak) == (tier, region, leak)]
                    assert len(group) >= 10, (tier, region, leak)


def test_half_a_number_removed_is_not_caught() -> None:
    row = contact_guard.Row("call 07946 300172", "GB", "plain", True, (("phone", "07946 300172"),))
    assert contact_guard.caught(row, [Finding("phone", 5, 17, "plain")])
    assert not contact_guard.caught(row, [Finding("phone", 5, 10, "plain")])
    assert not contact_guard.caught(row, [Finding("email", 5, 17, "plain")])


# Text of every kind: control characters, lone surrogates, unassigned code points.
any_text = st.text(
    st.one_of(
        st.characters(exclude_categories=()),
        st.characters(categories=["Cs", "Cc", "Mn", "Me", "Cf"]),
        st.sampled_from("0123456789 .-+@()\n"),
    ),
    max_size=300,
)
# Text full of things that are, or look like, contact details.
_PIECES = [
    "07946 300172", "+1 415 555 0134", "0 7 9 4 6", "3 0 0 1 7 2", "oh", "seven", "double",
    "five", "triple", "plus", "four", "fifty", "O7946", "l72", "0\ufe0f\u20e3", "jo", "at",
    "dot", "gmail", "com", "@", ".", "(at)", "[dot]", "£12.50", "10:30", "12/03/2025",
    "Order", "ref", "#", "call", "my number", "\n", ",", "-", "2125550199", "gmail:",
]  # fmt: skip
contact_text = st.lists(st.one_of(st.sampled_from(_PIECES), st.text(max_size=4)), max_size=40).map(
    " ".join
)


def _gaps(text: str, findings: list[Finding]) -> list[str]:
    edges = [0, *(edge for f in findings for edge in (f.start, f.end)), len(text)]
    return [text[a:b] for a, b in zip(edges[::2], edges[1::2], strict=True)]


@settings(max_examples=300)
@given(st.one_of(any_text, contact_text))
def test_findings_are_ordered_apart_and_inside_the_text(text: str) -> None:
    findings = find_contacts(text)
    position = 0
    for finding in findings:
        assert position <= finding.start < finding.end <= len(text)
        assert finding.kind in MARKERS
        position = finding.end
    assert not re.search(r"\d{3,}", describe(findings))


@settings(max_examples=300)
@given(st.one_of(any_text, contact_text))
def test_redact_removes_findings_and_nothing_else(text: str) -> None:
    assert redact(text, []) == text
    findings = find_contacts(text)
    gaps = _gaps(text, findings)
    markers = [MARKERS[f.kind] for f in findings]
    redacted = redact(text, findings)
    assert redacted == "".join(g + m for g, m in zip(gaps, [*markers, ""], strict=True))
    # No digits of a finding survive: every digit run left was already outside them.
    outside = {run for gap in gaps for run in re.findall(r"\d+", gap)}
    assert set(re.findall(r"\d+", redacted)) <= outside
