"""Clauses of the schedule family (stub: filled in by its issue)."""
CLAUSES = []
