"""Clauses of the vae family (stub: filled in by its issue)."""
CLAUSES = []
