"""Sphinx extension of the book's site (Jupyter Book `local_extensions`): the book's stylesheet
(``static/lbsm.css``: tables that fit the page, the folded provenance line), and, after the HTML is
written, two fixes that keep every page free of console errors (tests/test_browser.py checks).

* Jupyter Book 1.0 registers sphinx-thebe's inline configuration script twice, so each page
  declared ``const THEBE_JS_URL`` twice (a SyntaxError): repeated identical inline scripts of a
  page are dropped.
* The pydata theme's head script sets an empty colour mode when the browser has none stored,
  and then logs "Got invalid theme mode": the default is light.
"""
import re
from pathlib import Path

INLINE_SCRIPT = re.compile(r"[ \t]*<script>.*?</script>\n?", re.S)
EMPTY_MODE = ('document.documentElement.dataset.mode = localStorage.getItem("mode") || "";',
              'document.documentElement.dataset.mode = localStorage.getItem("mode") || "light";')


def _fix_page(text: str) -> str:
    seen = set()

    def once(m):
        tag = m.group(0).strip()
        if tag in seen:
            return ""
        seen.add(tag)
        return m.group(0)
    head, sep, body = text.partition("</head>")
    head = INLINE_SCRIPT.sub(once, head).replace(*EMPTY_MODE)
    return head + sep + body.replace('data-default-mode=""', 'data-default-mode="light"', 1)


def _fix_site(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    for page in Path(app.outdir).rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        fixed = _fix_page(text)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")


def _add_static(app):
    app.config.html_static_path.append(str(Path(__file__).parent / "static"))


def setup(app):
    app.connect("builder-inited", _add_static)
    app.add_css_file("lbsm.css")
    app.connect("build-finished", _fix_site)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
