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
        requestAnimationFrame(() => {
          queued = false;
          // the search marks each query term (<mark>), which cuts TeX that holds it (\text{cfg.combine}) in pieces
          // MathJax cannot find: where a block holds TeX, its marks give way to their text
          for (const m of results.querySelectorAll("mark")) {
            const block = m.parentElement;
            if (block && /\\[\[(]/.test(block.textContent)) { m.replaceWith(m.textContent); block.normalize(); }
          }
          // a preview cut at its length limit can end inside a formula (no closing \] or \)): the formula goes
          for (const art of results.querySelectorAll(".md-search-result__article")) {
            const walk = document.createTreeWalker(art, NodeFilter.SHOW_TEXT);
            let last = null;
            for (let n = walk.nextNode(); n; n = walk.nextNode()) last = n;
            for (const [open, close] of [["\\[", "\\]"], ["\\(", "\\)"]]) {
              const i = last ? last.data.lastIndexOf(open) : -1;
              if (i >= 0 && last.data.indexOf(close, i) < 0) last.data = last.data.slice(0, i) + "…";
            }
          }
          MathJax.typesetPromise([results]);
        });
      }).observe(results, {childList: true, subtree: false});
    })
  }
};
