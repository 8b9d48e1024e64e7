"""Sphinx extension of the book's site (Jupyter Book `local_extensions`): the book's stylesheet
(``static/lbsm.css``: tables that read at a glance, figures at a readable size, the folded
provenance line), the source and version of the book on every page, its BibTeX entry, and, after
the HTML is written, the fixes that keep every page readable and free of console errors
(tests/test_browser.py checks).

* Every page ends with a footer: the version (``pyproject.toml``), the commit and the build date,
  and a link to the source: ``_config.yml``'s ``repository: url:`` where it is set, and always
  the zip of the checkout at the built commit that ``make book-static`` writes into ``_site/``
  (``lbsm-source-<commit>.zip``, served at the site's root).
* ``{lbsm-citation}``: the book's BibTeX entry (title, authors and version from ``CITATION.cff``,
  the year of its release, the source archive and commit of this build).
* Tables (``lbsm.report.pagetable``) are numbered "Table N:" in book order, as Sphinx numbers the
  figures; each figure's ``<img>`` gets the dpi and the smallest text size its PNG records
  (``lbsm.report.style``) as ``data-dpi`` / ``data-min-font-pt``, and a width of
  ``SHOWN_SCALE`` x its print size (the CSS caps it at the column's width).
* Jupyter Book 1.0 registers sphinx-thebe's inline configuration script twice, so each page
  declared ``const THEBE_JS_URL`` twice (a SyntaxError): repeated identical inline scripts of a
  page are dropped.
* The pydata theme's head script sets an empty colour mode when the browser has none stored,
  and then logs "Got invalid theme mode": the default is light.
"""
import datetime
import html
import os
import re
import struct
import subprocess
import tomllib
from pathlib import Path

import yaml
from docutils import nodes
from sphinx.util.docutils import SphinxDirective

from lbsm.report.style import SHOWN_SCALE, png_metadata

INLINE_SCRIPT = re.compile(r"[ \t]*<script>.*?</script>\n?", re.S)
EMPTY_MODE = ('document.documentElement.dataset.mode = localStorage.getItem("mode") || "";',
              'document.documentElement.dataset.mode = localStorage.getItem("mode") || "light";')
TABLE_NUMBER = re.compile(r'<span class="lbsm-table-number">Table(?: \d+)?:</span>')
FIGURE_IMG = re.compile(r'<img (?P<attrs>[^>]*?)src="(?P<src>[^"]+\.png)"(?P<rest>[^>]*?)\s*/?>')


# --------------------------------------------------------------------------- the source and version
def _git(root: Path, *args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def source_info(root: Path) -> dict:
    """What every page states about the book's source: version, commit (and whether the working
    tree had uncommitted changes), build date, the configured repository URL ("" while unset),
    the source archive's file name ("" outside a git checkout) and the citation metadata."""
    root = Path(root)
    version = tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]
    config = yaml.safe_load((root / "_config.yml").read_text()) or {}
    url = str(((config.get("repository") or {}).get("url")) or "").strip()
    cff = yaml.safe_load((root / "CITATION.cff").read_text())
    commit = _git(root, "rev-parse", "--short", "HEAD")
    dirty = bool(commit and _git(root, "status", "--porcelain", "--untracked-files=no"))
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    built = (datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc) if epoch
             else datetime.datetime.now(datetime.timezone.utc)).date().isoformat()
    return {"version": version, "commit": commit or "unknown", "dirty": dirty, "built": built,
            "url": url, "archive": f"lbsm-source-{commit}.zip" if commit else "",
            "title": cff["title"], "authors": cff["authors"],
            "released": str(cff.get("date-released", built)), "cff_version": str(cff.get("version", ""))}


def _bib_escape(text: str) -> str:
    return text.replace("&", r"\&").replace("%", r"\%").replace("_", r"\_").replace("#", r"\#")


def bibtex(info: dict) -> str:
    """The book's BibTeX entry (``@misc``; plain BibTeX reads it, biblatex too)."""
    names = " and ".join(f"{{{a['name']}}}" if "name" in a else f"{a['family-names']}, {a['given-names']}"
                         for a in info["authors"])
    archive = info["archive"] or "the repository"
    fields = [("title", f"{{{_bib_escape(info['title'])}}}"), ("author", names),
              ("year", info["released"][:4]), ("version", info["version"]),
              ("howpublished", f"Source archive {_bib_escape(archive)} (commit {info['commit']}), "
                               "served with the book"),
              ("note", f"Version {info['version']}, commit {info['commit']}, built {info['built']}. "
                       "Cite also the paper it reproduces: Keskar et al., ICLR 2017")]
    if info["url"]:
        fields.append(("url", info["url"]))
    width = max(len(k) for k, _ in fields)
    body = ",\n".join(f"  {k.ljust(width)} = {{{v}}}" for k, v in fields)
    return f"@misc{{lbsm,\n{body}\n}}\n"


def footer(info: dict, pathto) -> str:
    """The footer of every page (``pathto``: Sphinx's relative-link helper of the page)."""
    commit = f"<code>{html.escape(info['commit'])}</code>"
    if info["dirty"]:
        commit += " (with uncommitted changes, not in the archive)"
    links = []
    if info["url"]:
        links.append(f'<a class="lbsm-repository" href="{html.escape(info["url"], quote=True)}">'
                     f'{html.escape(info["url"])}</a>')
    if info["archive"]:
        links.append(f'<a class="lbsm-archive" href="{pathto(info["archive"], 1)}" download>'
                     f'{info["archive"]}</a> (the repository at that commit, zip)')
    source = "; ".join(links) or "no archive (not built from a git checkout)"
    cite = f'<a href="{pathto("book/data")}#citing">how to cite it</a>'
    return (f'<footer class="lbsm-source"><p>lbsm <span class="lbsm-version">{info["version"]}</span>'
            f' · commit {commit} · built <span class="lbsm-built">{info["built"]}</span> · source: '
            f"{source} · {cite}</p></footer>")


class Citation(SphinxDirective):
    """``{lbsm-citation}``: the book's BibTeX entry, made when the site is built."""

    def run(self):
        self.env.note_reread()  # the commit and date are the build's, not the source's
        text = bibtex(self.env.app.lbsm_source)
        return [nodes.literal_block(text, text, language="bibtex")]


def _init(app):
    app.config.html_static_path.append(str(Path(__file__).parent / "static"))
    app.lbsm_source = source_info(Path(app.srcdir))


def _outdated(app, env, added, changed, removed):
    """Every page again when the footer changes (another commit, version or day)."""
    info = app.lbsm_source
    stamp = (info["version"], info["commit"], info["dirty"], info["built"], info["url"])
    if getattr(env, "lbsm_stamp", None) != stamp:
        env.lbsm_stamp = stamp
        return sorted(env.found_docs - set(added) - set(changed) - set(removed))
    return []


def _page(app, pagename, templatename, context, doctree):
    if doctree is not None and "body" in context:
        context["body"] += footer(app.lbsm_source, context["pathto"])


# --------------------------------------------------------------------------- after the HTML is written
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


def png_text(path: Path) -> dict:
    """The text entries of a PNG (``lbsm:dpi``, ``lbsm:min-font-pt``) and its pixel ``width``."""
    data = path.read_bytes() if path.is_file() else b""
    if data[12:16] != b"IHDR":
        return {}
    return {**png_metadata(data), "width": str(struct.unpack(">I", data[16:20])[0])}


def _figure_attrs(page: Path, text: str) -> str:
    """Each figure image with the dpi and smallest text size of its PNG, and its shown width."""
    def attrs(m):
        if "data-dpi=" in m.group(0):
            return m.group(0)
        meta = png_text((page.parent / m.group("src")).resolve())
        if "lbsm:dpi" not in meta or "width" not in meta:
            return m.group(0)
        dpi = float(meta["lbsm:dpi"])
        shown = round(int(meta["width"]) * 96 / dpi * SHOWN_SCALE)
        return (f'<img {m.group("attrs")}src="{m.group("src")}" class="lbsm-figure" '
                f'data-dpi="{meta["lbsm:dpi"]}" data-min-font-pt="{meta.get("lbsm:min-font-pt", "")}" '
                f'width="{shown}"{m.group("rest")} />')
    return FIGURE_IMG.sub(attrs, text)


def _toc_order(env, root: str) -> list[str]:
    order, stack = [], [root]
    while stack:
        doc = stack.pop(0)
        if doc in order:
            continue
        order.append(doc)
        stack[0:0] = env.toctree_includes.get(doc, [])
    return order + sorted(set(env.found_docs) - set(order))


def _fix_site(app, exception):
    if exception is not None or app.builder.format != "html":
        return
    out = Path(app.outdir)
    count = 0
    pages = [out / f"{d}.html" for d in _toc_order(app.env, app.config.root_doc)]
    for page in pages + sorted(set(out.rglob("*.html")) - set(pages)):
        if not page.is_file():
            continue
        text = page.read_text(encoding="utf-8")
        fixed = _figure_attrs(page, _fix_page(text))

        def number(_):
            nonlocal count
            count += 1
            return f'<span class="lbsm-table-number">Table {count}:</span>'
        fixed = TABLE_NUMBER.sub(number, fixed)
        if fixed != text:
            page.write_text(fixed, encoding="utf-8")


def setup(app):
    app.connect("builder-inited", _init)
    app.add_css_file("lbsm.css")
    app.add_directive("lbsm-citation", Citation)
    app.connect("env-get-outdated", _outdated)
    app.connect("html-page-context", _page)
    app.connect("build-finished", _fix_site)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
