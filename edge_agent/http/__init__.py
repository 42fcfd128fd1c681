"""The counter's HTTP API on the edge agent: one more entry point beside the CLI.

:func:`~edge_agent.http.app.build_app` makes the ASGI app (teller routes derived from the
event catalog, queries over the rule views, RFC 9457 problems, idempotency keys, access by
loopback or token, the teller page); :mod:`edge_agent.http.server` serves it with uvicorn in
the process's own event loop; :mod:`edge_agent.http.openapi` describes it.
"""
