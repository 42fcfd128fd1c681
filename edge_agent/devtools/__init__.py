"""Development tooling: a realistic workload simulator and a bad-network link emulator."""
