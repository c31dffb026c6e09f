"""Conformance checks of the score family (stub: filled in by its issue)."""
CHECKS = []
