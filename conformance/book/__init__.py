"""The reference as a book: ``genspec docs build DIR`` generates a static MkDocs (Material) site from the clause
records the suite runs, so a page cannot disagree with the checks.

- :mod:`.clause_page`: one page per clause (statement, provenance, symbols, conventions, tolerances, declared math,
  the reference code with the math beside it, the accelerated code, the call a target receives, an adapter snippet,
  the executed worked example, the peers' matrix row);
- :mod:`.figures`: the pictures, drawn with matplotlib at build time from the reference and accelerated functions;
- :mod:`.peers`: the conformance matrix rows (README's recorded block, or a ``genspec matrix --out`` JSON) and the
  recorded reasons (conformance/adapters/expected/);
- :mod:`.stack`: a page per training job (its ``-h``, its module docstring, the pictures and metrics of a run
  directory, docs/runs/<job>/ by default);
- :mod:`.build`: the site (Markdown sources, mkdocs.yml, MathJax copied from the ``django-static-mathjax`` package so
  that nothing is loaded from the network); :mod:`.cli` registers ``genspec docs``.

MkDocs with the Material theme rather than Sphinx: the pages are generated Markdown (tables, admonitions, tabs), the
build of ~130 pages takes seconds, and Material ships a client-side full-text search that works from any static
server. Install with ``pip install -e ".[docs]" -c peers-constraints.txt``.
"""
