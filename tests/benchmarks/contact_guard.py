"""How well the contact-leak guard does on the labelled corpus, and how fast it is.

    python -m tests.benchmarks.contact_guard [--file F] [--show-errors]

For each file (by default the main corpus and the held-out one, see
tests/corpus/README.md) it prints, per tier and overall, the recall on leaks and the
false-positive rate on innocent texts, with counts, and whether each tier meets its
target. A leak is caught when every letter and digit of each labelled contact lies
inside a finding of its kind (half a number removed is a miss); an innocent text with
any finding is a false alarm. Texts are screened for the regions GB and US together, as
in a chat between a GB and a US participant: the stricter test for false alarms.

It then times `find_contacts` over every text (mean and 99th percentile, in
microseconds, of each text's fastest of five rounds), and the `phonenumbers` matcher
alone, for its share. It exits 0 whether
or not the targets are met; tests/proxy/test_contacts.py holds the main corpus to them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from smsproxy.proxy.contacts import Finding, find_contacts, redact
from smsproxy.proxy.contacts.phones import matched

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
MAIN = CORPUS / "contact_leaks.jsonl"
HOLDOUT = CORPUS / "contact_leaks_holdout.jsonl"
REGIONS = ("GB", "US")
TIERS = ("plain", "obfuscated")
# Tier: (least recall, most false-positive rate).
TARGETS = {"plain": (0.98, 0.02), "obfuscated": (0.70, 0.05)}
TIMING_ROUNDS = 5


@dataclass(frozen=True)
class Row:
    text: str
    region: str
    tier: str
    leak: bool
    contacts: tuple[tuple[str, str], ...]


@dataclass
class Tally:
    leaks: int = 0
    caught: int = 0
    innocent: int = 0
    alarms: int = 0
    misses: list[tuple[Row, list[Finding]]] = field(default_factory=list)
    false_alarms: list[tuple[Row, list[Finding]]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.caught / self.leaks if self.leaks else 1.0

    @property
    def false_positive_rate(self) -> float:
        return self.alarms / self.innocent if self.innocent else 0.0

    def meets(self, tier: str) -> bool:
        least_recall, most_fp = TARGETS[tier]
        return self.recall >= least_recall and self.false_positive_rate <= most_fp


def load(path: Path) -> list[Row]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        data = json.loads(line)
        contacts = tuple((c["kind"], c["text"]) for c in data.get("contacts", ()))
        if data["leak"] != bool(contacts) or data["tier"] not in TIERS:
            raise ValueError(f"{path.name}:{number}: leak, contacts or tier disagree")
        if set(data.get("kinds", ())) != {kind for kind, _ in contacts}:
            raise ValueError(f"{path.name}:{number}: kinds do not match the contacts")
        for _, contact in contacts:
            if contact not in data["text"]:
                raise ValueError(f"{path.name}:{number}: {contact!r} is not in the text")
        rows.append(Row(data["text"], data["region"], data["tier"], data["leak"], contacts))
    return rows


def caught(row: Row, findings: Sequence[Finding]) -> bool:
    """Whether every letter and digit of every labelled contact lies in a finding of its kind."""
    for kind, contact in row.contacts:
        covered = [f for f in findings if f.kind == kind]
        start = row.text.find(contact)
        while start != -1:
            for index in range(start, start + len(contact)):
                if row.text[index].isalnum() and not any(f.start <= index < f.end for f in covered):
                    return False
            start = row.text.find(contact, start + 1)
    return True


def evaluate(rows: Sequence[Row]) -> dict[str, Tally]:
    """A tally per tier and "overall"."""
    tallies = {tier: Tally() for tier in (*TIERS, "overall")}
    for row in rows:
        findings = find_contacts(row.text, REGIONS)
        for tally in (tallies[row.tier], tallies["overall"]):
            if row.leak:
                tally.leaks += 1
                if caught(row, findings):
                    tally.caught += 1
                else:
                    tally.misses.append((row, findings))
            else:
                tally.innocent += 1
                if findings:
                    tally.alarms += 1
                    tally.false_alarms.append((row, findings))
    return tallies


def report(name: str, rows: Sequence[Row], tallies: dict[str, Tally], errors: bool) -> None:
    print(f"\n{name}: {len(rows)} texts, regions {'+'.join(REGIONS)}")
    print(f"  {'tier':<11} {'leaks':>5} {'caught':>6} {'recall':>8}   {'innocent':>8} "
          f"{'alarms':>6} {'FP rate':>8}   target")  # fmt: skip
    for tier, tally in tallies.items():
        if tier in TARGETS:
            least, most = TARGETS[tier]
            verdict = "met" if tally.meets(tier) else "NOT MET"
            target = f"recall >= {least:.0%}, FP <= {most:.0%}: {verdict}"
        else:
            target = ""
        print(f"  {tier:<11} {tally.leaks:>5} {tally.caught:>6} {tally.recall:>8.1%}   "
              f"{tally.innocent:>8} {tally.alarms:>6} {tally.false_positive_rate:>8.1%}   "
              f"{target}")  # fmt: skip
    if errors:
        overall = tallies["overall"]
        for title, cases in (("missed", overall.misses), ("false alarm", overall.false_alarms)):
            for row, findings in cases:
                shown = redact(row.text, findings).replace("\n", "⏎")
                hows = ", ".join(f"{f.kind}/{f.how}" for f in findings) or "nothing found"
                print(f"  {title} [{row.tier} {row.region}] {row.text!r}")
                print(f"      -> {shown!r} ({hows})")


def timings(texts: Sequence[str]) -> None:
    """Mean and p99 microseconds per text, for the guard and for the matcher alone.

    Each text's time is its fastest of several rounds: on a shared machine the other
    rounds measure the neighbours.
    """
    for text in texts:  # warm up: imports, compiled patterns, metadata
        find_contacts(text, REGIONS)
    for label, screen in (
        ("find_contacts", lambda text: find_contacts(text, REGIONS)),
        ("phonenumbers matcher alone", lambda text: list(matched(text, REGIONS))),
    ):
        best = [float("inf")] * len(texts)
        for _ in range(TIMING_ROUNDS):
            for index, text in enumerate(texts):
                began = time.perf_counter_ns()
                screen(text)
                best[index] = min(best[index], (time.perf_counter_ns() - began) / 1000)
        best.sort()
        p99 = best[min(len(best) - 1, int(len(best) * 0.99))]
        print(f"  {label:<27} mean {statistics.fmean(best):6.0f} µs   p99 {p99:6.0f} µs"
              f"   max {best[-1]:6.0f} µs")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.contact_guard",
        description="Recall and false-positive rate of the contact-leak guard, and its speed.",
    )
    parser.add_argument("--file", type=Path, action="append", help="a corpus file (repeatable)")
    parser.add_argument("--show-errors", action="store_true", help="list misses and false alarms")
    args = parser.parse_args(argv)
    files = args.file or [MAIN, HOLDOUT]
    every_text: list[str] = []
    for path in files:
        rows = load(path)
        report(path.name, rows, evaluate(rows), args.show_errors)
        every_text.extend(row.text for row in rows)
    lengths = [len(text) for text in every_text]
    print(f"\nspeed over {len(every_text)} texts, fastest of {TIMING_ROUNDS} rounds each "
          f"(median length {statistics.median(lengths):.0f} characters):")  # fmt: skip
    timings(every_text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
