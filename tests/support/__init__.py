"""Test helpers shared by the whole suite: real servers on free ports, started and killed."""
