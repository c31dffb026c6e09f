"""python -m genspec.benchmarks: every benchmark, one table of ratios, JSON with --json (see benchmarks/runner.py)."""
import sys

from genspec.benchmarks.runner import main

sys.exit(main())
