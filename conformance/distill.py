"""Conformance checks of the distill family (stub: filled in by its issue)."""
CHECKS = []
