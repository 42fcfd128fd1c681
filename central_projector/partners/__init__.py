"""Partner topics: per-partner streams fed from KOP_EVENTS without personal data in clear.

::

    config        the partners file (TOML): who sees which regions, areas and types, with which key
    pseudonymise  pure: a verified envelope -> the partner's view (HMAC of NIK/KK, names removed)
    routing       pure: which partner gets an event, on which subject, with which de-dup id
    fanout        asyncio service: KOP_EVENTS -> KOP_PARTNER_{ID}, one durable consumer per partner
    tail          the reference subscriber (ordered consumer on the partner streams)
    cli           ``kopsync partner``

This package imports no NATS code at import time, so ``schemas/asyncapi.py`` can read the
pseudonymisation policy from :mod:`central_projector.partners.pseudonymise`.
"""
