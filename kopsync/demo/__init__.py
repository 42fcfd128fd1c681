"""``kopsync demo``: several cooperatives of Central and East Kalimantan, offline and online.

Layout: :mod:`~kopsync.demo.places` (the cooperatives), :mod:`~kopsync.demo.scenario` (the
plan, pure data), :mod:`~kopsync.demo.processes` (the NATS server, ingest and fan-out as child
processes), :mod:`~kopsync.demo.act` (carrying out the plan), :mod:`~kopsync.demo.summary` and
:mod:`~kopsync.cli.demo`.
"""
