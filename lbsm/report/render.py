"""Rendering helpers every chapter shares: ``mean ± sd`` text, one number format, ``show`` (a
table with its tidy CSV under ``book/csv/``, provenance columns included), ``figure`` (a numbered
MyST figure and its CSV), ``glue_all`` (numbers for the prose).

The report layer, one job a module; data flows one way, from the compute step's parts::

    render     formatting, display, glue                 captions   which runs made what, and how
    tables     ours vs the paper, as tables              figures    ... and as figures
    text       sentences generated from the numbers      verdicts   the rules a claim is judged by
    judgments  each claim judged on its numbers          status     how much of each artifact ran
    summary    a chapter's status and verdict rows       datapage   the index of every CSV
    dots       dot plots beside the hard tables          intro_figures  the verdict grid, the summary
    style      the figure style: sizes, fonts, legends   pagetable  a table as the page shows it

The notebooks in ``book/`` stay thin. The pattern of a chapter::

    store = start_kernel()                     # lbsm.book: the folders of $LBSM_*, read once
    C = compute.chapter("gap", store=store, **compute.notebook_parameters(globals()))  # runs, parts
    T = C.trained
    captions.coverage(T, C.runs, "gap", ready=C.data_ready)   # what ran, why the others did not
    t2 = tables.table2(T)                      # ours vs the paper (numbers from lbsm.core.paper)
    report.show(report.pm_table(t2), t2, "gap/table2", C)   # the CSV says which runs made it
    captions.caption(T, "Table 2")             # under it: a compact provenance line, folded details
    report.figure(figures.plot_accuracy(T), report.histories(T), "gap/figure2", C)  # glued for
    # the {glue:figure} directive beside it in the chapter, which numbers and captions it
    report.glue_all(text.gap_text(T, t2))      # numbers used in prose, glued
    rows, V = summary.chapter_rows("gap", C)   # status and verdict rows (the intro's too)
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import catalog, paper
from ..experiments.trials import Trained
from . import pagetable

SB_COLOR, LB_COLOR = "tab:blue", "tab:red"
PAPER_FIG_NET = {"F1": "F2", "F2": "F2", "C1": "C1"}  # whose paper panel a network is drawn beside
# which networks the paper shows each section of small_batches / remedies for, and its title
PAPER_NETS = {"fig4": ("F2", "C1"), "fig5": ("F2", "C1"), "fig6": ("F2", "C1"), "cone": paper.NETS,
              "augmentation": ("C1", "C2", "C3", "C4"), "conservative": paper.NETS,
              "adversarial": (), "stability": ()}
TITLES = {"fig4": "The paper's Figure 4", "fig5": "The paper's Figure 5", "fig6": "The paper's Figure 6",
          "cone": "'Not a cone'", "augmentation": "The paper's Table 6", "conservative": "The paper's Table 7",
          "adversarial": "E.3 adversarial", "stability": "E.3 stability"}
REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- formatting
def pm(mean: float, sd: float | None = None, digits: int = 2, sig: int | None = None) -> str:
    """``"98.03 ± 0.07"``; the sd is left out when it is missing (one seed).

    ``sig``: significant digits instead of decimals (for values spanning orders of magnitude).
    """
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "—"
    text = sig3(mean, sig) if sig else f"{mean:.{digits}f}"
    if sd is None or (isinstance(sd, float) and math.isnan(sd)):
        return text
    # the sd with the mean's decimals (one format rule: 458 ± 23, 1.56 ± 0.49)
    if "e" in text:
        return f"{text} ± {sd:.{sig or 3}g}"
    decimals = len(text.split(".")[1]) if "." in text else 0
    if 0 < abs(sd) and round(sd, decimals) == 0:  # never an sd of "0.0": one significant figure
        decimals = -math.floor(math.log10(abs(sd)))
        text = f"{mean:,.{decimals}f}" if "," in text else f"{mean:.{decimals}f}"
    return f"{text} ± {sd:,.{decimals}f}"


def mean_sd(values) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof=1; NaN for a single value)."""
    v = np.asarray(list(values), dtype=float)
    if len(v) == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else float("nan")


def pm_table(df: pd.DataFrame, digits: int = 2, sig: int | None = None) -> pd.DataFrame:
    """A numeric ours/paper table (columns ours, ours_sd, paper, paper_sd, ...) as ``mean ± sd`` text.

    Difference (``ours - paper``) and ratio (``ours / paper``) columns are formatted too; ``sig``
    switches every number to that many significant digits.
    """
    out = pd.DataFrame(index=df.index)
    for base in ("ours", "paper"):
        if base in df:
            sds = df[f"{base}_sd"] if f"{base}_sd" in df else [None] * len(df)
            out[base] = [pm(m, s, digits, sig) for m, s in zip(df[base], sds)]
    for c in df.columns:
        if c in ("ours", "ours_sd", "paper", "paper_sd"):
            continue
        if c.startswith("ours -"):
            out[c] = df[c].map(lambda v: "—" if pd.isna(v) else f"{v:+.{digits}f}")
        elif c.startswith("ours /"):
            out[c] = df[c].map(lambda v: "—" if pd.isna(v) else f"{v:.3g}")
        else:
            out[c] = df[c]
    return out


def paper_table(n: int, nets=None) -> pd.DataFrame:
    """The paper's Table n as printed (``mean ± sd`` text), optionally only some networks."""
    t = paper.table(n)
    if nets is not None:
        t = t.loc[[x for x in t.index if x in nets]]
    cols = [c for c in t.columns if not c.endswith("_sd")]
    return pd.DataFrame({c: [pm(m, s) if f"{c}_sd" in t else m for m, s in
                             zip(t[c], t.get(f"{c}_sd", t[c]))] for c in cols}, index=t.index)


def check_values(df: pd.DataFrame, column: str = "ours", digits: int = 0) -> str:
    """A coarse, machine-independent print of our numbers (what nbval compares under smoke)."""
    if df.empty:
        return "(nothing ran)"
    s = df[column].round(digits) + 0.0  # no "-0"
    return "\n".join(f"{' / '.join(map(str, k)) if isinstance(k, tuple) else k}: {v:.{digits}f}"
                     for k, v in s.items())


def check_table(df: pd.DataFrame, digits: int = 0) -> str:
    """``report.check_values`` for a numeric table whose rows may be empty (coarse, for nbval)."""
    return check_values(df, digits=digits) if "ours" in df else "(nothing ran)"


def check_numbers(df: pd.DataFrame, columns, digits: int = 0) -> str:
    """A coarse print of some numeric columns, one line per (row, column) (nbval compares it)."""
    if df.empty:
        return "(nothing ran)"
    lines = []
    for key, row in df.iterrows():
        k = " / ".join(map(str, key)) if isinstance(key, tuple) else str(key)
        lines += [f"{k} [{c}]: {round(float(row[c]), digits) + 0.0:.{digits}f}" for c in columns]
    return "\n".join(lines)


def precisions(runs) -> str:
    """The precision the runs trained in (their metadata): ``fp32``, ``bf16``, ``fp32/bf16``."""
    return "/".join(sorted({r.meta.get("precision", r.config.precision) for r in runs}))


# --------------------------------------------------------------------------- display and glue
_CSV_DIR: dict[str, Path | None] = {"dir": None}  # the CSV folder the chapter's first cell chose


def choose_csv_dir(path: str | os.PathLike | None) -> Path | None:
    """Make ``path`` the folder ``show`` and ``figure`` write CSVs to in this kernel (None: the
    checkout's ``book/csv``); a chapter's first cell calls it once (``lbsm.book.start_kernel``,
    with ``$LBSM_CSV_DIR`` as the book runner set it). Returns the choice it replaced."""
    old = _CSV_DIR["dir"]
    _CSV_DIR["dir"] = None if path is None else Path(path)
    return old


def csv_dir() -> Path:
    """Where ``show`` writes the CSVs: the folder the chapter's first cell chose
    (:func:`choose_csv_dir`), else ``book/csv`` of the checkout (the book copies it to the site's
    root, ``html_extra_path`` in ``_config.yml``). No environment is read here."""
    return _CSV_DIR["dir"] if _CSV_DIR["dir"] is not None else REPO / "book" / "csv"


PAPER_SOURCE = "Keskar et al. (2017), arXiv:1609.04836, as printed"
PROVENANCE = ("profile", "seeds", "precision", "device", "commit")  # the columns with_provenance adds


def _chapter_runs(of) -> dict[str, list]:
    """{chapter name: its runs} when ``of`` is a dict of chapters (else empty)."""
    if not isinstance(of, dict):
        return {}
    return {name: list(c.runs.values()) for name, c in of.items() if hasattr(c, "runs")}


def _runs_of(of) -> tuple[str, list]:
    """(profile name, runs) of a chapter (``.profile``, ``.runs``), a dict of chapters, or a profile."""
    if isinstance(of, dict):
        chapters = list(of.values())
        profile = "/".join(sorted({c.profile.name for c in chapters}))
        return profile, list({r.name: r for c in chapters for r in c.runs.values()}.values())
    if hasattr(of, "runs"):
        return of.profile.name, list(of.runs.values())
    return of.name, []


def meta_values(runs, key: str) -> list[str]:
    """The distinct values (sorted text) of ``run.meta[key]`` over ``runs`` (``"?"`` where a run's
    metadata lacks it): the devices, commits or precisions behind a table."""
    return sorted({str(r.meta.get(key, "?")) for r in runs})


def with_provenance(frame: pd.DataFrame, of=None) -> pd.DataFrame:
    """``frame`` with provenance columns, so a CSV read on its own says where its numbers come from.

    ``of``: the chapter that computed it (or a dict of chapters, or a profile when nothing was
    trained, or a list of such sources whose rows the frame's ``profile`` column assigns), or a
    text naming the source (``PAPER_SOURCE``: the paper's own numbers). Per row: the profile, and
    the seeds, precision, device and training commit of the runs behind it (the runs of the row's
    network, and of its seed, run or seeds where the row names them; with a dict of chapters and an
    ``artifact`` column, only the runs of the chapter that makes the row's artifact). A column the
    table already has is kept as it is; ``None`` adds nothing (the data page's own index)."""
    if of is None:
        return frame
    out = frame.copy()
    if isinstance(of, list):  # one source per profile: each row's runs from its profile's source
        sources = {_runs_of(o)[0]: o for o in of}
        if "profile" not in out or not set(out.profile) <= set(sources):
            raise ValueError(f"a table from several sources ({', '.join(sources)}) needs a profile "
                             "column naming one of them on every row")
        parts = [with_provenance(g, sources[p]) for p, g in out.groupby("profile", sort=False)]
        return pd.concat(parts).loc[out.index] if parts else out
    if isinstance(of, str):
        out["source"] = of
        return out
    profile, runs = _runs_of(of)
    if not runs:  # a table computed without training (Tables 1 and 5, the profile's settings)
        return out.assign(profile=profile, source="computed by lbsm when the page was rendered; no training")
    net_col = next((c for c in ("net", "network") if c in out), None)
    by_chapter = _chapter_runs(of) if "artifact" in out else {}

    def behind(row) -> list:
        pool = by_chapter.get(catalog.chapter_of(str(row["artifact"])), runs) if by_chapter else runs
        rs = [r for r in pool if net_col is None or r.config.net == row[net_col]]
        if "seed" in out and pd.notna(row["seed"]):
            rs = [r for r in rs if r.config.seed == row["seed"]]
        if "run" in out and pd.notna(row["run"]):  # a row of one run (a twin, a method): its own
            rs = [r for r in rs if r.name == row["run"]]
        if "seeds" in out and isinstance(row["seeds"], str) and row["seeds"].strip():
            used = {int(x) for x in row["seeds"].split()}  # a verdict judged on some trials only
            rs = [r for r in rs if r.config.seed in used]
        return rs

    matched = [behind(row) for _, row in out.iterrows()] if len(out) else []
    values = {"profile": lambda rs: profile,
              "seeds": lambda rs: " ".join(map(str, sorted({r.config.seed for r in rs}))),
              "precision": lambda rs: "/".join(sorted({r.meta.get("precision", r.config.precision)
                                                       for r in rs})),
              "device": lambda rs: "/".join(meta_values(rs, "device")),
              "commit": lambda rs: "/".join(meta_values(rs, "commit"))}
    for col in PROVENANCE:
        if col in out or (col == "seeds" and "seed" in out):
            continue
        out[col] = [values[col](rs) for rs in matched]
    return out


def write_csv(frame: pd.DataFrame, name: str, of=None) -> pd.DataFrame:
    """Write ``frame`` (tidy, with its provenance columns) to ``csv_dir() / f"{name}.csv"``."""
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    frame = with_provenance(frame, of)
    path = csv_dir() / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return frame


def _csv_link(name: str, rows: int):
    from IPython.display import HTML
    return HTML(f'<p class="lbsm-csv"><a href="../{name}.csv" download>data: {name}.csv</a> '
                f'({rows} rows)</p>')


def show(shown, frame: pd.DataFrame | None = None, name: str = "", of=None):
    """Display ``shown`` (a table) and, under it, a link to download ``frame`` (default: ``shown``
    itself) as tidy CSV with its provenance columns (``with_provenance(frame, of)``), written now
    to ``csv_dir() / f"{name}.csv"``. A figure goes through :func:`figure` instead."""
    from IPython.display import Markdown, display
    frame = shown if frame is None else frame
    if isinstance(shown, pd.DataFrame) and shown.empty and frame.empty:
        # nothing ran (the chapter's coverage list says why): a sentence, not an empty table
        # above a link to an empty file
        (csv_dir() / f"{name}.csv").unlink(missing_ok=True)
        return Markdown("*No rows: no network of this table ran under this profile (the list at "
                        "the top of the chapter says why).*")
    frame = write_csv(frame, name, of)
    if isinstance(shown, pd.DataFrame):
        display_table(shown, pagetable.caption(name))
    else:
        display(shown)
    return _csv_link(name, len(frame))


def figure_key(name: str) -> str:
    """The glue key and cross-reference label of figure ``name``: ``"sharpness/figure"`` ->
    ``"fig-sharpness-figure"`` (``{glue:figure}`` and ``{numref}`` use it)."""
    return "fig-" + name.replace("/", "-").replace("_", "-")


def figure(fig, frame: pd.DataFrame, name: str, of=None):
    """A numbered figure: glue ``fig`` under ``figure_key(name)`` for the chapter's
    ``{glue:figure}`` (which numbers it and gives it its caption and alt text), write ``frame``
    as its CSV (as :func:`show` does) and return the CSV link, shown under the figure.

    The figure is glued as the PNG the page shows (``lbsm.report.style.png``: the book's dpi, its
    smallest text size in the PNG's metadata, which the site puts on the ``<img>``)."""
    import matplotlib.pyplot as plt
    from IPython.display import Image
    from myst_nb import glue
    from . import style
    frame = write_csv(frame, name, of)
    glue(figure_key(name), Image(data=style.png(fig), format="png"), display=False)
    plt.close(fig)
    return _csv_link(name, len(frame))


def display_table(df: pd.DataFrame, caption: str | None = None) -> None:
    """Show every row and every character of a table (a verdict cut at 50 characters is no
    verdict), numbers by the book's one format rule (``readable``), as the page's table
    (``pagetable.to_html``: one header row, a numbered ``caption``, words never broken, a box of
    its own that scrolls sideways); the plain-text form is pandas' own."""
    from IPython.display import display
    shown = readable(df)
    text = pagetable.default_caption(df) if caption is None else caption
    with pd.option_context("display.max_rows", None, "display.max_columns", None,
                           "display.max_colwidth", None):
        plain = repr(shown)
    display({"text/plain": plain, "text/html": pagetable.to_html(shown, text)}, raw=True)


ACCURACY_WORDS = ("acc", "test", "train", "gap", "points", "%")


def readable(df: pd.DataFrame) -> pd.DataFrame:
    """The book's one number-format rule for a table on the page (its CSV keeps every digit):
    accuracies and gaps in % with 2 decimals, every other float to 3 significant figures, whole
    numbers as integers; text as it is."""
    out = df.copy()
    for c in out.columns:
        col = out[c]
        if not pd.api.types.is_float_dtype(col):
            continue
        if col.dropna().apply(float.is_integer).all() and col.notna().any():
            out[c] = col.map(lambda v: "—" if pd.isna(v) else f"{int(v)}")
        elif any(w in str(c).lower() for w in ACCURACY_WORDS):
            out[c] = col.map(lambda v: "—" if pd.isna(v) else f"{v:.2f}")
        else:
            out[c] = col.map(sig3)
    # labels that can wrap: "test_sb_augmented" is one unbreakable word that widens the table
    # beyond the page (the CSV keeps the names as they are)
    if not isinstance(out.columns, pd.MultiIndex):
        out.columns = [str(c).replace("_", " ") for c in out.columns]
    return out


def sig3(v: float, sig: int = 3) -> str:
    """``sig`` (3) significant figures without an exponent from 0.001 to a million: 8,407 / 12.6
    / 0.00123."""
    if pd.isna(v):
        return "—"
    if 1000 <= abs(v) < 1e6:
        return f"{v:,.0f}"
    return f"{v:.{sig}g}"


def stack(**frames: pd.DataFrame) -> pd.DataFrame:
    """Frames one under another, each row labelled with its keyword (``table``)."""
    return pd.concat([f.reset_index().assign(table=k) for k, f in frames.items()], ignore_index=True)


def histories(T: Trained) -> pd.DataFrame:
    """Every run's per-epoch history, tidy: net, regime, seed, batch size, then the metrics."""
    return pd.concat([r.history.assign(net=n, regime=regime, seed=r.config.seed,
                                       batch_size=r.config.batch_size)
                      for n in T.nets for pair in T.pairs[n] for regime, r in zip(("SB", "LB"), pair)],
                     ignore_index=True) if T.nets else pd.DataFrame()


def glue_all(values: dict) -> None:
    """Glue every ``name: value`` (myst_nb ``glue``, not displayed) for the chapter's prose."""
    from myst_nb import glue
    for name, value in values.items():
        glue(name, value, display=False)
