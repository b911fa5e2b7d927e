"""The Textual browser (``crabview`` / ``crabview demo``). Entry point: ``make_app``."""
