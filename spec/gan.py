"""Clauses of the gan family (stub: filled in by its issue)."""
CLAUSES = []
