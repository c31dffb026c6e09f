"""Conformance checks of the rf family (stub: filled in by its issue)."""
CHECKS = []
