"""Conformance checks of the family family (stub: filled in by its issue)."""
CHECKS = []
