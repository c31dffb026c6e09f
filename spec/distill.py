"""Clauses of the distill family (stub: filled in by its issue)."""
CLAUSES = []
