"""The central system of record: devices and their keys, verified events, quarantine, outbox."""
