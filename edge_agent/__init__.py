"""The cooperative's device: records events offline and replicates them when a link is up.

::

    domain/    pure local business rules over small per-entity views
    adapters/  the durable SQLite log (eventsourcing) and its views
    app/       the agent, the teller API, the replicator and the downlink
    devtools/  the workload simulator and the link emulator, for tests, demos and benchmarks
"""
