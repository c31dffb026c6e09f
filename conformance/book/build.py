"""``genspec docs build DIR``: the Markdown sources, mkdocs.yml and assets, then MkDocs (Material) builds DIR.

Offline: the theme's fonts are off (no Google Fonts), MathJax 3 (SVG output: no web fonts) is copied from the
``django-static-mathjax`` package into DIR/mathjax, the search index is built with the site. ``python -m http.server
-d DIR`` serves it.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import tempfile
import time

from genspec import spec
from genspec.spec.errors import GenspecError
from genspec.spec.schema import SOURCE_TITLES, SOURCES

from . import clause_page as C
from . import figures as F
from . import peers as P
from . import stack as S
from .text import code_span, prose, table

HERE = os.path.dirname(os.path.abspath(__file__))
KIND_TEXT = {"identity": "Identities (proved with sympy)", "property": "Properties (invariants checked on the target)",
             "value": "Values (target equals the reference)"}
QUICK_CLAUSES = ("cfg.combine", "dit.timestep_embedding", "attention.sdpa", "sampler.euler", "ddpm.beta_schedule")
"""A quick build (the tests') writes these clause pages and one job page; a full build writes every one."""


def mathjax_dir() -> str:
    """MathJax 3's es5 folder as the ``django-static-mathjax`` package ships it."""
    found = importlib.util.find_spec("mathjax")
    base = found.submodule_search_locations[0] if found and found.submodule_search_locations else None
    path = os.path.join(base, "static", "mathjax", "es5") if base else ""
    if not os.path.exists(os.path.join(path, "tex-svg.js")):
        raise GenspecError("genspec docs needs MathJax from the django-static-mathjax package: "
                           "pip install -e \".[docs]\" -c peers-constraints.txt")
    return path


def _copy_mathjax(dest: str) -> None:
    src = mathjax_dir()
    os.makedirs(dest, exist_ok=True)
    shutil.copyfile(os.path.join(src, "tex-svg.js"), os.path.join(dest, "tex-svg.js"))
    for sub in ("input", "ui", "a11y", "adaptors", os.path.join("output", "svg")):
        if os.path.isdir(os.path.join(src, sub)):
            shutil.copytree(os.path.join(src, sub), os.path.join(dest, sub), dirs_exist_ok=True)


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def _clause_link(cid: str, frm: str = "..") -> str:
    return f"[`{cid}`]({frm}/clauses/{cid}.md)"


def sources(src: str, quick: bool = False, matrix: str | None = None, runs: str | None = None,
            log=print) -> dict:
    """Write the Markdown sources and assets under ``src``; returns the nav."""
    ids = [c for c in spec.CLAUSES if not quick or c in QUICK_CLAUSES]
    fams = [f for f in spec.FAMILIES if any(spec.module_of(c) == f for c in ids)]
    m = P.load(matrix)
    t0 = time.perf_counter()
    pics = F.draw_all(os.path.join(src, "img"), quick=quick)
    log(f"docs: {len(os.listdir(os.path.join(src, 'img')))} pictures drawn in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    for cid in ids:
        c = spec.get(cid)
        _write(os.path.join(src, "clauses", f"{cid}.md"), C.page(c, m, pics.get(cid, []), C.run_example(cid)))
    log(f"docs: {len(ids)} clause pages (worked examples run) in {time.perf_counter() - t0:.1f} s")
    nav_fams = []
    for fam in fams:
        mine = [c for c in ids if spec.module_of(c) == fam]
        figs = list(dict.fromkeys(p for c in mine for p in pics.get(c, [])))
        body = [f"# Family `{fam}`", "", f"Declared in `spec/{fam}.py`, implemented in `reference/{fam}.py` and "
                f"`accelerated/{fam}.py`, checked by `conformance/checks/{fam}.py`.", "",
                table(["clause", "title", "kind"], [[_clause_link(c), prose(spec.get(c).title, True),
                                                     ", ".join(spec.get(c).kind)] for c in mine])]
        body += [f"![{prose(cap)}](../img/{f})\n\n*{prose(cap)}*\n" for f, cap in figs]
        _write(os.path.join(src, "families", f"{fam}.md"), "\n".join(body))
        nav_fams.append({fam: [f"families/{fam}.md"] + [{c: f"clauses/{c}.md"} for c in mine]})
    # the indexes
    by_src: dict[str, list[tuple[str, str]]] = {}
    for cid in ids:
        for p in spec.get(cid).provenance:
            key = p.source if not p.source.startswith("external:") else "external"
            by_src.setdefault(key, []).append((cid, p.quote))
    out = ["# Index by source note", "", "Every clause under each note it is drawn from, with the quote.", ""]
    for key in [*SOURCES, "external"]:
        if key not in by_src:
            continue
        head = f"[{key}] {SOURCE_TITLES[key]} (`{SOURCES[key]}`)" if key in SOURCES else "External sources"
        out += [f"## {prose(head)}", "", table(["clause", "quote"], [[_clause_link(c), prose(q, True)]
                                                                   for c, q in by_src[key]])]
    _write(os.path.join(src, "indexes", "sources.md"), "\n".join(out))
    out = ["# Index by kind", ""]
    for k, what in KIND_TEXT.items():
        out += [f"## {what}", "", ", ".join(_clause_link(c) for c in ids if k in spec.get(c).kind), ""]
    _write(os.path.join(src, "indexes", "kinds.md"), "\n".join(out))
    out = ["# Index by family", "", table(["family", "clauses"], [
        [f"[{f}](../families/{f}.md)", ", ".join(_clause_link(c) for c in ids if spec.module_of(c) == f)]
        for f in fams])]
    _write(os.path.join(src, "indexes", "families.md"), "\n".join(out))
    # the model stack
    jobs = S.jobs()[:1] if quick else S.jobs()
    t0 = time.perf_counter()
    for job in jobs:
        _write(os.path.join(src, "models", f"{job}.md"), S.page(job, runs or S.RUNS, os.path.join(src, "img")))
    _write(os.path.join(src, "models", "index.md"), "\n".join([
        "# The model stack", "", "`accelerated/models/` builds models from the accelerated clause functions; "
        "`genspec train <job> --out DIR` trains one on data made in code and writes PNGs and `metrics.json`.", "",
        table(["job", "page"], [[code_span(j), f"[{j}]({j}.md)"] for j in jobs])]))
    log(f"docs: {len(jobs)} job pages in {time.perf_counter() - t0:.1f} s")
    # the home page
    _write(os.path.join(src, "index.md"), "\n".join([
        "# genspec: the reference as a book", "",
        f"One page per clause of the specification (spec {spec.SPEC_VERSION}, {len(spec.CLAUSES)} clauses), generated "
        "from the same records the conformance suite runs: the statement, where it comes from, its symbols, "
        "conventions and tolerances, the reference and accelerated code, the call a target receives, a worked "
        "example run when the site was built, and how the real libraries fare on it.", "",
        "- [Index by family](indexes/families.md) · [by source note](indexes/sources.md) · "
        "[by kind](indexes/kinds.md)",
        "- [The model stack](models/index.md)", "",
        "Examples: " + ", ".join(_clause_link(c, ".") for c in QUICK_CLAUSES if c in ids) + ".", "",
        "Built with `genspec docs build DIR`; serve it with `python -m http.server -d DIR`."]))
    os.makedirs(os.path.join(src, "assets"), exist_ok=True)
    for n in ("book.css", "mathjax-config.js"):
        shutil.copyfile(os.path.join(HERE, "assets", n), os.path.join(src, "assets", n))
    _copy_mathjax(os.path.join(src, "mathjax"))
    return {"nav": [{"Home": "index.md"},
                    {"Indexes": ["indexes/families.md", "indexes/sources.md", "indexes/kinds.md"]},
                    {"Families": nav_fams},
                    {"Model stack": ["models/index.md"] + [f"models/{j}.md" for j in jobs]}]}


def config(src: str, site: str, nav: dict) -> dict:
    return {
        "site_name": "genspec — the reference as a book",
        "docs_dir": src, "site_dir": site, "use_directory_urls": True, "strict": False,
        "theme": {"name": "material", "font": False,
                  "features": ["navigation.sections", "navigation.indexes", "navigation.top", "search.highlight",
                               "content.code.copy", "toc.follow"],
                  "palette": {"scheme": "default", "primary": "indigo", "accent": "indigo"}},
        "plugins": [{"search": {"separator": r"[\s\-,:!=\[\]()\"/]+"}}],
        "markdown_extensions": ["tables", "admonition", "attr_list", "md_in_html", "footnotes",
                                {"toc": {"permalink": True}},
                                {"pymdownx.arithmatex": {"generic": True}},
                                {"pymdownx.highlight": {"use_pygments": True}}, "pymdownx.superfences",
                                "pymdownx.details"],
        "extra_javascript": ["assets/mathjax-config.js", "mathjax/tex-svg.js"],
        "extra_css": ["assets/book.css"],
        **nav,
    }


def build(site: str, quick: bool = False, matrix: str | None = None, runs: str | None = None, log=print) -> float:
    """Build the site into ``site``; returns the seconds it took."""
    from mkdocs.commands.build import build as mk_build
    from mkdocs.config import load_config
    t0 = time.perf_counter()
    site = os.path.abspath(site)
    if os.path.isdir(site) and os.listdir(site) and not os.path.exists(os.path.join(site, "search",
                                                                                   "search_index.json")):
        raise GenspecError(f"genspec docs build: {site} is not empty and holds no earlier site (MkDocs empties its "
                           "output folder): give a new or empty folder")
    with tempfile.TemporaryDirectory(prefix="genspec-docs-") as tmp:
        src = os.path.join(tmp, "docs")
        nav = sources(src, quick=quick, matrix=matrix, runs=runs, log=log)
        cfg_path = os.path.join(tmp, "mkdocs.yml")
        with open(cfg_path, "w", encoding="utf-8") as f:
            json.dump(config(src, site, nav), f, indent=1)   # JSON is YAML
        t1 = time.perf_counter()
        mk_build(load_config(config_file=cfg_path))
        log(f"docs: mkdocs built {site} in {time.perf_counter() - t1:.1f} s")
    dt = time.perf_counter() - t0
    log(f"docs: done in {dt:.1f} s; serve it with: python -m http.server -d {site}")
    return dt
