"""The device's application layer: agent, teller API, replicator, downlink and verification."""
