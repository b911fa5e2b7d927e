"""Test support: builders, mutators and capability checks (not product code)."""
