"""The book's structure: chapters, toc, thin notebooks, nbval references that really check."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lbsm import book
from lbsm.experiments import parameters
from lbsm.experiments.trials import Trained
from lbsm.report import status

CHAPTERS = book.existing()
NOTEBOOKS = {c: json.loads(book.chapter_path(c).read_text()) for c in CHAPTERS}
SANITIZE = book.NBVAL_DIR / "sanitize.cfg"


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def source(cell) -> str:
    return "".join(cell["source"])


def test_core_chapters_exist():
    for c in ("intro", "setup", "gap", "interpolation", "sharpness"):
        assert c in CHAPTERS, f"book/{c}.ipynb is missing"
    assert book.ROOT == CHAPTERS[0] == "intro"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_parameters_cell(chapter):
    """Every chapter has one papermill cell tagged `parameters` that sets `profile`."""
    cells = [c for c in code_cells(NOTEBOOKS[chapter]) if "parameters" in c["metadata"].get("tags", [])]
    assert len(cells) == 1, f"{chapter}: needs exactly one cell tagged 'parameters'"
    assert re.search(r"^profile\s*=", source(cells[0]), re.M), f"{chapter}: parameters must set profile"


def test_toc_lists_every_chapter():
    toc = book.TOC.read_text()
    assert toc == book.toc_text(), "_toc.yml is out of date: run `python -m lbsm.book toc`"
    files = re.findall(r"^(?:root|- file): (\S+)$", toc, re.M)
    on_disk = sorted(p.relative_to(book.REPO).with_suffix("").as_posix()
                     for p in book.BOOK_DIR.glob("*.ipynb"))
    assert sorted(files) == on_disk, "every book/*.ipynb must be in _toc.yml (and CHAPTERS)"
    assert files[0] == f"book/{book.ROOT}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_notebooks_are_thin(chapter):
    """Logic lives in lbsm: cells < 25 lines, no function/class definitions, no loops."""
    for cell in code_cells(NOTEBOOKS[chapter]):
        src = source(cell)
        assert len(src.splitlines()) < 25, f"{chapter}: a cell has {len(src.splitlines())} lines"
        assert not re.search(r"^\s*(def|class|for|while|async)\b", src, re.M), f"{chapter}: {src[:80]!r}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_prose_numbers_are_glued(chapter):
    """Markdown cells type no measured numbers (decimals): they come from {glue:text}."""
    for cell in NOTEBOOKS[chapter]["cells"]:
        if cell["cell_type"] == "markdown":
            text = re.sub(r"\{glue:[a-z]+\}`[^`]*`|\$[^$]*\$|```.*?```|\]\([^)]*\)", "", source(cell),
                          flags=re.S)  # glued values, math, code blocks and link targets
            text = re.sub(r"(Metric|Section|Appendix|Table|Figure|Fig\.|Eq\.)\s+[A-Z]?\d+(\.\d+)*", "", text)
            assert not re.search(r"(?<![\w.])\d+\.\d+", text), f"{chapter}: typed number in {text[:120]!r}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_nbval_reference_exists(chapter):
    """tests/nbval/<chapter>.ipynb is a smoke-profile run of the current notebook."""
    ref = book.NBVAL_DIR / f"{chapter}.ipynb"
    assert ref.is_file(), "run `python -m lbsm.book refs`"
    nb = json.loads(ref.read_text())
    assert nb["metadata"]["papermill"]["parameters"]["profile"] == "smoke"
    src_cells = [source(c) for c in NOTEBOOKS[chapter]["cells"]
                 if "injected-parameters" not in c["metadata"].get("tags", [])]
    ref_cells = [source(c) for c in nb["cells"] if "injected-parameters" not in c["metadata"].get("tags", [])]
    assert src_cells == ref_cells, f"{chapter}: reference is stale: run `python -m lbsm.book refs`"
    for c in code_cells(nb):
        assert not any(o.get("output_type") == "error" for o in c.get("outputs", []))


def is_checked(cell) -> bool:
    """Whether nbval compares this cell's output (its ``nbval-check-output`` tag)."""
    return "nbval-check-output" in cell.get("metadata", {}).get("tags", [])


def test_checked_cells_have_outputs():
    checked = 0
    for chapter in CHAPTERS:
        ref = book.NBVAL_DIR / f"{chapter}.ipynb"
        if ref.is_file():
            for c in code_cells(json.loads(ref.read_text())):
                if is_checked(c):
                    checked += 1
                    assert c["outputs"], f"{chapter}: a checked cell has no stored output"
    assert checked >= 6


def _nbval(path: Path, tmp: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "LBSM_RESULTS": str(tmp / "results"), "LBSM_CSV_DIR": str(tmp / "csv")}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                           "--nbval-current-env", f"--nbval-sanitize-with={SANITIZE}", str(path)],
                          capture_output=True, text=True, env=env, cwd=tmp, timeout=900)


# the only calls whose outputs nbval may compare: they do not depend on training, so they are
# the same on every CPU and thread count (trained numbers are checked in pytest, with tolerances)
MACHINE_INDEPENDENT = ("report.paper_table(", "setup.table1()", "setup.table5()",
                       "setup.profile_table(", "setup.analysis_settings(")


def test_checked_cells_show_only_machine_independent_outputs():
    for chapter in book.existing():
        for c in code_cells(json.loads(book.chapter_path(chapter).read_text())):
            text = source(c)
            if is_checked(c):
                calls = re.findall(r"\b[\w.]+\(", text)
                allowed = {"report.show("} | {m.rstrip("()") + "(" for m in MACHINE_INDEPENDENT}
                assert set(calls) <= allowed, f"{chapter}: checked cell calls {set(calls) - allowed}"


def test_nbval_fails_when_a_checked_output_changes(tmp_path):
    """Alter one stored, checked output (F1's parameter count): nbval must fail; unaltered: pass."""
    src = book.NBVAL_DIR / "setup.ipynb"
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir(), bad.mkdir()
    shutil.copy(src, good / "setup.ipynb")
    nb = json.loads(src.read_text())
    changed = False
    for c in code_cells(nb):
        if is_checked(c) and "setup.table1()" in source(c):
            for o in c["outputs"]:
                for mime in ("text/plain", "text/html"):
                    if mime in o.get("data", {}):
                        text = "".join(o["data"][mime])
                        if "1,462,794" in text:  # the table (not the CSV link under it)
                            o["data"][mime] = text.replace("1,462,794", "1,462,795")
                            changed = True
    assert changed
    (bad / "setup.ipynb").write_text(json.dumps(nb))
    ok = _nbval(good / "setup.ipynb", tmp_path)
    assert ok.returncode == 0, ok.stdout[-3000:]
    fail = _nbval(bad / "setup.ipynb", tmp_path)
    assert fail.returncode != 0, "nbval did not notice a changed checked output"
    assert "1,462,79" in fail.stdout


def test_runner_skips_missing_chapter(monkeypatch, tmp_path):
    monkeypatch.setattr(book, "BOOK_DIR", tmp_path)
    monkeypatch.setattr(book, "write_toc", lambda: False)
    lines = []
    assert book.run("smoke", ["remedies"], log=lines.append) == {}
    assert "skip remedies" in lines[0] and "does not exist yet" in lines[0]
    with pytest.raises(ValueError, match="unknown chapter"):
        book.run("smoke", ["nope"])
    with pytest.raises(ValueError, match="unknown profile"):
        book.run("nope")


def test_profile_typo_is_named_even_without_papermill(monkeypatch):
    """``--profile cpuu`` is reported as an unknown profile with the choices, not as a missing
    papermill: the profile is checked before papermill is imported."""
    from lbsm.experiments import profiles
    monkeypatch.setitem(sys.modules, "papermill", None)  # `import papermill` raises ImportError
    with pytest.raises(ValueError, match="unknown profile 'cpuu'") as err:
        book.run("cpuu")
    assert all(name in str(err.value) for name in profiles.PROFILES)
    with pytest.raises(ImportError):  # a valid profile does get as far as papermill
        book.run("smoke")


def test_execution_order_runs_intro_last():
    order = book.execution_order(book.CHAPTERS)
    assert order[-2:] == [book.ROOT, "data"]  # the intro collects verdicts, the data page every CSV
    assert book.parse_value("5") == 5 and book.parse_value("F1,C1") == "F1,C1"
    assert book.parse_value("None") is None


def test_status_table_without_runs():
    st = status.status_table([])
    assert set(st.status) == {"not run"}
    assert {"Table 1", "Table 2", "Table 3", "Table 4", "Figure 3", "Figure 7"} <= set(st.index)


def test_artifact_status_rules():
    P = parameters.override("paper")
    T = Trained(P, pairs={n: [] for n in ("F1", "C1")}, missing={"F2": "timit"})
    ready = {"mnist": True, "cifar10": True, "cifar100": False, "timit": False}  # as a chapter found it
    row = status.artifact("Table 2", T, ready=ready)
    assert row["status"] == "partial" and "TIMIT" in row["note"] and "CIFAR-100" in row["note"]
    with pytest.raises(ValueError, match="C2, C3, C4 did not run; pass ready="):
        status.artifact("Table 2", T)  # whether their data is there comes from the compute step
    full = status.artifact("Table 1", nets_done=("F1", "F2", "C1", "C2", "C3", "C4"), deviations_=[])
    assert full["status"] == "complete"
    # data is missing for F2 only: the others need compute, so the artifact is "not run", not
    # "needs data", and the note says which need only compute
    none = status.artifact("Table 2", Trained(P, missing={"F2": "timit"}), nets_done=[], ready=ready)
    assert none["status"] == "not run" and "needs compute only: F1, C1, C2" in none["note"]
    data = {n: d for n, d in (("F1", "mnist"), ("F2", "timit"), ("C1", "cifar10"), ("C2", "cifar10"),
                              ("C3", "cifar100"), ("C4", "cifar100"))}
    only_data = status.artifact("Table 2", Trained(P, missing=data), nets_done=[])
    assert only_data["status"] == "needs data" and "needs compute" not in only_data["note"]


def test_profile_overrides():
    P = parameters.override("smoke", seeds=1, sb_epochs=3, sharpness_iters=4, nets="F1")
    assert list(P.nets) == ["F1"] and P.nets["F1"].seeds == (0,) and P.nets["F1"].sb_epochs == 3
    assert P.sharpness_iters == 4
    assert parameters.override("smoke", seeds=None).nets == parameters.override("smoke").nets
    with pytest.raises(ValueError, match="unknown parameter.*bogus.*the parameters are profile, nets, seeds"):
        parameters.override("smoke", bogus=1)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_figures_are_numbered_with_caption_and_alt(chapter):
    """Every figure a chapter makes goes through report.figure and has its {glue:figure}: a
    label (numbered, cross-referenced), alt text and a caption; no figure is shown unnumbered."""
    from lbsm.report.render import figure_key
    nb = NOTEBOOKS[chapter]
    code = "\n".join(source(c) for c in code_cells(nb))
    assert not re.search(r"report\.show\(\w+\.plot_", code), f"{chapter}: an unnumbered figure"
    markdown = "\n".join(source(c) for c in nb["cells"] if c["cell_type"] == "markdown")
    for name in re.findall(r'report\.figure\(.*?"([a-z_]+/[a-z0-9_]+)"', code, re.S):
        key = figure_key(name)
        block = re.search(r"```\{glue:figure\} " + re.escape(key) + r"\n(.*?)```", markdown, re.S)
        assert block, f"{chapter}: figure {name} has no {{glue:figure}} {key}"
        options, _, caption = block.group(1).partition("\n\n")
        assert f":name: {key}" in options and re.search(r":alt: \w", options), f"{chapter}: {name}"
        assert caption.strip().startswith("**"), f"{chapter}: {name}'s caption must say what is shown"


def _site_module():
    """book/_ext/book_site.py, the site's extension (footer, citation, table numbering)."""
    sys.path.insert(0, str(book.REPO / "book" / "_ext"))
    try:
        import book_site
    finally:
        sys.path.pop(0)
    return book_site


def test_the_citation_names_this_version_and_its_source():
    """CITATION.cff carries pyproject's version and a release date, and a url only once
    _config.yml's `repository: url:` (the one place the address is configured) is set; the BibTeX
    entry the data page shows ({lbsm-citation}) is valid BibTeX naming the version, the commit
    and the source archive the site serves."""
    import tomllib

    import yaml
    from pybtex.database import parse_string
    import lbsm
    version = tomllib.loads((book.REPO / "pyproject.toml").read_text())["project"]["version"]
    cff = yaml.safe_load((book.REPO / "CITATION.cff").read_text())
    assert cff["version"] == version == lbsm.__version__
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", str(cff["date-released"]))
    url = ((yaml.safe_load((book.REPO / "_config.yml").read_text()).get("repository") or {}).get("url") or "")
    assert cff.get("url", "") == url, "CITATION.cff's url must be _config.yml's repository url (or absent)"
    site = _site_module()
    info = site.source_info(book.REPO)
    assert info["version"] == version and info["url"] == url
    entry = parse_string(site.bibtex(info), "bibtex").entries["lbsm"]
    assert entry.persons["author"] and entry.fields["year"] == str(cff["date-released"])[:4]
    assert entry.fields["version"] == version and "title" in entry.fields
    if info["archive"]:
        assert info["archive"] in entry.fields["howpublished"] and info["commit"] in entry.fields["note"]
    nb = json.loads(book.chapter_path("data").read_text())
    assert any("{lbsm-citation}" in source(c) for c in nb["cells"] if c["cell_type"] == "markdown")


def test_every_page_links_the_source_and_states_the_version():
    site = _site_module()
    info = {"version": "9.9.9", "commit": "abc1234", "dirty": False, "built": "2026-01-02", "url": "",
            "archive": "lbsm-source-abc1234.zip"}
    text = site.footer(info, lambda name, resource=0: f"../{name}" if resource else f"../{name}.html")
    assert "lbsm <span class=\"lbsm-version\">9.9.9</span>" in text and "abc1234" in text
    assert 'href="../lbsm-source-abc1234.zip"' in text and "2026-01-02" in text
    linked = site.footer({**info, "url": "https://example.org/lbsm"}, lambda n, r=0: n)
    assert 'href="https://example.org/lbsm"' in linked  # the configured address, once it is set
