"""Conformance checks of the consistency family (stub: filled in by its issue)."""
CHECKS = []
