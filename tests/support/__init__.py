"""Test support: followers, writers and mutators for the tests and benchmarks (not product code)."""
