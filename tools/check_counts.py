"""The number of checks each clause owes (proofs, the derivation check, the value check, properties), as JSON.

    python tools/check_counts.py > counts.json
    python tools/check_counts.py --compare before.json     # fails if any clause lost a check

Issue 8: refactoring must not drop a check.
"""
from __future__ import annotations

import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))


def counts() -> dict[str, int]:
    from genspec import spec
    try:
        from genspec.conformance.harness.registry import checks_for
    except ImportError:                                   # before the harness/ split
        from genspec.conformance.registry import checks_for  # type: ignore[no-redef]
    out = {}
    for cid, c in spec.CLAUSES.items():
        chk = checks_for(cid)
        out[cid] = (len(chk.proofs) + (chk.symbolic is not None) + (c.function is not None) + len(chk.properties))
    return out


def main() -> int:
    now = counts()
    if "--compare" in sys.argv:
        before = json.loads(pathlib.Path(sys.argv[sys.argv.index("--compare") + 1]).read_text())
        lost = {k: (v, now.get(k, 0)) for k, v in before.items() if now.get(k, 0) < v}
        print(f"{sum(before.values())} checks before, {sum(now.values())} now; clauses with fewer: {lost or 'none'}")
        return 1 if lost else 0
    print(json.dumps(now, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
