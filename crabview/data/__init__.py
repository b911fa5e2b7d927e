"""The store as data: SQL tables (DuckDB) and OpenTelemetry traces.

Everything here is built from the core's verdicts (``crabview.store``);
nothing decodes a file a second time.
"""
