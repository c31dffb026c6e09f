"""Conformance checks of the gan family (stub: filled in by its issue)."""
CHECKS = []
