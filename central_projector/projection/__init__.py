"""Projection: committed events folded into read models (pure folds, SQL adapters, replay)."""
