"""Widgets of the browser: sessions list, virtual timeline, step detail."""
