"""Conformance checks of the vae family (stub: filled in by its issue)."""
CHECKS = []
