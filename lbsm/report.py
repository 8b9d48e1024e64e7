"""Tables, figures, captions and status records for the book's chapters.

The notebooks in ``book/`` stay thin: every computation, loop and plot lives here, each function
with one job. The pattern of a chapter is::

    P = report.profile(profile, seeds=seeds, ...)   # the profile with papermill overrides
    T = report.train(P)                              # train or load every (SB, LB) trial
    report.table2(T)                                 # ours vs the paper (numbers from lbsm.paper)
    report.caption(T, "Table 2")                     # profile, device, seeds, epochs, commit
    report.glue_all(report.gap_text(T))              # numbers used in prose, glued
    report.record("gap", report.artifact(...))       # the status row the intro collects

Training results come from the results store (``$LBSM_RESULTS``), and so do the analyses
(sharpness, Hessian, interpolation), cached by ``analysis`` as JSON next to the runs: a second
render of the book recomputes nothing.
"""
from __future__ import annotations

import inspect
import json
import math
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm.auto without ipywidgets

from . import data as lbsm_data
from . import machine, models, paper, profiles
from . import train as training
from .results import DATASET_NAMES, Trained, data_ready, dataset_of

STATUS_KEY = "lbsm_status"
SB_COLOR, LB_COLOR = "tab:blue", "tab:red"

# every artifact of the paper the book reproduces, the chapter that makes it, and which networks
# the paper shows it for (the intro's status table lists them all, run or not)
ARTIFACTS = [
    ("Table 1", "setup", "network configurations and parameter counts", paper.NETS),
    ("Table 5", "setup", "data sets", ("MNIST", "TIMIT", "CIFAR-10", "CIFAR-100")),
    ("Table 2", "gap", "SB vs LB train/test accuracy", paper.NETS),
    ("Figure 2", "gap", "accuracy per epoch", ("F2", "C1")),
    ("Figure 3", "interpolation", "linear parametric plots", paper.NETS),
    ("Figure 7", "interpolation", "curvilinear parametric plots", paper.NETS),
    ("Distance ratio", "interpolation", "||x_s - x0|| / ||x_l - x0|| in 3-10", paper.NETS),
    ("Table 3", "sharpness", "sharpness in full space", paper.NETS),
    ("Table 4", "sharpness", "sharpness in random 100-dim subspaces", paper.NETS),
    ("Hessian spectrum", "sharpness", "top eigenvalues and trace (not in the paper)", paper.NETS),
    ("Figure 4", "small_batches", "test accuracy and sharpness vs batch size", ("F2", "C1")),
    ("Figure 5", "small_batches", "warm-started LB runs", ("F2", "C1")),
    ("Figure 6", "small_batches", "sharpness vs loss along training", ("F2", "C1")),
    ("Table 6", "remedies", "data augmentation", ("C1", "C2", "C3", "C4")),
    ("Table 7", "remedies", "conservative training", paper.NETS),
    ("Section E.3", "remedies", "robust (adversarial) training", paper.NETS),
]


# --------------------------------------------------------------------------- profiles and runs


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


def _seeds_text(seeds) -> str:
    seeds = list(seeds)
    return f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))}"


def _span(values) -> str:
    v = sorted(set(int(x) for x in values))
    return str(v[0]) if len(v) == 1 else f"{v[0]}-{v[-1]}"


def caption(T: Trained, what: str = "", nets=None, extra: str = "") -> "Markdown":
    """A caption stating profile, device, seeds, epochs and commit of the runs shown.

    ``extra``: the analysis settings (``analysis_note``) when the artifact is computed from the runs.
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
                     f"{' (stop: plateau)' if cfg.stop == 'plateau' else ''}, {precisions(sb + lb)}{data}")
    runs = [r for n in nets for r in T.runs(n)]
    devices = sorted({r.meta.get("device", "?") for r in runs}) or ["—"]
    commits = sorted({r.meta.get("commit", "?") for r in runs}) or ["—"]
    now = machine.git_commit()
    text = (f"*{what + ' — ' if what else ''}profile `{T.profile.name}`; "
            f"{'; '.join(parts) or 'no runs'}; {extra + '; ' if extra else ''}device: {', '.join(devices)}; "
            f"trained at commit {', '.join(commits)}"
            f"{'' if commits == [now] else f', rendered at commit {now}'}.*")
    return Markdown(text)


def _declared_nets(name: str) -> tuple[str, ...]:
    """The networks profile ``name`` trains as defined (before a papermill ``nets`` override)."""
    return tuple(profiles.get(name).nets) if name in profiles.PROFILES else ()


def coverage(T: Trained) -> "Markdown":
    """Which networks this profile trained, and why the others are absent (needs data / profile)."""
    from IPython.display import Markdown
    lines = [f"Profile `{T.profile.name}` ({T.profile.description}) trains "
             f"{', '.join(T.nets) or 'no network'}."]
    for n in paper.NETS:
        if n in T.missing:
            lines.append(f"- **{n}: needs data: {DATASET_NAMES[T.missing[n]]}** "
                         f"({lbsm_data.HOW_TO_GET[T.missing[n]]}).")
        elif n not in T.pairs and n in _declared_nets(T.profile.name):
            lines.append(f"- {n}: in profile `{T.profile.name}` but left out of this run by the "
                         "papermill parameter `nets`.")
        elif n not in T.pairs:
            ready = data_ready(dataset_of(n))
            lines.append(f"- {n}: not in profile `{T.profile.name}`"
                         + ("" if ready else f"; needs data: {DATASET_NAMES[dataset_of(n)]}")
                         + (" (the `paper` profile trains it)" if ready else "") + ".")
    return Markdown("\n".join(lines))


# --------------------------------------------------------------------------- tidy CSV beside each artifact
REPO = Path(__file__).resolve().parent.parent


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
    display(shown)
    return HTML(f'<p class="lbsm-csv"><a href="../{name}.csv" download>data: {name}.csv</a> '
                f'({len(frame)} rows)</p>')


def stack(**frames: pd.DataFrame) -> pd.DataFrame:
    """Frames one under another, each row labelled with its keyword (``table``)."""
    return pd.concat([f.reset_index().assign(table=k) for k, f in frames.items()], ignore_index=True)


def histories(T: Trained) -> pd.DataFrame:
    """Every run's per-epoch history, tidy: net, regime, seed, batch size, then the metrics."""
    return pd.concat([r.history.assign(net=n, regime=regime, seed=r.config.seed,
                                       batch_size=r.config.batch_size)
                      for n in T.nets for pair in T.pairs[n] for regime, r in zip(("SB", "LB"), pair)],
                     ignore_index=True) if T.nets else pd.DataFrame()


# --------------------------------------------------------------------------- glue and status
def glue_all(values: dict) -> None:
    """Glue every ``name: value`` (myst_nb ``glue``, not displayed) for the chapter's prose."""
    from myst_nb import glue
    for name, value in values.items():
        glue(name, value, display=False)


def precisions(runs) -> str:
    """The precision the runs trained in (their metadata), marked "(auto)" when the config left
    the choice to the hardware (``lbsm.machine.resolve_precision``)."""
    runs = list(runs)
    used = sorted({r.meta.get("precision", r.config.precision) for r in runs})
    return "/".join(used) + (" (auto)" if runs and all(r.config.precision == "auto" for r in runs) else "")


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


def artifact(name: str, T: Trained | None = None, nets_done=None, deviations_=None,
             note: str = "", missing=None, profile_name: str | None = None) -> dict:
    """The status row of one artifact: reproduced / partial / needs data / not run.

    ``reproduced``: every network the paper shows it for was done, with no deviation from the
    protocol; ``partial``: some were, or with deviations (listed in the note); ``needs data``:
    none could run because data is missing; ``not run``: none ran.
    """
    entry = next((a for a in ARTIFACTS if a[0] == name), None)
    if entry is None:
        raise ValueError(f"unknown artifact {name!r}; known: {', '.join(a[0] for a in ARTIFACTS)}")
    wanted = list(entry[3])
    done = list(nets_done if nets_done is not None else (T.nets if T else []))
    done = [n for n in done if n in wanted]
    missing = dict(missing if missing is not None else (T.missing if T else {}))
    devs = list(deviations_ if deviations_ is not None else
                sorted({f"{n}: {d}" for n in done for d in deviations(T.profile, n, T.runs(n))} if T else []))
    absent = [n for n in wanted if n not in done]
    missing.update({n: dataset_of(n) for n in absent
                    if n in models.NETWORKS and n not in missing and not data_ready(dataset_of(n))})
    needs = sorted({DATASET_NAMES.get(missing[n], missing[n]) for n in absent if n in missing})
    if not done:
        status = "needs data" if needs else "not run"
    elif absent or devs:
        status = "partial"
    else:
        status = "reproduced"
    notes = []
    if done:
        notes.append(f"done: {', '.join(done)}")
    if needs:
        notes.append(f"needs data: {', '.join(needs)}")
    other = [n for n in absent if n not in missing]
    declared = _declared_nets(T.profile.name) if T else ()
    trained = T.pairs if T else {}
    skipped = [n for n in other if n in trained]  # trained, but this analysis skips it
    if skipped and done:
        notes.append(f"not computed under this profile for: {', '.join(skipped)}")
    left_out = [n for n in other if n in declared and n not in trained]
    if left_out and done:
        notes.append(f"left out by the `nets` parameter: {', '.join(left_out)}")
    other = [n for n in other if n not in declared and n not in trained]
    if other and done:
        notes.append(f"not in profile: {', '.join(other)}")
    notes += devs
    if note:
        notes.append(note)
    return dict(artifact=name, chapter=entry[1], status=status,
                profile=profile_name or (T.profile.name if T else ""),
                note="; ".join(notes))


def record(chapter: str, *rows: dict) -> pd.DataFrame:
    """Glue a chapter's status rows (key ``lbsm_status``) for the intro, and show them."""
    glue_all({STATUS_KEY: json.dumps({"chapter": chapter, "rows": list(rows),
                                      "commit": machine.git_commit()})})
    return pd.DataFrame(list(rows)).set_index("artifact")


def _notebook_status(path: Path) -> tuple[list[dict], dict]:
    """Status rows glued by an executed chapter notebook, and its papermill metadata."""
    import ast
    nb = json.loads(path.read_text())
    rows = []
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            if out.get("metadata", {}).get("scrapbook", {}).get("name") == STATUS_KEY:
                text = next(v for k, v in out["data"].items() if k.endswith("text/plain"))
                text = "".join(text) if isinstance(text, list) else text
                rows += json.loads(ast.literal_eval(text))["rows"]
    return rows, nb.get("metadata", {}).get("papermill", {})


def status_table(book_dir: str | Path | None = None) -> pd.DataFrame:
    """Every artifact of ``ARTIFACTS`` with the status its chapter recorded when it last ran.

    Read from the executed notebooks next to the running one (the glued ``lbsm_status`` of each), so the
    table describes exactly what the book shows; an artifact whose chapter is missing or has not
    run is ``not run``.
    """
    from . import book
    if book_dir is None:  # the executing notebook's directory (book/ or tests/nbval/), else book/
        here = Path.cwd()
        book_dir = here if any(book.chapter_path(c, here).is_file() for c in book.CHAPTERS
                               if c != book.ROOT) else book.BOOK_DIR
    book_dir = Path(book_dir)
    recorded, runtime = {}, {}
    for chapter in {a[1] for a in ARTIFACTS}:
        path = book_dir / f"{chapter}.ipynb"
        if path.is_file():
            rows, pm_meta = _notebook_status(path)
            recorded.update({r["artifact"]: r for r in rows})
            if pm_meta.get("duration") is not None:
                runtime[chapter] = pm_meta["duration"]
    out = []
    for name, chapter, what, _ in ARTIFACTS:
        r = recorded.get(name)
        exists = (book_dir / f"{chapter}.ipynb").is_file()
        out.append(dict(artifact=name, what=what, chapter=chapter,
                        status=r["status"] if r else "not run",
                        profile=r["profile"] if r else "",
                        note=r["note"] if r else ("chapter has not run" if exists
                                                  else "chapter not written yet"),
                        minutes=round(runtime[chapter] / 60, 1) if chapter in runtime else None))
    return pd.DataFrame(out).set_index("artifact")


def status_counts(status: pd.DataFrame) -> dict:
    """Glue-ready counts of the status table (``n_reproduced``, ``n_partial``, ...)."""
    c = status.status.value_counts()
    return {f"n_{k.replace(' ', '_')}": str(int(c.get(k, 0)))
            for k in ("reproduced", "partial", "needs data", "not run")} | {"n_artifacts": str(len(status))}


def rerun_commands(chapters=None) -> "Markdown":
    """Markdown with the papermill command line that re-runs each chapter under a profile."""
    from IPython.display import Markdown
    from . import book
    chapters = chapters or [c for c in book.CHAPTERS if c != book.ROOT]
    lines = ["```bash",
             "export LBSM_DATA=~/.cache/lbsm LBSM_RESULTS=$PWD/results   # data and results store",
             "python -m lbsm.book run --profile cpu                     # every chapter, then the intro"]
    lines += [f"papermill book/{c}.ipynb book/{c}.ipynb -p profile paper" for c in chapters]
    lines += ["papermill book/gap.ipynb book/gap.ipynb -p profile cpu -p seeds 5 -p nets F1,C1",
              "jupyter-book build . -W -n --keep-going                  # HTML, no execution", "```"]
    return Markdown("\n".join(lines))


def intro_text() -> dict:
    """Glue-ready numbers of the paper's claims for the intro (from ``lbsm.paper``)."""
    t = paper.table(2)
    gap = t.test_sb - t.test_lb
    o, r = paper.statement("sharpness_orders_of_magnitude"), paper.statement("distance_ratio")
    return {"intro_gap_min": f"{gap.min():.2f}", "intro_gap_max": f"{gap.max():.2f}",
            "intro_orders": f"{o['low']}-{o['high']}", "intro_ratio": f"{r['low']}-{r['high']}"}


# --------------------------------------------------------------------------- setup chapter
def _layer_summary(model) -> str:
    from torch import nn
    kinds = {"Linear": nn.Linear, "Conv2d": nn.Conv2d, "BatchNorm": nn.modules.batchnorm._BatchNorm,
             "MaxPool": nn.MaxPool2d, "Dropout": nn.Dropout}
    counts = {k: sum(isinstance(m, t) for m in model.modules()) for k, t in kinds.items()}
    return ", ".join(f"{v} {k}" for k, v in counts.items() if v)


def table1() -> pd.DataFrame:
    """Table 1 of the paper with our networks: parameter counts and layers from ``lbsm.models``."""
    t = paper.table(1)
    rows = []
    for net in paper.NETS:
        m = models.build(net)
        ds, k, shape = models.NETWORKS[net]
        rows.append({"net": net, "type": t.loc[net, "type"], "data set": t.loc[net, "dataset"],
                     "paper (Appendix B)": t.loc[net, "appendix_b"],
                     "input": " × ".join(map(str, shape)), "classes": k,
                     "layers (ours)": _layer_summary(m), "parameters (ours)": f"{models.num_params(m):,}"})
    return pd.DataFrame(rows).set_index("net")


def _features(shape) -> str:
    return " × ".join(map(str, shape))


def table5() -> pd.DataFrame:
    """Table 5 (data sets): the paper's sizes next to what the data directory holds."""
    t = paper.table(5)
    names = {v: k for k, v in DATASET_NAMES.items()}
    rows = []
    for name in t.index:
        ds = names[name]
        row = {"data set": name, "train (paper)": int(t.loc[name, "train"]),
               "test (paper)": int(t.loc[name, "test"]), "features (paper)": t.loc[name, "features"],
               "classes (paper)": int(t.loc[name, "classes"])}
        if data_ready(ds):
            d = lbsm_data.load(ds)
            row.update({"train (ours)": len(d.x_train), "test (ours)": len(d.x_test),
                        "features (ours)": _features(d.input_shape), "classes (ours)": d.num_classes,
                        "status": "loaded (md5 verified)"})
        else:
            row.update({"train (ours)": "—", "test (ours)": "—", "features (ours)": "—",
                        "classes (ours)": "—", "status": f"needs data: {name}"})
        rows.append(row)
    return pd.DataFrame(rows).set_index("data set")


def docstring_bullets(obj) -> list[str]:
    """The ``* ...`` bullet items of an object's docstring, continuation lines joined."""
    items, cur = [], None
    for line in inspect.getdoc(obj).splitlines():
        if line.startswith("* "):
            cur = line[2:].strip()
            items.append(cur)
        elif cur is not None and line.startswith("  ") and line.strip():
            items[-1] += " " + line.strip()
        else:
            cur = None
    return items


def protocol_choices() -> "Markdown":
    """The protocol and architecture decisions the paper leaves open, from lbsm's docstrings.

    They are written once, in ``lbsm.train`` (optimizer, stopping, x0), ``lbsm.models`` (layers,
    initialization, BatchNorm, paper-vs-code architecture) and ``lbsm.models.evaluation``
    (BatchNorm at evaluation); this function only quotes them.
    """
    from IPython.display import Markdown

    def md(items):
        return "\n".join("- " + re.sub(r"``([^`]+)``", r"`\1`", s) for s in items)
    ev = inspect.getdoc(models.evaluation).split("\n\n", 1)[1].replace("\n", " ")
    ev = re.sub(r"``([^`]+)``", r"`\1`", ev)
    return Markdown("**Training (`lbsm.train`)**\n\n" + md(docstring_bullets(training)) +
                    "\n\n**Networks (`lbsm.models`)**\n\n" + md(docstring_bullets(models)) +
                    f"\n\n**BatchNorm at evaluation (`lbsm.models.evaluation`)**: {ev}")


def profile_table(P: profiles.Profile) -> pd.DataFrame:
    """What a profile trains: per network seeds, epochs, stop rule, subsets, precision, deviations."""
    rows = []
    for n, plan in P.nets.items():
        rows.append({"net": n, "seeds": ", ".join(map(str, plan.seeds)),
                     "SB batch": training.SB_BATCH, "LB batch": training.lb_batch(n, plan.train_subset),
                     "epochs SB / LB": f"{plan.sb_epochs} / {plan.lb_epochs}", "stop": plan.stop,
                     "train / test examples": f"{plan.train_subset or 'all'} / {plan.test_subset or 'all'}",
                     "precision": plan.precision,
                     "data": "ready" if data_ready(dataset_of(n)) else
                     f"needs data: {DATASET_NAMES[dataset_of(n)]}",
                     "deviations from the paper": "; ".join(deviations(P, n)) or "none"})
    return pd.DataFrame(rows).set_index("net")


def analysis_settings(P: profiles.Profile) -> pd.DataFrame:
    """The profile's sharpness / Hessian / interpolation knobs next to the paper's values."""
    pr = paper.protocol()
    a = pr["parametric_alphas"]
    rows = [("L-BFGS-B iterations (Metric 2.1)", P.sharpness_iters, pr["sharpness_lbfgsb_iterations"]),
            ("eps", ", ".join(f"{e:g}" for e in P.sharpness_eps), ", ".join(f"{e:g}" for e in pr["sharpness_eps"])),
            ("sharpness data (training examples)", _per_net(P, P.sharpness_examples), "all (training function)"),
            ("subspace dimension p (Table 4)", P.subspace_dim, pr["subspace_dim"]),
            ("alpha points (Figs. 3, 7)", P.alpha_points, f"{a['num']} in [{a['start']}, {a['stop']}]"),
            ("interpolation data", _per_net(P, P.landscape_examples), "all"),
            ("Hessian eigenvalues / data", f"{P.hessian_k} / {P.hessian_subset or 'all'}", "not computed"),
            ("Hutchinson samples", P.hutchinson_samples, "not computed")]
    return pd.DataFrame(rows, columns=["knob", f"profile {P.name}", "paper"]).set_index("knob")


def table1_text(t1: pd.DataFrame) -> dict:
    """Glue-ready parameter counts (``params_F1`` ...) and their range."""
    n = {net: int(v.replace(",", "")) for net, v in t1["parameters (ours)"].items()}
    return {**{f"params_{k}": f"{v:,}" for k, v in n.items()},
            "params_min": f"{min(n.values()) / 1e6:.2f} M", "params_max": f"{max(n.values()) / 1e6:.2f} M"}


def static_caption(P: profiles.Profile, what: str, source: str) -> "Markdown":
    """Caption of a table computed without training (profile, device, commit; no seeds/epochs)."""
    from IPython.display import Markdown
    return Markdown(f"*{what} — profile `{P.name}`; {source}; no training (seeds and epochs do not "
                    f"apply); device: {machine.device_name(training.default_device())}; "
                    f"commit {machine.git_commit()}.*")


def setup_status(P: profiles.Profile, t5: pd.DataFrame) -> list[dict]:
    """Status rows of Table 1 (every network built) and Table 5 (data sets found)."""
    loaded = [n for n in t5.index if t5.loc[n, "status"].startswith("loaded")]
    missing = {n: n for n in t5.index if n not in loaded}
    return [artifact("Table 1", nets_done=paper.NETS, deviations_=[], profile_name=P.name,
                     note="parameter counts from lbsm.models"),
            artifact("Table 5", nets_done=loaded, deviations_=[], missing=missing, profile_name=P.name)]


# --------------------------------------------------------------------------- gap chapter
TABLE2_ROWS = [("train SB", "train_sb", "train_acc", 0), ("train LB", "train_lb", "train_acc", 1),
               ("test SB", "test_sb", "test_acc", 0), ("test LB", "test_lb", "test_acc", 1)]


def table2(T: Trained) -> pd.DataFrame:
    """Table 2, ours vs the paper: final accuracies (%) mean and sd over seeds, and differences.

    One row per (network, quantity), quantities train/test x SB/LB and the gap test SB - test LB.
    Our accuracies are those of the final epoch; sd is the sample sd over seeds (NaN for one).
    """
    ptab = paper.table(2)
    rows = []
    for net in T.nets:
        finals = [(sb.final, lb.final) for sb, lb in T.pairs[net]]
        for label, pcol, col, i in TABLE2_ROWS:
            m, s = mean_sd(f[i][col] for f in finals)
            rows.append(dict(net=net, quantity=label, ours=m, ours_sd=s, paper=ptab.loc[net, pcol],
                             paper_sd=ptab.loc[net, f"{pcol}_sd"], seeds=len(finals)))
        m, s = mean_sd(f[0]["test_acc"] - f[1]["test_acc"] for f in finals)
        rows.append(dict(net=net, quantity="gap (test SB - LB)", ours=m, ours_sd=s,
                         paper=ptab.loc[net, "test_sb"] - ptab.loc[net, "test_lb"], paper_sd=float("nan"),
                         seeds=len(finals)))
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df["ours - paper"] = df.ours - df.paper
    return df.set_index(["net", "quantity"])


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


def gap_text(T: Trained, t2: pd.DataFrame) -> dict:
    """Glue-ready text for the gap chapter's prose (gap per network, ours vs paper, seeds)."""
    if t2.empty:
        t2 = pd.DataFrame({"ours": [], "ours_sd": [], "paper": []},
                          index=pd.MultiIndex.from_tuples([], names=["net", "quantity"]))
        return {"gap_sentence": "no network could be trained", "gap_nets": "none",
                "gap_profile": T.profile.name, "gap_max_paper": "—", "gap_min_paper": "—",
                "gap_positive": "0 of 0", "overfit_sentence": "no runs"}
    g = t2.xs("gap (test SB - LB)", level="quantity")
    parts = [f"{net}: {pm(r.ours, r.ours_sd)} points (paper {r.paper:.2f})" for net, r in g.iterrows()]
    pt = paper.table(2)
    return {"gap_sentence": "; ".join(parts), "gap_nets": ", ".join(T.nets),
            "gap_profile": T.profile.name,
            "gap_max_paper": f"{(pt.test_sb - pt.test_lb).max():.2f}",
            "gap_min_paper": f"{(pt.test_sb - pt.test_lb).min():.2f}",
            "gap_positive": f"{int((g.ours > 0).sum())} of {len(g)}",
            "overfit_sentence": overfit_text(T)}


def _history_mean(runs, col: str) -> pd.DataFrame:
    h = pd.concat([r.history[["epoch", col]].assign(seed=r.config.seed) for r in runs])
    return h.groupby("epoch")[col].agg(["mean", "min", "max"]).reset_index()


def plot_accuracy(T: Trained, nets=None):
    """Fig. 2: train (dashed) / test (solid) accuracy per epoch, SB blue, LB red, one panel per net.

    Lines are means over seeds with the min-max band; the paper's single-run series (Fig2a_F2,
    Fig2b_C1) are overlaid in thin dotted lines for the networks the paper plots.
    """
    import matplotlib.pyplot as plt
    nets = [n for n in (nets or T.nets) if n in T.pairs]
    fig, axes = plt.subplots(1, max(1, len(nets)), figsize=(5.2 * max(1, len(nets)), 3.8), squeeze=False)
    for ax, net in zip(axes[0], nets):
        for i, (regime, color) in enumerate((("SB", SB_COLOR), ("LB", LB_COLOR))):
            runs = [pair[i] for pair in T.pairs[net]]
            for split, ls in (("train", "--"), ("test", "-")):
                h = _history_mean(runs, f"{split}_acc")
                h = h[h.epoch > 0]
                ax.plot(h.epoch, h["mean"], ls, color=color, marker="." if len(h) < 10 else None,
                        label=f"{regime}-{split} (ours)")
                if len(runs) > 1:
                    ax.fill_between(h.epoch, h["min"], h["max"], color=color, alpha=0.15, lw=0)
        key = {"F2": "Fig2a_F2", "C1": "Fig2b_C1"}.get(net)
        if key:
            for name, g in paper.figure(key).groupby("series", sort=False):
                regime, split = name.split("_")
                ax.plot(g.x, g.y, ":" if split == "train" else "-.", lw=1, alpha=0.7,
                        color="navy" if regime == "SB" else "darkred", label=f"{regime}-{split} (paper)")
        ax.set(xlabel="epoch", ylabel="accuracy (%)",
               title=f"{net}" + (" (paper: Fig. 2)" if key else " (not plotted in the paper)"))
        ax.legend(fontsize=7, ncol=2)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    plt.close(fig)
    return fig


def overfit_text(T: Trained) -> str:
    """Where each run's test accuracy peaks vs where it ends (the paper: no peak-then-decay)."""
    parts = []
    for net in T.nets:
        for i, regime in enumerate(("SB", "LB")):
            h = pd.concat([p[i].history for p in T.pairs[net]]).groupby("epoch").test_acc.mean()
            h = h[h.index > 0]
            if len(h):
                parts.append(f"{net} {regime} peaks at epoch {int(h.idxmax())} ({h.max():.2f}%) "
                             f"and ends at {h.iloc[-1]:.2f}% (epoch {int(h.index[-1])})")
    return "; ".join(parts) or "no runs"


def gap_status(T: Trained) -> list[dict]:
    """Status rows of Table 2 and Figure 2."""
    extra = [n for n in T.nets if n not in ("F2", "C1")]
    return [artifact("Table 2", T),
            artifact("Figure 2", T, note=f"also shown: {', '.join(extra)}" if extra else "")]


# --------------------------------------------------------------------------- analyses (cached)


# --------------------------------------------------------------------------- sharpness chapter


def subspace_kinds_text(kinds: pd.DataFrame) -> dict:
    """Glue-ready sentences for ``subspace_kinds``: where it was measured, the LB/SB ratio under each
    reading of A, and which reading comes closest to the paper (log distance over SB and LB)."""
    if kinds.empty:
        return {"kinds_where": "not computed", "kinds_sentence": ""}
    a = kinds.attrs
    ratios = ", ".join(f"{k} {r:.3g}" for k, r in kinds["LB/SB"].items())
    both = kinds[(kinds.SB > 0) & (kinds.LB > 0)]
    sentence = (f"LB/SB ratio under each reading: {ratios} (paper "
                f"{kinds['paper LB'].iloc[0] / kinds['paper SB'].iloc[0]:.3g}).")
    if len(both):
        dist = (np.log10(both.SB / both["paper SB"]).abs() + np.log10(both.LB / both["paper LB"]).abs())
        k = dist.idxmin()
        sentence += (f" Closest to the paper's SB {both.loc[k, 'paper SB']:g} / LB "
                     f"{both.loc[k, 'paper LB']:g} (log scale): {k}, SB {both.loc[k, 'SB']:.3g} / LB "
                     f"{both.loc[k, 'LB']:.3g}.")
    return {"kinds_where": f"{a['net']}, seed {a['seed']}, eps = {a['eps']:g}",
            "kinds_sentence": sentence}


def sharpness_table(values: pd.DataFrame, table: int) -> pd.DataFrame:
    """Table 3 (``table=3``) or 4 from ``sharpness_values``: ours vs the paper, mean and sd.

    Rows (net, eps, regime) plus a row ``LB/SB`` per (net, eps), the ratio of the means (the
    paper's "1-2 orders of magnitude").
    """
    if values.empty:
        return pd.DataFrame()
    ptab = paper.table(table)
    rows = []
    for (net, eps), g in values.groupby(["net", "eps"], sort=False):
        means = {}
        for regime in ("sb", "lb"):
            m, s = mean_sd(g[g.regime == regime].value)
            means[regime] = m
            pm_, ps = ptab.loc[net, f"{regime}_{eps}"], ptab.loc[net, f"{regime}_{eps}_sd"]
            rows.append(dict(net=net, eps=eps, regime=regime.upper(), ours=m, ours_sd=s, paper=pm_,
                             paper_sd=ps, seeds=int((g.regime == regime).sum())))
        p_ratio = ptab.loc[net, f"lb_{eps}"] / ptab.loc[net, f"sb_{eps}"] if ptab.loc[net, f"sb_{eps}"] else float("nan")
        rows.append(dict(net=net, eps=eps, regime="LB/SB", ours=means["lb"] / means["sb"]
                         if means["sb"] else float("nan"), ours_sd=float("nan"), paper=p_ratio,
                         paper_sd=float("nan"), seeds=int((g.regime == "sb").sum())))
    df = pd.DataFrame(rows).set_index(["net", "eps", "regime"])
    df["ours / paper"] = df.ours / df.paper
    return df


def sharpness_text(t3: pd.DataFrame, t4: pd.DataFrame, P: profiles.Profile) -> dict:
    """Glue-ready sentences: LB/SB sharpness ratios per network and eps, ours vs the paper."""
    def ratios(t):
        if t.empty:
            return "not computed"
        r = t.xs("LB/SB", level="regime")
        return "; ".join(f"{net} at eps = {eps}: {row.ours:.1f} (paper {row.paper:.1f})"
                         for (net, eps), row in r.iterrows())

    def orders(t):
        if t.empty:
            return "—"
        r = t.xs("LB/SB", level="regime").ours
        r = r[r > 0]
        return f"{np.log10(r.min()):.1f} to {np.log10(r.max()):.1f}" if len(r) else "—"
    o = paper.statement("sharpness_orders_of_magnitude")
    return {"sharp_full_ratios": ratios(t3), "sharp_sub_ratios": ratios(t4),
            "sharp_full_orders": orders(t3), "sharp_sub_orders": orders(t4),
            "subspace_p": str(P.subspace_dim), "paper_orders": f"{o['low']}-{o['high']}"}


def plot_sharpness(t3: pd.DataFrame, t4: pd.DataFrame):
    """Sharpness (log scale) of SB and LB minimizers, ours (bars) vs the paper (black markers).

    Bars below 1e-3 are drawn at 1e-3 (the tables give the values).
    """
    import matplotlib.pyplot as plt
    tabs = [(t, title) for t, title in ((t3, "Table 3: full space"), (t4, "Table 4: random subspace"))
            if not t.empty]
    fig, axes = plt.subplots(1, max(1, len(tabs)), figsize=(5.6 * max(1, len(tabs)), 3.6), squeeze=False)
    for ax, (t, title) in zip(axes[0], tabs):
        t = t[t.index.get_level_values("regime") != "LB/SB"]
        labels = [f"{n}\neps {e}" for n, e, _ in t.index[::2]]
        x = np.arange(len(labels))
        for i, (regime, color) in enumerate((("SB", SB_COLOR), ("LB", LB_COLOR))):
            s = t.xs(regime, level="regime")
            ax.bar(x + (i - 0.5) * 0.38, s.ours.clip(lower=1e-3), 0.38, yerr=s.ours_sd.fillna(0),
                   color=color, alpha=0.8, label=f"{regime} (ours)")
            ax.plot(x + (i - 0.5) * 0.38, s.paper, "k_" if i else "kx", ms=10, label=f"{regime} (paper)")
        ax.set(yscale="log", xticks=x, xticklabels=labels, ylabel="sharpness (Metric 2.1)", title=title)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    plt.close(fig)
    return fig


def hessian_table(h: pd.DataFrame) -> pd.DataFrame:
    """Mean ± sd over seeds of each eigenvalue and the trace, per (net, regime), and LB/SB of lambda_1."""
    if h.empty:
        return pd.DataFrame()
    cols = [c for c in h.columns if c.startswith("lambda_")] + ["trace"]  # sd over seeds
    out = []
    for (net, regime), g in h.groupby(["net", "regime"], sort=False):
        out.append({"net": net, "regime": regime, "seeds": len(g),
                    **{c: pm(*mean_sd(g[c]), digits=3 if abs(g[c].mean()) < 10 else 1) for c in cols}})
    df = pd.DataFrame(out).set_index(["net", "regime"])
    return df


def hessian_text(h: pd.DataFrame) -> dict:
    """Glue-ready sentence: LB/SB ratio of the top eigenvalue and of the trace per network."""
    if h.empty:
        return {"hess_sentence": "not computed"}
    m = h.groupby(["net", "regime"], sort=False)[["lambda_1", "trace"]].mean()
    parts = [f"{net}: top eigenvalue {m.loc[(net, 'LB'), 'lambda_1']:.3g} (LB) vs "
             f"{m.loc[(net, 'SB'), 'lambda_1']:.3g} (SB), trace {m.loc[(net, 'LB'), 'trace']:.3g} vs "
             f"{m.loc[(net, 'SB'), 'trace']:.3g}"
             for net in m.index.get_level_values(0).unique()
             if (net, "LB") in m.index and (net, "SB") in m.index]
    return {"hess_sentence": "; ".join(parts) or "not computed"}


def _per_net(P: profiles.Profile, examples, prefix: str = "") -> str:
    """A per-network count as text: "10000" when all networks agree, else "10000 (F1), 1000 (C1)"."""
    text = {n: f"{prefix}{examples(n)}" if examples(n) else "all" for n in P.nets}
    if len(set(text.values())) == 1:
        return next(iter(text.values()))
    return ", ".join(f"{t} ({n})" for n, t in text.items())


def analysis_deviations(P: profiles.Profile, kind: str) -> list[str]:
    """How a profile's analysis settings depart from the paper (``sharpness`` / ``subspace`` / ``landscape``)."""
    pr, out = paper.protocol(), []
    if kind in ("sharpness", "subspace"):
        if P.sharpness_iters != pr["sharpness_lbfgsb_iterations"]:
            out.append(f"{P.sharpness_iters} L-BFGS-B iterations instead of {pr['sharpness_lbfgsb_iterations']}")
        if any(P.sharpness_examples(n) for n in P.nets):
            out.append(f"sharpness on the first {_per_net(P, P.sharpness_examples)} training examples")
        seeds = P.subspace_seeds if kind == "subspace" else P.sharpness_seeds
        if seeds is not None:
            out.append(f"sharpness of the first {seeds} trial(s)")
    if kind == "subspace" and P.subspace_dim != pr["subspace_dim"]:
        out.append(f"subspace dimension {P.subspace_dim} instead of {pr['subspace_dim']}")
    if kind == "landscape":
        if P.alpha_points != pr["parametric_alphas"]["num"]:
            out.append(f"{P.alpha_points} alpha points instead of {pr['parametric_alphas']['num']}")
        if any(P.landscape_examples(n) for n in P.nets):
            out.append(f"losses on the first {_per_net(P, P.landscape_examples)} examples")
    if kind == "hessian" and P.hessian_subset:
        out.append(f"Hessian on the first {P.hessian_subset} training examples")
    if kind == "hessian" and P.hessian_nets is not None and set(P.nets) - set(P.hessian_nets):
        out.append(f"Hessian only for {', '.join(P.hessian_nets)} (profile setting `hessian_nets`)")
    return out


def analysis_note(P: profiles.Profile, kind: str) -> str:
    """Caption text of an analysis's settings (``sharpness``, ``subspace``, ``hessian``, ``landscape``)."""
    eps = ", ".join(f"{e:g}" for e in P.sharpness_eps)
    if kind in ("sharpness", "subspace"):
        seeds = P.subspace_seeds if kind == "subspace" else P.sharpness_seeds
        space = f"random subspace p = {P.subspace_dim}" if kind == "subspace" else "full space"
        return (f"Metric 2.1 ({space}), eps {eps}, {P.sharpness_iters} L-BFGS-B iterations, "
                f"{_per_net(P, P.sharpness_examples)} training examples, "
                f"{'all trials' if seeds is None else f'first {seeds} trial(s)'}")
    if kind == "hessian":
        return (f"top {P.hessian_k} eigenvalues and Hutchinson trace ({P.hutchinson_samples} "
                f"samples) on {P.hessian_subset or 'all'} training examples, "
                f"{'all trials' if P.sharpness_seeds is None else f'first {P.sharpness_seeds} trial(s)'}")
    if kind == "landscape":
        return (f"{P.alpha_points} alpha points in [-1, 2], "
                f"{_per_net(P, P.landscape_examples, 'at most ')} examples per split")
    raise ValueError(f"unknown analysis {kind!r}")


def _with_training_devs(T: Trained, devs: list[str]) -> list[str]:
    return sorted({f"{n}: {d}" for n in T.nets for d in deviations(T.profile, n, T.runs(n))}) + devs


def sharpness_status(T: Trained, t3: pd.DataFrame, t4: pd.DataFrame, h: pd.DataFrame) -> list[dict]:
    """Status rows of Tables 3 and 4 and of the Hessian spectrum."""
    def done(t):
        return [] if t.empty else list(t.index.get_level_values("net").unique())
    return [artifact("Table 3", T, nets_done=done(t3),
                     deviations_=_with_training_devs(T, analysis_deviations(T.profile, "sharpness"))),
            artifact("Table 4", T, nets_done=done(t4),
                     deviations_=_with_training_devs(T, analysis_deviations(T.profile, "subspace"))),
            artifact("Hessian spectrum", T, nets_done=[] if h.empty else list(h.net.unique()),
                     deviations_=_with_training_devs(T, analysis_deviations(T.profile, "hessian")),
                     note="not in the paper: our addition")]


# --------------------------------------------------------------------------- interpolation chapter


def plot_parametric(curves: pd.DataFrame, kind: str = "linear"):
    """Figs. 3 / 7: loss (blue, left axis) and accuracy (red, right axis) along alpha, one panel per
    net; solid = training, dashed = testing; the paper's curves (Fig3_/Fig7_<net>) in thin lines
    (dotted = training, dash-dot = testing). alpha = 0 is the SB minimizer, alpha = 1 the LB minimizer."""
    import matplotlib.pyplot as plt
    nets = list(dict.fromkeys(curves.net)) if len(curves) else []
    ncol = min(3, max(1, len(nets)))
    nrow = max(1, math.ceil(len(nets) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.8 * ncol, 3.4 * nrow), squeeze=False)
    key = "Fig3" if kind == "linear" else "Fig7"
    for ax, net in zip(axes.flat, nets):
        ax2 = ax.twinx()
        c = curves[curves.net == net]
        for split, ls in (("train", "-"), ("test", "--")):
            s = c[c.split == split].sort_values("alpha")
            ax.plot(s.alpha, s.loss, ls, color=SB_COLOR, marker=".", label=f"loss {split} (ours)")
            ax2.plot(s.alpha, s.accuracy, ls, color=LB_COLOR, marker=".", label=f"accuracy {split} (ours)")
        if paper.has_figure(f"{key}_{net}"):
            f = paper.figure(f"{key}_{net}")
            for name, g in f.groupby("series", sort=False):
                what, split = name.split("_")
                (ax if what == "loss" else ax2).plot(g.x, g.y, ":" if split == "train" else "-.",
                                                      lw=1, alpha=0.7,
                                                      color="navy" if what == "loss" else "darkred",
                                                      label=f"{what} {split} (paper)")
        ax.set(xlabel="alpha", ylabel="cross-entropy", title=f"{net}: {kind} (paper: Fig. {key[3:]})")
        ax2.set_ylabel("accuracy (%)")
        ax2.set_ylim(0, 100)
        for a in (0, 1):
            ax.axvline(a, color="grey", lw=0.6, alpha=0.5)
    for ax in list(axes.flat)[len(nets):]:
        ax.set_visible(False)
    if nets:
        lines = [l for a in fig.axes for l in a.get_lines() if not l.get_label().startswith("_")]
        uniq = {l.get_label(): l for l in lines}
        fig.legend(list(uniq.values()), list(uniq.keys()), loc="lower center", ncol=4, fontsize=7,
                   bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    plt.close(fig)
    return fig


def _at(series: pd.DataFrame, alpha: float) -> float:
    """y of a (x, y) or (alpha, loss) curve at the point nearest to ``alpha``."""
    xs = series.iloc[:, 0].to_numpy()
    return float(series.iloc[int(np.abs(xs - alpha).argmin()), 1])


def rise_table(curves: pd.DataFrame, kind: str = "linear") -> pd.DataFrame:
    """How steeply the training loss rises beyond each minimizer, ours vs the paper.

    ``beyond LB`` = f(alpha = 1.5) - f(alpha = 1), ``beyond SB`` = f(alpha = -0.5) - f(alpha = 0)
    (nearest alpha points); the paper reads its curves the same way (Fig3_/Fig7_<net>).
    """
    key = "Fig3" if kind == "linear" else "Fig7"
    rows = []
    for net in dict.fromkeys(curves.net):
        c = curves[(curves.net == net) & (curves.split == "train")].sort_values("alpha")[["alpha", "loss"]]
        row = {"net": net, "beyond SB (ours)": _at(c, -0.5) - _at(c, 0), "beyond LB (ours)": _at(c, 1.5) - _at(c, 1)}
        if paper.has_figure(f"{key}_{net}"):
            f = paper.figure(f"{key}_{net}").query("series == 'loss_train'")[["x", "y"]]
            row.update({"beyond SB (paper)": _at(f, -0.5) - _at(f, 0), "beyond LB (paper)": _at(f, 1.5) - _at(f, 1)})
        rows.append(row)
    return pd.DataFrame(rows).set_index("net") if rows else pd.DataFrame()


def distance_table(d: pd.DataFrame) -> pd.DataFrame:
    """Mean ± sd and range of the distance ratio per network, next to the paper's 3-10."""
    r = paper.statement("distance_ratio")
    rows = [{"net": net, "ours": pm(*mean_sd(g.ratio)), "min": f"{g.ratio.min():.2f}",
             "max": f"{g.ratio.max():.2f}", "trials": len(g), "paper": f"{r['low']}-{r['high']}"}
            for net, g in d.groupby("net", sort=False)]
    return pd.DataFrame(rows).set_index("net") if rows else pd.DataFrame()


def interpolation_text(lin: pd.DataFrame, cur: pd.DataFrame, d: pd.DataFrame) -> dict:
    """Glue-ready sentences for the interpolation chapter."""
    r = paper.statement("distance_ratio")

    def rises(t):
        if t.empty:
            return "not computed"
        return "; ".join(f"{net}: {row['beyond LB (ours)']:.2f} beyond LB vs {row['beyond SB (ours)']:.2f} "
                         f"beyond SB" + (f" (paper {row['beyond LB (paper)']:.2f} vs {row['beyond SB (paper)']:.2f})"
                                         if "beyond LB (paper)" in row and not pd.isna(row['beyond LB (paper)']) else "")
                         for net, row in t.iterrows())
    ratio = ("; ".join(f"{net}: {pm(*mean_sd(g.ratio))}" for net, g in d.groupby("net", sort=False))
             if len(d) else "not computed")
    return {"rise_linear": rises(rise_table(lin, "linear")) if len(lin) else "not computed",
            "rise_curvilinear": rises(rise_table(cur, "curvilinear")) if len(cur) else "not computed",
            "ratio_sentence": ratio, "ratio_paper": f"{r['low']}-{r['high']}",
            "ratio_in_range": f"{int(d.in_range.sum()) if len(d) else 0} of {len(d)}"}


def interpolation_status(T: Trained, lin: pd.DataFrame, cur: pd.DataFrame, d: pd.DataFrame) -> list[dict]:
    """Status rows of Figures 3 and 7 and of the distance ratio."""
    devs = _with_training_devs(T, analysis_deviations(T.profile, "landscape"))
    return [artifact("Figure 3", T, nets_done=list(dict.fromkeys(lin.net)), deviations_=devs),
            artifact("Figure 7", T, nets_done=list(dict.fromkeys(cur.net)), deviations_=devs),
            artifact("Distance ratio", T, nets_done=list(dict.fromkeys(d.net)),
                     deviations_=_with_training_devs(T, []))]
