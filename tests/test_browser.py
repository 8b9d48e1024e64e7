"""The rendered book in a real browser: build the HTML from the committed chapters (no
execution), serve it over http on localhost and open every page in headless Chromium (Debian's
``chromium`` and ``chromium-driver``, driven by selenium; `make test` installs them as root).

Per page: no console error, every image loaded, math rendered by MathJax (one MathJax script, from
the site), every CSV / zip link resolves, no table cell cut with "...", every figure numbered
("Fig. N") with a caption and alt text, a provenance line under the tables and figures, headings
that name the paper's tables and figures as the paper's; the landing page shows the findings box,
the verdict grid and what the rest needs (per network its cost and command; the cost table). In
a 1366 px and a 400 px wide window: the page never scrolls sideways (a wide table scrolls in its
own box), no word of a table cell is broken across lines, every table has one header row and a
numbered caption ("Table N: ..."), and every figure's smallest text reads at 8 pt or more (its
PNG's dpi and smallest text size, which the site puts on the <img>, at the size the page shows
it). Every page ends with the version, the commit, the build date and
a link to the source (the configured repository, or the source archive the site serves). The
landing page's first screen shows an answer sentence of its summary at 1366 px."""
import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import tomllib
import urllib.request
from pathlib import Path

import pytest

from lbsm.core.catalog import CHAPTERS

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
PAGES = [f"book/{c}" for c in CHAPTERS]  # every chapter of the toc (lbsm.core.catalog)
WITH_MATH = {"book/interpolation", "book/sharpness", "book/remedies", "book/small_batches"}
# chapters with verdicts open with their result; the landing page with the reproducibility summary
WITH_RESULT = {f"book/{c}" for c in ("gap", "interpolation", "sharpness", "small_batches", "remedies",
                                      "beyond")} | {"book/intro"}
RESULT_JS = """
const el = Array.from(document.querySelectorAll('main p, main .admonition-title')).find(
  e => /^(Result\.|Reproducibility summary)/.test(e.innerText.trim()) && e.innerText.trim().length > 40
       || e.innerText.trim() === 'Reproducibility summary');
return el ? el.getBoundingClientRect().top + window.scrollY : null;"""
# the landing page's first answer: a sentence of the summary's results ("Table 2, F1: ...: answer")
ANSWER_JS = """
const li = document.querySelector('.lbsm-repro li');
return li && li.innerText.trim().length > 40 ? li.getBoundingClientRect().top + window.scrollY : null;"""
WIDTHS = (1366, 400)  # a laptop and a phone: every layout check runs at both
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
MIN_PT = 8  # the smallest figure text a reader is shown, in pt at the size the page shows it

# every word of every table cell: a word whose characters lie on more than one line is broken
MIDWORD_JS = """
const out = [];
for (const cell of document.querySelectorAll('article td, article th')) {
  const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
  let n;
  while ((n = walker.nextNode())) {
    const re = /\\S+/g; let m;
    while ((m = re.exec(n.data))) {
      const r = document.createRange(); r.setStart(n, m.index); r.setEnd(n, m.index + m[0].length);
      const tops = new Set(Array.from(r.getClientRects()).filter(x => x.width > 0).map(x => Math.round(x.top)));
      if (tops.size > 1) out.push(m[0]);
    }
  }
}
return out;"""
TABLES_JS = """
return Array.from(document.querySelectorAll('article table')).map(t => {
  const box = t.closest('.lbsm-table'), scroll = t.parentElement;
  const cap = box && box.querySelector('.lbsm-table-caption');
  return {text: t.innerText.slice(0, 60), headerRows: t.querySelectorAll('thead tr').length,
          caption: cap ? cap.innerText.trim() : '',
          scrolls: !!scroll && ['auto', 'scroll'].includes(getComputedStyle(scroll).overflowX)};
});"""
FIGURES_JS = """
return Array.from(document.querySelectorAll('figure img')).map(i => ({src: i.src.split('/').pop(),
  natural: i.naturalWidth, shown: i.getBoundingClientRect().width,
  dpi: parseFloat(i.dataset.dpi || 'NaN'), font: parseFloat(i.dataset.minFontPt || 'NaN')}));"""

if not (CHROMIUM and DRIVER):
    # CI (and `make test`) installs both; anywhere else say how instead of failing obscurely
    pytest.skip("needs Debian's chromium and chromium-driver: apt-get install chromium chromium-driver "
                "(make test does it as root)", allow_module_level=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The book built into a temporary folder, served on 127.0.0.1 (a free port)."""
    out = tmp_path_factory.mktemp("site")
    subprocess.run(["make", "-s", "book-static"], cwd=ROOT, check=True, timeout=600)
    jb = Path(sys.executable).with_name("jupyter-book")
    subprocess.run([str(jb), "build", str(ROOT), "--path-output", str(out), "-q"], check=True,
                   timeout=900, capture_output=True)
    html = out / "_build" / "html"
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):  # noqa: D102 - the test reports what fails, not every GET
            pass
    handler = functools.partial(Quiet, directory=str(html))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", html
    server.shutdown()


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        opts.add_argument(a)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    d = webdriver.Chrome(service=Service(DRIVER), options=opts)
    d.set_page_load_timeout(120)
    yield d
    d.quit()


def _open(browser, url):
    from selenium.webdriver.support.ui import WebDriverWait
    browser.get(url)
    WebDriverWait(browser, 60).until(lambda d: d.execute_script("return document.readyState") == "complete")
    return browser


@pytest.mark.parametrize("page", PAGES)
def test_page(site, browser, page):
    base, html = site
    url = f"{base}/{page}.html"
    d = _open(browser, url)
    if page in WITH_MATH:  # MathJax typesets after load: wait for its containers
        from selenium.webdriver.support.ui import WebDriverWait
        WebDriverWait(d, 60).until(lambda d: d.execute_script(
            "return document.querySelectorAll('mjx-container').length") > 0)
        scripts = d.execute_script("return Array.from(document.scripts).map(s => s.src)"
                                   ".filter(s => s.includes('mathjax'))")
        assert len(scripts) == 1 and scripts[0].startswith(base), scripts
    errors = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, f"{page}: console errors {errors}"
    broken = d.execute_script("return Array.from(document.images).filter(i => !i.complete || "
                              "i.naturalWidth === 0).map(i => i.src)")
    assert not broken, f"{page}: images not loaded {broken}"
    assert not d.execute_script("return Array.from(document.scripts).filter(s => s.src.includes("
                                "'_static/mathjax')).length"), "MathJax must not be linked from _static"
    cut = d.execute_script("return Array.from(document.querySelectorAll('td, th')).map(c => "
                           "c.innerText.trim()).filter(t => t.endsWith('...') || t.endsWith('…'))")
    assert not cut, f"{page}: table cells cut: {cut[:5]}"
    links = d.execute_script("return Array.from(document.querySelectorAll('a')).map(a => a.href)"
                             ".filter(h => h.endsWith('.csv') || h.endsWith('.zip'))")
    for href in set(links):
        with urllib.request.urlopen(href, timeout=30) as r:
            assert r.status == 200 and r.read(1), f"{page}: {href} does not resolve"
    # every figure is numbered, captioned and described: a MyST {glue:figure} renders a <figure>
    # whose caption starts "Fig. N" and whose image has alt text
    figs = d.execute_script(
        "return Array.from(document.querySelectorAll('img')).filter(i => i.naturalWidth > 300 && "
        "!i.closest('.navbar, .bd-sidebar, header')).map(i => { const f = i.closest('figure'); "
        "const c = f && f.querySelector('figcaption'); return {src: i.src, alt: i.alt, "
        "caption: c ? c.innerText.trim() : ''}; })")
    bad = [f for f in figs if not f["alt"] or not f["caption"].startswith("Fig.")]
    assert not bad, f"{page}: figures without a number, caption or alt text: {bad[:3]}"
    # "Fig. N" is ours (Sphinx numbers it); the paper's figures are named "the paper's Figure N"
    for f in figs:
        text = re.sub(r"^Fig\. \d+\s*", "", f["caption"])
        assert not re.search(r"\bFig\. \d", text), f"{page}: a caption names a figure 'Fig.': {text[:120]}"
        for m in re.finditer(r"\bFigures? \d", text):
            assert "paper" in text[max(0, m.start() - 25):m.start()], f"{page}: {text[:160]}"
    # the paper's tables and figures are named as the paper's, our own are "Table N" / "Fig. N"
    headings = d.execute_script("return Array.from(document.querySelectorAll('article h1, article h2, "
                                "article h3')).map(h => h.innerText.trim())")
    theirs = [h for h in headings if re.search(r"\b(Tables?|Figures?) \d", h) and "paper" not in h]
    assert not theirs, f"{page}: headings naming the paper's artifacts as ours: {theirs}"
    # the source and version of the book, at the foot of every page
    foot = d.execute_script("const f = document.querySelector('.lbsm-source'); return f ? {text: f.innerText, "
                            "links: Array.from(f.querySelectorAll('a')).map(a => a.href)} : null")
    assert foot, f"{page}: no footer with the version and source"
    assert f"lbsm {VERSION}" in foot["text"] and re.search(r"commit \S+", foot["text"]), foot["text"]
    assert re.search(r"built \d{4}-\d\d-\d\d", foot["text"]), foot["text"]
    assert any(re.search(r"/lbsm-source-[0-9a-f]+\.zip$", h) for h in foot["links"]) or \
        any(h.startswith("http") and "127.0.0.1" not in h for h in foot["links"]), foot
    # provenance is folded under each table and figure, a compact line shown
    if page not in ("book/data", "book/intro"):
        folds = d.execute_script("return document.querySelectorAll('details.lbsm-provenance summary').length")
        assert folds > 0, f"{page}: no provenance line"
    if page == "book/intro":
        text = d.find_element("tag name", "body").text
        assert "Findings" in text and "verdict_grid.csv" in text
        # what the rest needs: per network that did not run, its cost and the command that runs it
        rest = d.execute_script("const b = document.querySelector('.lbsm-repro'); return b ? b.innerText : ''")
        assert "What the rest needs" in rest and "GPU-hours on one H100" in rest and "python -m lbsm compute" in rest
        assert "lbsm data download cifar100" in rest, "CIFAR-100 is a free download: the summary says so"
        caps = d.execute_script("return Array.from(document.querySelectorAll('.lbsm-table-caption')).map(c => c.innerText)")
        assert any("would cost" in c for c in caps), "the cost table of what did not run"
        imgs = d.execute_script("return Array.from(document.images).filter(i => i.naturalWidth > 400).length")
        assert imgs >= 2, "the verdict grid and the summary figure"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page", PAGES)
def test_page_reads_at_a_glance(site, browser, page, width):
    """Tables and figures read at a glance in a 1366 px and in a 400 px wide window."""
    base, _ = site
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                            {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    try:
        d = _open(browser, f"{base}/{page}.html")
        assert not d.execute_script("return document.documentElement.scrollWidth > "
                                    "document.documentElement.clientWidth + 1"), f"{page}: the page scrolls sideways"
        broken = d.execute_script(MIDWORD_JS)
        assert not broken, f"{page} at {width} px: {len(broken)} words broken inside a table cell: {broken[:8]}"
        for t in d.execute_script(TABLES_JS):
            assert t["headerRows"] == 1, f"{page}: a table with {t['headerRows']} header rows: {t['text']!r}"
            assert re.match(r"Table \d+: \S", t["caption"]), f"{page}: a table without a numbered caption: {t}"
            assert t["scrolls"], f"{page}: a table not in a box of its own that scrolls sideways: {t['text']!r}"
        for f in d.execute_script(FIGURES_JS):
            assert f["dpi"] == f["dpi"] and f["font"] == f["font"], f"{page}: no dpi / text size on {f['src']}"
            pt = f["font"] * f["dpi"] * f["shown"] / (96 * f["natural"])  # pt as the page shows it
            assert pt >= MIN_PT, f"{page} at {width} px: text of {f['src']} shown at {pt:.2f} pt"
        if page in WITH_RESULT and width > 1000:  # the answer on the first screen, before the method
            top = d.execute_script(RESULT_JS)
            assert top is not None and top < 900, f"{page}: no result sentence on the first screen ({top})"
        if page == "book/intro" and width > 1000:  # the summary's first answer sentence, not only its title
            top = d.execute_script(ANSWER_JS)
            assert top is not None and top < 900, f"{page}: no answer sentence on the first screen ({top})"
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
