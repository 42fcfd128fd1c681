"""The province: the record of every device's events, ingest, projection, partners, security.

::

    record/      the system of record: devices, verified events, quarantine, outbox, leases
    ingest/      uploads in: verify, de-duplicate, commit or quarantine; the NATS service
    projection/  committed events -> read models: pure folds, SQL read models, replay, scale-out
    partners/    pseudonymised partner topics fed from the committed events
    security/    NATS users and permissions of devices, partners and the central
    migrations/  the Alembic history of the central database
"""
