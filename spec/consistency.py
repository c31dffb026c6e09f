"""Clauses of the consistency family (stub: filled in by its issue)."""
CLAUSES = []
