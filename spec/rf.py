"""Clauses of the rf family (stub: filled in by its issue)."""
CLAUSES = []
