"""The NATS adapter both sides share: connection, credentials, guarded operations, stopping.

The rest of :mod:`sync_core` is pure; this sub-package is where its I/O lives.
"""
