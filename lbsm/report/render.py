"""Rendering helpers every chapter shares: ``mean ± sd`` text, one number format, ``show`` (a
table or a figure with its tidy CSV under ``book/csv/``), ``glue_all`` (numbers for the prose).

The report layer, one job a module; data flows one way, from the compute step's parts::

    render     formatting, display, glue                 captions   which runs made what, and how
    tables     ours vs the paper, as tables              figures    ... and as figures
    text       sentences generated from the numbers      verdicts   the rules a claim is judged by
    judgments  each claim judged on its numbers          status     how much of each artifact ran
    summary    a chapter's status and verdict rows       datapage   the index of every CSV

The notebooks in ``book/`` stay thin. The pattern of a chapter::

    C = compute.chapter("gap", **compute.notebook_parameters(globals()))   # runs and parts
    T = C.trained
    captions.coverage(T)                       # which networks ran, why the others did not
    t2 = tables.table2(T)                      # ours vs the paper (numbers from lbsm.core.paper)
    report.show(report.pm_table(t2), t2, "gap/table2")
    captions.caption(T, "Table 2")             # profile, device, seeds, epochs, commit
    report.glue_all(text.gap_text(T, t2))      # numbers used in prose, glued
    rows, V = summary.chapter_rows("gap", C)   # status and verdict rows (the intro's too)
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..core import paper
from ..experiments.trials import Trained

SB_COLOR, LB_COLOR = "tab:blue", "tab:red"
PAPER_FIG_NET = {"F1": "F2", "F2": "F2", "C1": "C1"}  # whose paper panel a network is drawn beside
# which networks the paper shows each section of small_batches / remedies for, and its title
PAPER_NETS = {"fig4": ("F2", "C1"), "fig5": ("F2", "C1"), "fig6": ("F2", "C1"), "cone": paper.NETS,
              "augmentation": ("C1", "C2", "C3", "C4"), "conservative": paper.NETS,
              "adversarial": (), "stability": ()}
TITLES = {"fig4": "Figure 4", "fig5": "Figure 5", "fig6": "Figure 6", "cone": "'Not a cone'",
          "augmentation": "Table 6", "conservative": "Table 7", "adversarial": "E.3 adversarial",
          "stability": "E.3 stability"}
REPO = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- formatting
def pm(mean: float, sd: float | None = None, digits: int = 2, sig: int | None = None) -> str:
    """``"98.03 ± 0.07"``; the sd is left out when it is missing (one seed).

    ``sig``: significant digits instead of decimals (for values spanning orders of magnitude).
    """
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "—"
    f = (lambda v: f"{v:.{sig}g}") if sig else (lambda v: f"{v:.{digits}f}")
    if sd is None or (isinstance(sd, float) and math.isnan(sd)):
        return f(mean)
    return f"{f(mean)} ± {f(sd)}"


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
def csv_dir() -> Path:
    """Where ``show`` writes the CSVs: ``$LBSM_CSV_DIR``, else ``book/csv`` of the checkout (the
    book copies it to the site's root, ``html_extra_path`` in ``_config.yml``)."""
    return Path(os.environ.get("LBSM_CSV_DIR") or REPO / "book" / "csv")


def show(shown, frame: pd.DataFrame | None = None, name: str = ""):
    """Display ``shown`` (a table or a figure) and, under it, a link to download ``frame`` (default:
    ``shown`` itself) as tidy CSV, written now to ``csv_dir() / f"{name}.csv"``."""
    from IPython.display import HTML, display
    frame = shown if frame is None else frame
    if not isinstance(frame.index, pd.RangeIndex):
        frame = frame.reset_index()
    path = csv_dir() / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    if isinstance(shown, pd.DataFrame):
        display_table(shown)
    else:
        display(shown)
    return HTML(f'<p class="lbsm-csv"><a href="../{name}.csv" download>data: {name}.csv</a> '
                f'({len(frame)} rows)</p>')


def display_table(df: pd.DataFrame) -> None:
    """Show every row and every character of a table (a verdict cut at 50 characters is no
    verdict), numbers by the book's one format rule (``readable``)."""
    from IPython.display import display
    with pd.option_context("display.max_rows", None, "display.max_columns", None,
                           "display.max_colwidth", None):
        display(readable(df))


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
    return out


def sig3(v: float) -> str:
    """3 significant figures without an exponent from 0.001 to a million: 8,407 / 12.6 / 0.00123."""
    if pd.isna(v):
        return "—"
    if 1000 <= abs(v) < 1e6:
        return f"{v:,.0f}"
    return f"{v:.3g}"


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


# --------------------------------------------------------------------------- deviations from the paper


# --------------------------------------------------------------------------- captions: runs of a profile


# --------------------------------------------------------------------------- captions: sections of a plan


# --------------------------------------------------------------------------- the data page
# what the columns of the book's CSVs mean (the data page's dictionary); a column not listed is
# named after the table it comes from and explained beside that table in its chapter


