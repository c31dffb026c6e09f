"""The documentation site (`genspec docs build`, conformance/book/): built in quick mode, served with
`python -m http.server`, and opened page by page in headless Chromium (Debian's `chromium`, driven by Playwright;
no browser download). Every page: math rendered (no raw TeX left in the visible text, no MathJax error), no console
error, no failed request, every internal link resolves, every image loads; the search finds `cfg.combine` and
`timestep embedding`.

Skips (with the reason) where the [docs] extra or /usr/bin/chromium is absent; CI installs both (.ci/run).
GENSPEC_DOCS_SITE=DIR checks an already built site (CI checks the full build that way).
"""
from __future__ import annotations

import functools
import http.server
import itertools
import os
import shutil
import threading
from collections import deque
from urllib.parse import urljoin, urlparse

import pytest

pytest.importorskip("mkdocs", reason="the [docs] extra is not installed: pip install -e '.[docs]' -c "
                                      "peers-constraints.txt")
pytest.importorskip("material", reason="mkdocs-material (the [docs] extra) is not installed")
playwright = pytest.importorskip("playwright.sync_api", reason="playwright (the [docs] extra) is not installed")

CHROMIUM = os.environ.get("GENSPEC_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-dev-shm-usage", "--disable-background-timer-throttling",
        "--disable-renderer-backgrounding", "--disable-backgrounding-occluded-windows"]
SCREENS = os.environ.get("GENSPEC_DOCS_SCREENS")
"""where to save screenshots of the cfg.combine, dit.timestep_embedding and a job page (unset: none)"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    given = os.environ.get("GENSPEC_DOCS_SITE")
    if given:
        return given
    from genspec.conformance.book.build import build
    out = str(tmp_path_factory.mktemp("site"))
    build(out, quick=True, log=lambda *_: None)
    return out


@pytest.fixture(scope="module")
def server(site):
    handler = functools.partial(_Quiet, directory=site)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    th = threading.Thread(target=httpd.serve_forever, daemon=True)
    th.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *a):
        pass


@pytest.fixture(scope="module")
def browser():
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM} (Debian: apt-get install -y chromium; CI installs it)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _pages(site: str) -> list[str]:
    return sorted(os.path.relpath(os.path.join(d, "index.html"), site)[:-len("index.html")]
                  for d, _, ns in os.walk(site) if "index.html" in ns and "/mathjax" not in d)


def test_the_quick_site_has_the_pages_it_promises(site):
    pages = _pages(site)
    for p in ("clauses/cfg.combine/", "clauses/dit.timestep_embedding/", "indexes/sources/", "indexes/kinds/",
              "indexes/families/", "models/"):
        assert p in pages
    assert any(p.startswith("models/") and p != "models/" for p in pages)
    with open(os.path.join(site, "clauses", "cfg.combine", "index.html"), encoding="utf-8") as f:
        html = f.read()
    for part in ("Provenance", "Conventions", "Tolerances", "Worked example", "Reference code", "Accelerated code",
                 "The call a target receives", "Peers", "diffusers"):
        assert part in html, part


LABML_FITS = """() => {
  const bad = [];
  for (const cell of document.querySelectorAll('.labml-math')) {
    const box = cell.getBoundingClientRect();
    const code = cell.parentElement.querySelector('.labml-code');
    const beside = 'beside: ' + (code ? code.innerText.trim().split('\\n')[0] : '?').slice(0, 70);
    if (cell.scrollWidth > cell.clientWidth + 1) bad.push('the math column scrolls, ' + beside);
    for (const svg of cell.querySelectorAll('mjx-container > svg')) {
      const r = svg.getBoundingClientRect();
      svg.style.setProperty('max-width', 'none', 'important');   // its own width, before book.css scales it to fit
      const own = svg.getBoundingClientRect().width;
      svg.style.removeProperty('max-width');
      if (r.left < box.left - 1 || r.right > box.right + 1)
        bad.push(`math ${Math.round(r.width)} px wide in a ${Math.round(box.width)} px column, ${beside}`);
      else if (own > 1.25 * box.width)
        bad.push(`math ${Math.round(own)} px shrunk below 80% to fit ${Math.round(box.width)} px, ${beside}`);
    }
  }
  return bad;
}"""
"""every math cell of the labml panel (math beside code) holds its math: nothing wider than its column, none scaled
below 80% of its size to fit (book.css scales a formula a little too wide for its column), no scrolling"""
VIEWPORT = {"width": 1280, "height": 800}


INSPECT = """() => {
  const labml = LABML;
  const q = s => Array.from(document.querySelectorAll(s));
  const art = document.querySelector('article');
  return {
    text: art ? art.innerText : '',
    proofs: q('.proofs').map(e => e.innerText).join('\\n'),
    mjx_errors: q('[data-mjx-error], mjx-merror').length,
    math: q('.arithmatex').length, typeset: q('.arithmatex mjx-container').length,
    labml: labml(),
    sideways: document.documentElement.scrollWidth > document.documentElement.clientWidth + 1,
    broken: Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src),
    hrefs: q('a[href]').map(a => a.href),
    ids: q('[id]').map(e => e.id),
  };
}""".replace("LABML", LABML_FITS)
"""everything a page is checked for, read in one round trip once its math is typeset"""
TABS = int(os.environ.get("GENSPEC_DOCS_TABS", "4"))
"""pages loading at once (each its own renderer): the next pages load and typeset while one is inspected"""


def _listen(page, base: str, problems: list[str]) -> None:
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url} ({r.failure})"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.on("request", lambda r: problems.append(f"network request off the site: {r.url}")
            if not r.url.startswith(base) and not r.url.startswith(("data:", "blob:")) else None)


def _inspect(page, base: str, path: str, site: str, seen_links: set) -> list[str]:
    """The checks of a page that is loading (``goto`` committed): wait for it and its math, then read it."""
    problems: list[str] = []
    page.wait_for_load_state("load")
    page.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise")
    page.evaluate("MathJax.startup.promise")     # typesetting done (and every extension it loaded)
    r = page.evaluate(INSPECT)
    text = r["text"]
    for raw in ("\\frac", "\\mathbb", "$$", "\\("):
        if raw in text:
            problems.append(f"raw TeX {raw!r} in the visible text near: "
                            f"{text[max(0, text.index(raw) - 60):text.index(raw) + 60]!r}")
    if "\\" in r["proofs"] or "$" in r["proofs"]:   # the sympy claims' names are typeset: no TeX, no dollar left
        problems.append(f"raw TeX in the proofs: {r['proofs'][:200]!r}")
    if r["mjx_errors"]:
        problems.append(f"{r['mjx_errors']} MathJax errors")
    if r["math"] and not r["typeset"]:
        problems.append("math left untypeset")
    problems += [f"labml panel: {w}" for w in r["labml"]]
    if r["sideways"]:
        problems.append(f"the page scrolls sideways at {page.viewport_size}")
    problems += [f"image does not load: {s}" for s in r["broken"]]
    ids = set(r["ids"])
    for href in r["hrefs"]:
        u = urlparse(href)
        if not href.startswith(base):
            continue
        target = u._replace(fragment="").geturl()
        if target not in seen_links:
            seen_links.add(target)
            local = os.path.join(site, u.path.lstrip("/"))
            if not (os.path.isfile(local) or os.path.isfile(os.path.join(local, "index.html"))):
                problems.append(f"link does not resolve: {href}")
        if u.fragment and urljoin(base + path, u.path) == base + path.rstrip("/") + "/" and u.fragment not in ids:
            problems.append(f"anchor missing: {href}")
    return problems


def test_every_page_renders_offline_in_chromium(site, server, browser):
    ctx = browser.new_context(viewport=VIEWPORT)
    seen: set = set()
    failures = {}
    pending = iter(_pages(site))
    loading: deque = deque()

    def start(path: str) -> None:
        page = ctx.new_page()
        problems: list[str] = []
        _listen(page, server, problems)
        page.goto(server + path, wait_until="commit")
        loading.append((path, page, problems))

    for path in itertools.islice(pending, TABS):
        start(path)
    while loading:
        path, page, probs = loading.popleft()
        probs += _inspect(page, server, path, site, seen)
        if SCREENS and path in ("clauses/cfg.combine/", "clauses/dit.timestep_embedding/") or (
                SCREENS and path.startswith("models/") and path != "models/"):
            os.makedirs(SCREENS, exist_ok=True)
            page.screenshot(path=os.path.join(SCREENS, path.strip("/").replace("/", "_") + ".png"), full_page=False)
        page.close()
        if probs:
            failures[path] = probs
        nxt = next(pending, None)
        if nxt is not None:
            start(nxt)
    ctx.close()
    assert not failures, "\n".join(f"{p}: {x}" for p, xs in failures.items() for x in xs[:8])


@pytest.mark.parametrize("query, expected", [("cfg.combine", "clauses/cfg.combine/"),
                                             ("timestep embedding", "clauses/dit.timestep_embedding/")])
def test_search_finds(server, browser, query, expected):
    page = browser.new_page()
    page.goto(server, wait_until="load")
    page.wait_for_load_state("networkidle")
    for _ in range(20):      # Material's client-side search (a web worker, lunr) answers once its index is built
        page.fill("input.md-search__input", "")
        page.locator("input.md-search__input").press_sequentially(query)     # typed, key by key
        try:
            page.wait_for_selector(".md-search-result__item", state="attached", timeout=1500)
            break
        except playwright.TimeoutError:
            continue
    hrefs = page.evaluate("Array.from(document.querySelectorAll('.md-search-result__item a')).map(a => a.href)")
    page.wait_for_function("document.querySelector('.md-search-result__list mjx-container') !== null")
    try:                     # results are typeset as they arrive: wait (bounded) until none shows raw TeX
        page.wait_for_function("!/\\\\frac|\\\\\\[/.test(document.querySelector('.md-search-result__list').innerText)",
                               timeout=10_000)
    except playwright.TimeoutError:
        pass                 # the assertion below shows what was left
    previews = page.evaluate("document.querySelector('.md-search-result__list').innerText")
    page.close()
    assert any(expected in h for h in hrefs), hrefs[:10]
    raw = [previews[max(0, i - 150):i + 150] for i in (previews.find("\\frac"), previews.find("\\[")) if i >= 0]
    assert not raw, raw      # the previews' math is typeset
