"""Conformance checks of the optimal family (stub: filled in by its issue)."""
CHECKS = []
