"""Integrations: signed events to integrators' webhook endpoints.

    endpoints.py      the endpoints (URL, event types, signing secret) and their rules
    urls.py           which URLs an endpoint may have (https, or loopback for development)
    signing.py        whsec_ secrets, sealed at rest, and Standard Webhooks signatures
    subscriptions.py  the outbox's front: in the transaction of the change that caused
                      an event, one row per subscribed endpoint (`queue_deliveries`)
    claims.py         leasing due rows per endpoint, so several processes share the work
    results.py        what an attempt means: delivered, retried with backoff, given up,
                      and an endpoint failing for days disabled
    dispatch.py       the HTTP POST itself, for the worker and for test pings
    history.py        the delivery log, resends, and pruning old rows

The worker that drives them is `workers/webhooks.py`; the composition root wires the
before-commit hook and the worker.
"""
