"""Runs every benchmark module (see benchmarks/__init__.py for the protocol), prints one table of ratios with the
machine it ran on, and writes the rows as JSON.

    python -m genspec.benchmarks [--tiny] [--only NAME ...] [--threads K] [--json PATH]
    genspec bench        (the same options)
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import json
import logging
import os
import pkgutil
import sys
import time
from types import ModuleType

from genspec import benchmarks
from genspec.benchmarks import goal_met
from genspec.spec.errors import GenspecError


class BenchError(GenspecError):
    """Bad use of the bench command: one line, exit status 2."""


def discover() -> dict[str, ModuleType]:
    """{name: module} for every module of this package with a callable run(tiny) (private modules skipped)."""
    found = {}
    for info in pkgutil.iter_modules(benchmarks.__path__):
        if info.name.startswith("_") or info.name == "runner":
            continue
        mod = importlib.import_module(f"genspec.benchmarks.{info.name}")
        if callable(getattr(mod, "run", None)):
            found[info.name] = mod
    return found


def _describe(r: dict) -> str:
    fields = [f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in r.items()
              if k not in ("benchmark", "met") and isinstance(v, (int, float, str)) and not isinstance(v, bool)]
    return ", ".join(fields)


def _cell(v, width: int) -> str:
    if v is None:
        return "—".ljust(width)
    if isinstance(v, bool):
        return ("yes" if v else "NO").ljust(width)
    if isinstance(v, float):
        return f"{v:.2f}".ljust(width)
    return str(v).ljust(width)


def table(rows: list[dict]) -> str:
    """One line per row: benchmark, ratio at the minimum wall time, at the median, at the minimum CPU time, goal, met
    (judged on the wall-time ratio), case; the detail indented below."""
    lines = [f"{'benchmark':16s} {'ratio':7s} {'median':7s} {'cpu':7s} {'goal':7s} {'met':4s} case"]
    for r in rows:
        lines.append(f"{r['benchmark']:16s} {_cell(r.get('ratio'), 7)} {_cell(r.get('median'), 7)} "
                     f"{_cell(r.get('cpu_ratio'), 7)} "
                     f"{_cell(r.get('goal'), 7)} {_cell(r.get('met'), 4)} {r.get('case', '')}")
        if r.get("detail"):
            lines.append(f"{'':16s} {r['detail']}")
    return "\n".join(lines)


def run_all(names: list[str] | None, tiny: bool, echo=print, device: str = "cpu") -> list[dict]:
    mods = discover()
    unknown = [n for n in names or [] if n not in mods]
    if unknown:
        raise BenchError(f"unknown benchmark {', '.join(unknown)}; available: {', '.join(sorted(mods))}")
    rows = []
    for name, mod in sorted(mods.items()):
        if names and name not in names:
            continue
        t0 = time.perf_counter()
        kw = {"device": device} if device != "cpu" else {}
        if kw and "device" not in inspect.signature(mod.run).parameters:
            echo(f"  skipped {name}: its run() has no device argument", file=sys.stderr)
            continue
        for r in mod.run(tiny=tiny, **kw):
            r = {**r, "benchmark": name}
            if tiny and r.get("goal") is not None:   # a goal is a claim about real sizes: not judged at tiny ones
                r["met"] = TINY_MET
            r.setdefault("met", goal_met(r.get("ratio"), r.get("goal")))
            r.setdefault("case", _describe(r))        # a module's own row format: its fields, one line
            rows.append(r)
        echo(f"  ran {name} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return rows


TINY_MET = "n/a"
"""The ``met`` of a row with a goal at tiny sizes: the figures mean nothing there (the header says so)."""


def _description() -> str:
    """The module docstring's first paragraph, on one line (argparse re-wraps it)."""
    return " ".join((__doc__ or "").split("\n\n")[0].split())


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Registers ``bench`` on a subparsers object (genspec's CLI); returns the subparser."""
    p = subparsers.add_parser("bench", help="run every benchmark, print one table of ratios, write JSON",
                              description=_description())
    configure(p)
    p.set_defaults(fn=handle)
    return p


def configure(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tiny", action="store_true", help="tiny sizes (a smoke test: the figures mean nothing)")
    p.add_argument("--only", action="append", metavar="NAME", help="run only this benchmark module (repeatable)")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1: NumPy uses one)")
    p.add_argument("--json", metavar="PATH", help="write the machine and the rows as JSON")
    p.add_argument("--device", default="cpu", help="torch device of the accelerated side (cpu, cuda); modules whose "
                   "run() takes a device argument")


def handle(a) -> int:
    import torch

    from genspec.benchmarks import _machine
    if a.threads < 1:
        raise BenchError(f"--threads must be ≥ 1, got {a.threads}")
    if a.json and not os.path.isdir(os.path.dirname(os.path.abspath(a.json))):
        raise BenchError(f"--json: no directory for {a.json}")
    if a.device != "cpu" and not (a.device.startswith("cuda") and torch.cuda.is_available()):
        raise BenchError(f"--device {a.device}: not available here (torch.cuda.is_available() is "
                         f"{torch.cuda.is_available()})")
    torch.set_num_threads(a.threads)
    # Dynamo's graph-break advice (the DiT's per-block .item()) is known and is not the reader's to act on: the
    # dit_train_step rows say what compile buys as it is
    torch._logging.set_logs(dynamo=logging.ERROR)
    rows = run_all(a.only, a.tiny, echo=lambda *s, **k: print(*s, **k), device=a.device)
    machine = _machine.info(a.tiny)
    tiny = f" (tiny sizes: figures meaningless, goals {TINY_MET} at tiny sizes)" if a.tiny else ""
    print(f"genspec benchmarks{tiny} on {_machine.header(machine)}")
    print(table(rows))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"machine": machine, "tiny": a.tiny, "device": a.device, "rows": rows}, f, indent=1, default=str)
        print(f"wrote {a.json}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m genspec.benchmarks", description=_description())
    configure(p)
    a = p.parse_args(argv)
    try:
        return handle(a)
    except BenchError as e:
        print(f"benchmarks: error: {e}", file=sys.stderr)
        return 2
