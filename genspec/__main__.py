"""``python -m genspec ...`` is ``genspec ...``."""
import sys

from genspec.conformance.harness.cli import main

sys.exit(main())
