"""Conformance checks of the cond family (stub: filled in by its issue)."""
CHECKS = []
