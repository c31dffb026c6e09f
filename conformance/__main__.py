"""``python -m genspec.conformance ...`` is ``genspec ...``."""
from .harness.cli import main

raise SystemExit(main())
