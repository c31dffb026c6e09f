"""Clauses of the cfg family (stub: filled in by its issue)."""
CLAUSES = []
