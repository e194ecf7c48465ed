"""The outbox: each SMS to send is a Delivery row, queued in the transaction that
caused it (`enqueue`), leased to a sender (`claims`), and settled by the carrier's
answer (`results`) and its delivery receipts (`receipts`)."""
