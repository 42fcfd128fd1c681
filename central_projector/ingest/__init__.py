"""Ingest: device uploads in, verified and de-duplicated events committed, the rest quarantined."""
