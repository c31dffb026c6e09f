"""Clauses of the autoregressive family (stub: filled in by its issue)."""
CLAUSES = []
