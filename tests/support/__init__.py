"""Test support: builders, mutators, writers and capability checks (not product code)."""
