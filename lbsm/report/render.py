"""Shared rendering helpers of the book's chapters: formatting, display, glue, captions, coverage.

The report is split by job; data flows one way::

    lbsm.results / lbsm.compute   what each chapter shows (computed, or read from the results store)
    lbsm.report                   this module: ``mean ± sd`` text, ``show`` (a table or a figure with
                                  its tidy CSV), ``glue_all``, the profile's deviations, captions
    lbsm.tables / lbsm.figures    ours vs the paper, as tables and as figures
    lbsm.text / lbsm.status       glue-ready sentences; the status row of each artifact

The notebooks in ``book/`` stay thin: every computation, loop and plot lives in these modules, each
function with one job. The pattern of a chapter::

    C = compute.chapter("gap", profile)               # train or load, compute every part
    T = C.trained
    report.coverage(T)                                # which networks ran, why the others did not
    t2 = tables.table2(T)                             # ours vs the paper (numbers from lbsm.paper)
    report.show(report.pm_table(t2), t2, "gap/table2")
    report.caption(T, "Table 2")                      # profile, device, seeds, epochs, commit
    report.glue_all(text.gap_text(T, t2))             # numbers used in prose, glued
    report.record("gap", *status.gap_status(T))       # the status row the intro collects

The ``small_batches`` and ``remedies`` chapters show :class:`lbsm.results.Result` s (a section's
tidy data and its runs) under a :class:`lbsm.results.Plan`; their captions and coverage are
``section_caption`` and ``section_coverage``.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..core import data as lbsm_data
from ..experiments import sections as experiments
from ..core import paper
from ..experiments import profiles
from ..experiments.results import DATASET_NAMES, SECTIONS, Plan, Result, Trained, bind, data_ready, dataset_of
from ..experiments.results import _eps_label as eps_label  # 1e-3 -> "1e-3" (the paper's column names)

if TYPE_CHECKING:
    from IPython.display import Markdown

SB_COLOR, LB_COLOR = "tab:blue", "tab:red"
EPS = experiments.DEFAULT_EPS  # the two eps of Section 3 and Appendix E
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
def declared_nets(name: str) -> tuple[str, ...]:
    """The networks profile ``name`` trains as defined (before a papermill ``nets`` override)."""
    return tuple(profiles.get(name).nets) if name in profiles.PROFILES else ()


def deviations(P: profiles.Profile, net: str, runs=()) -> list[str]:
    """How a profile's plan for ``net`` (and the precision its ``runs`` used) departs from the
    paper's protocol (empty: none)."""
    plan, out = P.net(net), []
    if len(plan.seeds) < paper.protocol()["trials"]:
        out.append(f"{len(plan.seeds)} of {paper.protocol()['trials']} trials")
    if plan.stop != "plateau":
        out.append(f"fixed {plan.sb_epochs} SB / {plan.lb_epochs} LB epochs instead of "
                   "'until the loss ceased to improve'")
    if plan.train_subset or plan.test_subset:
        out.append(f"{plan.train_subset or 'all'} training / {plan.test_subset or 'all'} test examples")
    used = {r.meta.get("precision") for r in runs} or {plan.precision}
    if "bf16" in used:
        out.append("bf16 autocast")
    return out


def per_net(P: profiles.Profile, examples, prefix: str = "") -> str:
    """A per-network count as text: "10000" when all networks agree, else "10000 (F1), 1000 (C1)"."""
    text = {n: f"{prefix}{examples(n)}" if examples(n) else "all" for n in P.nets}
    if len(set(text.values())) == 1:
        return next(iter(text.values()))
    return ", ".join(f"{t} ({n})" for n, t in text.items())


# --------------------------------------------------------------------------- captions: runs of a profile
def _seeds_text(seeds) -> str:
    seeds = list(seeds)
    return f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"


def _span(values) -> str:
    v = sorted(set(int(x) for x in values))
    return str(v[0]) if len(v) == 1 else f"{v[0]}-{v[-1]}"


def caption(T: Trained, what: str = "", nets=None, extra: str = "", analyses=()) -> "Markdown":
    """A caption stating profile, device, seeds, epochs and commit of the runs shown.

    ``extra``: the analysis settings (``lbsm.status.analysis_note``) when the artifact is
    computed from the runs; ``analyses``: the store kinds whose commits and devices to state.
    """
    from IPython.display import Markdown
    nets = [n for n in (nets or T.nets) if n in T.pairs]
    parts = []
    for n in nets:
        sb = [p[0] for p in T.pairs[n]]
        lb = [p[1] for p in T.pairs[n]]
        cfg = sb[0].config
        data = f", {sb[0].meta['n_train']} training / {sb[0].meta['n_test']} test examples"
        parts.append(f"{n}: {_seeds_text(r.config.seed for r in sb)}, SB (B={cfg.batch_size}) "
                     f"{_span(r.meta['epochs_run'] for r in sb)} / LB (B={lb[0].config.batch_size}) "
                     f"{_span(r.meta['epochs_run'] for r in lb)} epochs"
                     f"{stop_text(sb + lb)}, {precisions(sb + lb)}{data}")
    runs = [r for n in nets for r in T.runs(n)]
    made = analysis_provenance(analyses, runs) if analyses else ""
    return Markdown(f"*{what + ' — ' if what else ''}profile `{T.profile.name}`; "
                    f"{'; '.join(parts) or 'no runs'}; {extra + '; ' if extra else ''}"
                    f"{provenance_text(runs)}{'; ' + made if made else ''}.*")


def stop_text(runs) -> str:
    """" (plateau rule, cap 100 epochs: 2 of 10 runs ended by the cap)" for plateau runs, "" for
    fixed epochs; the cap count is stated even when it is 0."""
    runs = [r for r in runs if r.config.stop == "plateau"]
    if not runs:
        return " (fixed epochs)"
    caps = sorted({r.config.epochs for r in runs})
    capped = sum(r.meta.get("stopped_by") == "cap" for r in runs)
    return (f" (plateau rule, cap {'/'.join(map(str, caps))} epochs: {capped} of {len(runs)} runs "
            "ended by the cap)")


def plotted_note(curves: pd.DataFrame) -> str:
    """"plotted: the pair of seed 0; the rise table and verdicts: seeds 0-4" for parametric curves."""
    if curves.empty or "seed" not in curves:
        return "nothing plotted"
    seeds = sorted(set(curves.seed))
    return (f"plotted: the pair of seed {seeds[0]}; the rise table and verdicts: "
            f"{_seeds_text(seeds)}")


def analysis_provenance(kinds, runs) -> str:
    """"analyses (sharpness) computed at commit ab12cd3 on cpu (2 threads)": the commits and
    devices of the stored analyses of ``kinds`` whose parameters name one of ``runs``."""
    from ..core.store import Store
    names = {r.name for r in runs}
    store = next((r.store for r in runs if getattr(r, "store", None) is not None), None) or Store()
    commits, devices = set(), set()
    for kind in kinds:
        a = store.analyses(kind)
        if a.empty:
            continue
        cols = [c for c in ("param_run", "param_sb", "param_lb") if c in a]
        hit = a[a[cols].isin(names).any(axis=1)] if cols else a.iloc[0:0]
        commits |= set(hit.get("commit", []))
        devices |= set(hit.get("device", []))
    if not commits:
        return ""
    return (f"analyses ({', '.join(kinds)}) computed at commit {', '.join(sorted(map(str, commits)))} "
            f"on {', '.join(sorted(map(str, devices)))}")


def provenance_text(runs) -> str:
    """"device: ...; trained at commit ..." of ``runs`` (and the commit rendering them, if other)."""
    devices = sorted({r.meta.get("device", "?") for r in runs}) or ["—"]
    commits = sorted({r.meta.get("commit", "?") for r in runs}) or ["—"]
    return f"device: {', '.join(devices)}; trained at commit {', '.join(commits)}"


def coverage(T: Trained) -> "Markdown":
    """Which networks this profile trained, and why the others are absent (needs data / profile)."""
    from IPython.display import Markdown
    lines = [f"Profile `{T.profile.name}` ({T.profile.description}) trains "
             f"{', '.join(T.nets) or 'no network'}."]
    for n in paper.NETS:
        if n in T.missing:
            lines.append(f"- **{n}: needs data: {DATASET_NAMES[T.missing[n]]}** "
                         f"({lbsm_data.HOW_TO_GET[T.missing[n]]}).")
        elif n not in T.pairs and n in declared_nets(T.profile.name):
            lines.append(f"- {n}: in profile `{T.profile.name}` but left out of this run by the "
                         "papermill parameter `nets`.")
        elif n not in T.pairs:
            ready = data_ready(dataset_of(n))
            lines.append(f"- {n}: not in profile `{T.profile.name}`"
                         + ("" if ready else f"; needs data: {DATASET_NAMES[dataset_of(n)]}")
                         + (" (the `paper` profile trains it)" if ready else "") + ".")
    return Markdown("\n".join(lines))


def static_caption(P: profiles.Profile, what: str, source: str) -> "Markdown":
    """Caption of a table computed without training (profile, device, commit; no seeds/epochs)."""
    from IPython.display import Markdown
    return Markdown(f"*{what} — profile `{P.name}`; {source}; no training (seeds and epochs do not "
                    "apply), no stored result: computed by `lbsm` when the page is rendered.*")


# --------------------------------------------------------------------------- captions: sections of a plan
def _epochs(runs) -> str:
    return _span(r.meta["epochs_run"] for r in runs)


def section_caption(R: Result, what: str = "", extra: str = "", analyses=("sharpness",)) -> "Markdown":
    """A caption stating profile, networks, seeds, batch sizes, epochs, data, sharpness settings,
    device and commit of the runs behind ``R``."""
    from IPython.display import Markdown
    parts, runs = [], []
    for net, rs in R.runs.items():
        if not rs:
            continue
        runs += rs
        batches = ", ".join(str(b) for b in sorted({r.config.batch_size for r in rs}))
        kw = bind(SECTIONS[R.plan.chapter][R.section], R.knobs.get(net, {}), net).arguments \
            if net in R.knobs else {}
        subset = kw.get("sharpness_subset", kw.get("subset"))
        sharp = (f"; sharpness: L-BFGS-B from the box vertex along the gradient, "
                 f"{kw['sharpness_iters']} iterations (tolerances off), on "
                 f"{subset or 'all'} training examples") if "sharpness_iters" in kw else ""
        stand = f" (standing in for {R.plan.stand_ins[R.section][net]})" \
            if net in R.plan.stand_ins.get(R.section, {}) else ""
        parts.append(f"{net}{stand}: {_seeds_text(sorted({r.config.seed for r in rs}))}, "
                     f"B = {batches}, {_epochs(rs)} epochs, {rs[0].meta['n_train']} training / "
                     f"{rs[0].meta['n_test']} test examples, {precisions(rs)}{sharp}")
    eps = ", ".join(eps_label(e) for e in EPS)
    made = analysis_provenance(analyses, runs) if analyses and runs else ""
    return Markdown(f"*{what + ' — ' if what else ''}profile `{R.plan.profile.name}`; "
                    f"{'; '.join(parts) or 'no runs'}; eps {eps}; {extra + '; ' if extra else ''}"
                    f"{provenance_text(runs)}{'; ' + made if made else ''}.*")


def section_coverage(S: Plan) -> "Markdown":
    """Per section: the networks it runs, those the paper shows, what is skipped and why."""
    from IPython.display import Markdown
    lines = [f"Profile `{S.profile.name}` ({S.profile.description}):", ""]
    for section in S.knobs:
        run, skip = S.knobs[section], S.skipped[section]
        wanted = PAPER_NETS[section]
        parts = [f"runs {', '.join(run) or 'nothing'}"]
        parts += [f"{new} stands in for {old}" for new, old in S.stand_ins[section].items()]
        parts += [f"skips {n} ({why})" for n, why in skip.items()]
        absent = [n for n in wanted if n not in run and n not in skip]
        if absent:
            parts.append("not in this profile: " + ", ".join(
                n if data_ready(dataset_of(n))
                else f"{n} (needs data: {DATASET_NAMES[dataset_of(n)]})" for n in absent))
        shown = ", ".join(wanted) if wanted else "no network named, no numbers"
        lines.append(f"- **{TITLES[section]}** (paper: {shown}): {'; '.join(parts)}.")
    return Markdown("\n".join(lines))


# --------------------------------------------------------------------------- the data page
# what the columns of the book's CSVs mean (the data page's dictionary); a column not listed is
# named after the table it comes from and explained beside that table in its chapter
COLUMN_DOC = {
    "net": ("network of the paper's Table 1 (F1, F2, C1-C4)", ""),
    "seed": ("trial: seeds x0, the minibatch order and dropout; SB and LB of a trial share x0", ""),
    "regime": ("SB (batch 256), LB (10 % of the training set) or LB+remedy", ""),
    "batch_size": ("minibatch size", "examples"),
    "epoch": ("epoch (0 = the initial weights x0)", ""),
    "epochs_run": ("epochs the run trained", ""),
    "train_loss": ("mean cross-entropy on the run's training set", "nats"),
    "test_loss": ("mean cross-entropy on the test set", "nats"),
    "train_acc": ("training accuracy", "%"),
    "test_acc": ("test accuracy", "%"),
    "minibatch_loss": ("mean minibatch loss during the epoch", "nats"),
    "seconds": ("wall time", "s"),
    "eps": ("the box size epsilon of Metric 2.1", ""),
    "value": ("Metric 2.1: (max f(x + Ay) - f(x)) / (1 + f(x)) x 100 over the box", "%"),
    "f0": ("f(x): training loss at the minimizer (the average Metric 2.1 uses)", "nats"),
    "fmax": ("the largest f(x + Ay) L-BFGS-B found in the box", "nats"),
    "iterations": ("L-BFGS-B iterations the solve ran", ""),
    "iters": ("L-BFGS-B iterations asked for (the paper: 10)", ""),
    "stop": ("why the solve ended: iteration limit, stationary (exact first-order maximizer), stopped early", ""),
    "message": ("L-BFGS-B's last message", ""),
    "evaluations": ("evaluations of f and its gradient", ""),
    "ours": ("our value (mean over trials where there are several)", "as the quantity"),
    "ours_sd": ("sample standard deviation over trials", "as the quantity"),
    "paper": ("the paper's value", "as the quantity"),
    "paper_sd": ("the paper's standard deviation", "as the quantity"),
    "seeds": ("trials behind the row", ""),
    "artifact": ("the paper's table, figure or statement", ""),
    "kind": ("paper: one of the paper's panels; extension: ours (another network, our addition)", ""),
    "verdict": ("reproduced / same direction / inconclusive / contradicts / not run (lbsm.verdicts)", ""),
    "claim": ("the paper's claim the verdict judges", ""),
    "evidence": ("the numbers the verdict was decided on, with n, mean ± sd and p", ""),
    "alpha": ("position on the path: 0 the SB minimizer, 1 the LB minimizer", ""),
    "split": ("train or test", ""),
    "loss": ("mean cross-entropy along the path", "nats"),
    "accuracy": ("accuracy along the path", "%"),
    "ratio": ("||x_s - x0|| / ||x_l - x0|| (trainable parameters)", ""),
    "lambda_1": ("largest Hessian eigenvalue of the training loss at the minimizer", ""),
    "trace": ("Hutchinson estimate of the Hessian trace", ""),
    "sharpness_1e-03": ("Metric 2.1 at eps 1e-3, full space", "%"),
    "sharpness_5e-04": ("Metric 2.1 at eps 5e-4, full space", "%"),
    "quantity": ("what the row compares", ""),
    "log10 ours/paper": ("log10 of our value over the paper's", ""),
    "inside": ("our value inside the band the verdict rule accepts", ""),
}


def data_index(csv_root: Path | None = None) -> pd.DataFrame:
    """Every CSV the book wrote (``csv_dir``): its path in the zip, rows and columns."""
    root = Path(csv_root or csv_dir())
    rows = []
    for p in sorted(root.rglob("*.csv")):
        if p.parent.name == "datapage":  # this page's own tables (the folder is not "data": Sphinx's
            continue                   # exclude_patterns, which list data/, drop it from the site)
        try:
            df = pd.read_csv(p)
        except (pd.errors.EmptyDataError, pd.errors.ParserError):
            df = pd.DataFrame()
        rows.append({"file": str(p.relative_to(root)), "chapter": p.relative_to(root).parts[0],
                     "rows": len(df), "columns": ", ".join(map(str, df.columns))})
    return pd.DataFrame(rows, columns=["file", "chapter", "rows", "columns"])


def column_dictionary(index: pd.DataFrame) -> pd.DataFrame:
    """Every column of the book's CSVs: what it means, its unit and in how many files it is."""
    counts: dict[str, int] = {}
    for cols in index["columns"]:
        for c in [c for c in str(cols).split(", ") if c]:
            counts[c] = counts.get(c, 0) + 1
    rows = [{"column": c, "meaning": COLUMN_DOC.get(c, ("named after its table; see that table's chapter", ""))[0],
             "unit": COLUMN_DOC.get(c, ("", ""))[1], "files": n} for c, n in counts.items()]
    df = pd.DataFrame(rows, columns=["column", "meaning", "unit", "files"])  # none yet: empty
    return df.sort_values(["files", "column"], ascending=[False, True]).set_index("column")
