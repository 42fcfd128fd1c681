"""The device's storage: the durable, signed, hash-chained log and the rule views beside it."""
