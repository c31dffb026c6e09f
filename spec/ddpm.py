"""Clauses of the ddpm family (stub: filled in by its issue)."""
CLAUSES = []
