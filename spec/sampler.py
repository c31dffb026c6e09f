"""Clauses of the sampler family (stub: filled in by its issue)."""
CLAUSES = []
