"""The model stack: a page per training job (``genspec train <job>``): its command line (the job's own ``-h``), what
it trains (its module docstring), and the pictures and metrics of a committed run directory.

A run directory is ``docs/runs/<job>/`` (``--runs DIR`` picks another root): whatever ``*.png`` it holds (in any
subfolder) and its ``metrics.json``. Regenerate them with the command :data:`REGENERATE` prints per job.
"""
from __future__ import annotations

import contextlib
import importlib
import inspect
import io
import json
import os
import re
import shutil

from .peers import ROOT
from .text import prose, table

RUNS = os.path.join(ROOT, "docs", "runs")
PRESET = "tiny"
REGENERATE = "genspec docs runs {job}"
"""The command that remakes a job's committed run: ``genspec train <job> --preset tiny`` into a temporary folder,
then its PNGs, JSON and Markdown copied to docs/runs/<job>/ (the checkpoints are left out)."""
KEEP = (".png", ".json", ".md")


def regenerate(jobs_: list[str], root: str = RUNS, log=print) -> None:
    """Run each job at the small preset and keep what the pages show (:data:`KEEP`) under ``root/<job>/``."""
    import tempfile

    from genspec.accelerated import jobs as J
    for job in jobs_:
        with tempfile.TemporaryDirectory(prefix=f"genspec-run-{job}-") as tmp:
            log(f"docs: genspec train {job} --preset {PRESET} --out {tmp}")
            rc = J.JOBS[job](["--out", tmp, "--preset", PRESET])
            if rc:
                raise RuntimeError(f"genspec train {job} exited {rc}")
            dest = os.path.join(root, job)
            shutil.rmtree(dest, ignore_errors=True)
            for d, _, names in os.walk(tmp):
                for n in names:
                    if n.endswith(KEEP):
                        rel = os.path.relpath(os.path.join(d, n), tmp)
                        os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
                        shutil.copyfile(os.path.join(d, n), os.path.join(dest, rel))
            log(f"docs: kept {sum(len(n) for _, _, n in os.walk(dest))} files in {dest}")


def job_module(job: str):
    """The module a job's entry in accelerated/jobs/__init__.py imports its ``main`` from (None if not found)."""
    from genspec.accelerated import jobs
    fn = jobs.JOBS[job]
    try:
        m = re.search(r"from\s+([\w.]+)\s+import\s+main", inspect.getsource(fn))
    except (OSError, TypeError):
        m = None
    if m is not None:
        return importlib.import_module(m.group(1))
    mod = getattr(fn, "__module__", None)     # the registry may hold the job's main itself
    return importlib.import_module(mod) if mod and mod != jobs.__name__ else None


def job_help(job: str) -> str:
    """The job's ``-h`` output, as ``genspec train <job> -h`` prints it."""
    from genspec.conformance.harness.cli import main
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.suppress(SystemExit):
        main(["train", job, "-h"])
    return buf.getvalue()


def docstring_md(doc: str) -> str:
    """A module docstring as Markdown: paragraphs, and its numbered or dashed items as list items."""
    paras = []
    for para in re.split(r"\n\s*\n", doc.strip()):
        items: list[str] = []
        for ln in para.splitlines():
            if re.match(r"\s*(\d+\.|-)\s", ln) or not items:
                items.append(ln.strip())
            else:
                items[-1] += " " + ln.strip()
        paras.append("\n".join(re.sub(r"^(\d+\.|-)\s+(.*)$", lambda m: f"{m.group(1)} {prose(m.group(2))}", it)
                               if re.match(r"(\d+\.|-)\s", it) else prose(it) for it in items))
    return "\n\n".join(paras)


def _scalar(v) -> bool:
    return isinstance(v, (int, float, str, bool)) or v is None or _flat(v)


def _flat(v) -> bool:
    return isinstance(v, list) and len(v) <= 12 and all(isinstance(x, (int, float, str, bool)) or x is None
                                                       for x in v)


def metrics_md(m, level: int = 4) -> list[str]:
    """metrics.json as tables: scalars in a key | value table, a dict of scalars as one, a dict of such dicts as a
    table with a row per key; anything deeper a heading per key; long lists shortened."""
    if not isinstance(m, dict):
        return [_val(m), ""]
    out: list[str] = []
    flat = {k: v for k, v in m.items() if _scalar(v)}
    if flat:
        out += [table(["metric", "value"], [[prose(str(k), True), _val(v)] for k, v in flat.items()])]
    for k, v in m.items():
        if k in flat:
            continue
        out += ["#" * min(level, 6) + f" {prose(str(k))}", ""]
        if isinstance(v, dict) and v and all(isinstance(x, dict) and all(_scalar(y) for y in x.values())
                                             for x in v.values()):
            cols = list(dict.fromkeys(c for x in v.values() for c in x))
            out += [table([""] + [prose(str(c), True) for c in cols],
                          [[f"**{prose(str(r), True)}**"] + [_val(x.get(c, "")) for c in cols] for r, x in v.items()])]
        elif isinstance(v, dict):
            out += metrics_md(v, level + 1)
        else:
            items = v[:12] if isinstance(v, list) else [v]
            out += [f"- {_val(x) if _scalar(x) else prose(json.dumps(x)[:300])}" for x in items]
            if isinstance(v, list) and len(v) > 12:
                out.append(f"- … ({len(v) - 12} more)")
            out.append("")
    return out


def _val(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list):
        return "[" + ", ".join(_val(x) for x in v) + "]"
    return prose(str(v))


def page(job: str, runs: str, img_dir: str) -> str:
    mod = job_module(job)
    doc = inspect.getdoc(mod) if mod is not None else ""
    out = [f"# Training job `{job}`", "", f"`genspec train {job} --out DIR` "
           + (f"(`{mod.__name__}`)" if mod is not None else ""), ""]
    if doc:
        out += ["## What it trains", "", docstring_md(doc), ""]
    out += ["## Command line", "", "```text", job_help(job).rstrip(), "```", ""]
    run = os.path.join(runs, job)
    out += ["## A run", ""]
    if not os.path.isdir(run):
        out += [f"No run directory `{os.path.relpath(run, ROOT)}` yet: make one with `{REGENERATE.format(job=job)}`.",
                ""]
        return "\n".join(out)
    out += [f"From the committed run `{os.path.relpath(run, ROOT)}`, made with `{REGENERATE.format(job=job)}` "
            f"(`genspec train {job} --preset {PRESET}`: a small preset, so the pictures show the pipeline working, "
            "not the quality of a full run).", ""]
    files = sorted(os.path.relpath(os.path.join(d, n), run) for d, _, ns in os.walk(run) for n in ns)
    for rel in (f for f in files if f.endswith(".json")):
        with open(os.path.join(run, rel), encoding="utf-8") as f:
            out += [f"### Metrics: `{rel}`", ""] + metrics_md(json.load(f)) + [""]
    for rel in (f for f in files if f.endswith(".md")):
        with open(os.path.join(run, rel), encoding="utf-8") as f:
            out += [f"### `{rel}`", "", f.read(), ""]
    pngs = [f for f in files if f.lower().endswith(".png")]
    if pngs:
        out += ["### Pictures", "", '<div class="gallery" markdown>', ""]
    for rel in pngs:
        dest = f"run_{job}_" + rel.replace(os.sep, "_")
        shutil.copyfile(os.path.join(run, rel), os.path.join(img_dir, dest))
        out += ["<figure markdown>", "", f"![{rel}](../img/{dest})", "", f"<figcaption>{rel}</figcaption>",
                "</figure>", ""]
    if pngs:
        out += ["</div>", ""]
    return "\n".join(out)


def jobs() -> list[str]:
    from genspec.accelerated import jobs as J
    return sorted(J.JOBS)
