// MathJax 3 (SVG output, shipped in this site under mathjax/): typeset what pymdownx.arithmatex marked, and the
// search results' previews (Material writes them as text, so their TeX is typeset when they appear)
window.MathJax = {
  tex: {inlineMath: [["\\(", "\\)"]], displayMath: [["\\[", "\\]"]], processEscapes: false, processEnvironments: true},
  options: {ignoreHtmlClass: ".*|", processHtmlClass: "arithmatex|md-search-result__article"},
  svg: {fontCache: "global"},
  startup: {
    pageReady: () => MathJax.startup.defaultPageReady().then(() => {
      const results = document.querySelector(".md-search-result__list");
      if (!results) return;
      let queued = false;
      new MutationObserver(() => {
        if (queued) return;
        queued = true;
        requestAnimationFrame(() => { queued = false; MathJax.typesetPromise([results]); });
      }).observe(results, {childList: true, subtree: false});
    })
  }
};
