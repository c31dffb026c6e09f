"""Clauses of the score family (stub: filled in by its issue)."""
CLAUSES = []
