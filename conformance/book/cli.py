"""``genspec docs build DIR`` / ``genspec docs runs [JOB ...]``: registered on genspec's parser without importing the
generator (it loads only when the command runs)."""
from __future__ import annotations

import sys

from genspec.spec.errors import GenspecError


def _main(a) -> int:
    from . import build as B
    from . import clause_page as C
    from . import stack as S
    if a.action == "runs":
        jobs = a.dir or S.jobs()
        bad = sorted(set(jobs) - set(S.jobs()))
        if bad:
            raise GenspecError(f"genspec docs runs: unknown job(s) {', '.join(bad)}; jobs: {', '.join(S.jobs())}")
        S.regenerate(jobs, a.runs or S.RUNS)
        return 0
    if len(a.dir) != 1:
        raise GenspecError("genspec docs build: give one output folder DIR")
    a.dir = a.dir[0]
    try:
        B.build(a.dir, quick=a.quick, matrix=a.matrix, runs=a.runs)
    except C.ExampleFailed as e:
        print(f"genspec: error: {e}", file=sys.stderr)
        return 1
    except ImportError as e:
        raise GenspecError(f"genspec docs needs the docs extra: pip install -e \".[docs]\" -c peers-constraints.txt "
                           f"({e})") from None
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("docs", help="build the documentation site (a page per clause; needs the [docs] extra)",
                       description="genspec docs build DIR: the reference as a static site; serve it with "
                                   "python -m http.server -d DIR. genspec docs runs [JOB ...]: remake the training "
                                   "runs the model-stack pages show (docs/runs/<job>/, a small preset)")
    p.add_argument("action", choices=["build", "runs"])
    p.add_argument("dir", nargs="*", metavar="DIR|JOB", help="build: the output folder (created); runs: the jobs "
                   "(default: all)")
    p.add_argument("--quick", action="store_true", help="a few clause pages, figures and one job page (tests)")
    p.add_argument("--matrix", metavar="PATH", help="a `genspec matrix --out DIR` folder or its matrix.json "
                   "(default: README.md's recorded matrix)")
    p.add_argument("--runs", metavar="DIR", help="the training runs' root, DIR/<job>/ (default: docs/runs)")
    p.set_defaults(fn=_main)
