"""Per-family conformance checks: ``conformance/checks/<family>.py`` declares ``CHECKS = [ClauseChecks(...)]``
for the clauses of ``spec/<family>.py``, mirroring ``reference/<family>.py`` and ``accelerated/<family>.py``."""
