"""Test support: writers and builders for tests and benchmarks, apart from product code."""
