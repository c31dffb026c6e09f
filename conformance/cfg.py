"""Conformance checks of the cfg family (stub: filled in by its issue)."""
CHECKS = []
