"""Benchmarks: scripts that print figures, run by hand (README, Speed); not tests."""
