"""Conformance checks of the sampler family (stub: filled in by its issue)."""
CHECKS = []
