"""Clauses of the optimal family (stub: filled in by its issue)."""
CLAUSES = []
