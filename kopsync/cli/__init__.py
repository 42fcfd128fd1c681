"""The `kopsync` command: one module per group of commands (edge, central, partner, admin, ...)."""
