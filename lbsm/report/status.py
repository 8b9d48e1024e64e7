"""The status of every artifact of the paper the book reproduces: one row per artifact, computed
from its chapter's results (:mod:`lbsm.report.summary`) and tabled by the intro (``status_table``).

A row says ``complete`` / ``partial`` / ``needs data`` / ``not run`` (how much of the artifact ran:
whether its findings hold is the verdicts' job, ``lbsm.report.verdicts``), with a note listing the
networks done, the data missing and every deviation from the paper's protocol (training:
:func:`lbsm.report.deviations`; analyses: ``analysis_deviations``; the sections of
small_batches and remedies: their knobs). ``<chapter>_status`` gives a chapter's rows;
``analysis_note`` states an analysis's settings for its caption.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ..core import models
from ..core import paper
from ..core import catalog
from ..core.catalog import artifacts
from ..experiments import profiles
from .captions import declared_nets, deviations, per_net, sharpness_settings
from .render import PAPER_NETS, display_table
from ..core.constants import DATASET_NAMES
from ..experiments.plans import Result, dataset_of
from ..experiments.trials import Trained

if TYPE_CHECKING:
    from IPython.display import Markdown




# --------------------------------------------------------------------------- status rows, the intro's table
def artifact(name: str, T: Trained | None = None, nets_done=None, deviations_=None,
             note: str = "", missing=None, profile_name: str | None = None, ready=None) -> dict:
    """The status row of one artifact: complete / partial / needs data / not run.

    ``complete``: every network the paper shows it for was done, with no deviation from the
    protocol; ``partial``: some were, or with deviations (listed in the note); ``needs data``:
    none could run because data is missing; ``not run``: none ran. ``ready``: {data set: there},
    as the compute step found it (``Chapter.data_ready``), which says of a network that did not
    run and is not in ``missing`` whether its data is there (required when there is one).
    """
    entry = next((a for a in artifacts() if a[0] == name), None)
    if entry is None:
        raise ValueError(f"unknown artifact {name!r}; known: {', '.join(a[0] for a in artifacts())}")
    wanted = list(entry[3])
    done = list(nets_done if nets_done is not None else (T.nets if T else []))
    done = [n for n in done if n in wanted]
    missing = dict(missing if missing is not None else (T.missing if T else {}))
    devs = list(deviations_ if deviations_ is not None else
                sorted({f"{n}: {d}" for n in done for d in deviations(T.profile, n, T.runs(n))} if T else []))
    absent = [n for n in wanted if n not in done]
    unknown = [n for n in absent if n in models.NETWORKS and n not in missing]
    if unknown and ready is None:
        raise ValueError(f"{name}: {', '.join(unknown)} did not run; pass ready= (the chapter's "
                         "data_ready) to say whether their data is there")
    missing.update({n: dataset_of(n) for n in unknown if not ready[dataset_of(n)]})
    needs = sorted({DATASET_NAMES.get(missing[n], missing[n]) for n in absent if n in missing})
    if not done:  # "needs data" only when data is all that is missing (C1 and C2 need compute)
        status = "needs data" if needs and all(n in missing for n in absent) else "not run"
    elif absent or devs:
        status = "partial"
    else:
        status = "complete"
    notes = []
    if done:
        notes.append(f"done: {', '.join(done)}")
    if needs:
        notes.append(f"needs data: {', '.join(needs)}")
    other = [n for n in absent if n not in missing]
    if other and not done:
        notes.append(f"needs compute only: {', '.join(other)} (the data is here; the paper profile "
                     "runs it, GPU-scale compute)")
    declared = declared_nets(T.profile.name) if T else ()
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


def show(rows: list[dict]) -> None:
    """A chapter's status rows, whole (the intro collects them again from the results:
    :func:`lbsm.report.summary.book_rows`)."""
    display_table(pd.DataFrame(list(rows)).set_index("artifact"))


def status_table(rows: list[dict]) -> pd.DataFrame:
    """Every artifact of the catalog (``lbsm.core.catalog.artifacts()``) with the status its
    chapter's results give it (``rows``: :func:`lbsm.report.summary.book_rows`); an artifact no
    chapter recorded is ``not run``."""
    recorded = {r["artifact"]: r for r in rows}
    out = []
    for name, chapter, what, _ in artifacts():
        r = recorded.get(name)
        out.append(dict(artifact=name, what=what, chapter=chapter,
                        status=r["status"] if r else "not run", profile=r["profile"] if r else "",
                        note=r["note"] if r else "its chapter has not run"))
    return pd.DataFrame(out).set_index("artifact")


def status_counts(status: pd.DataFrame) -> dict:
    """Glue-ready counts of the status table (``n_complete``, ``n_partial``, ...)."""
    c = status.status.value_counts()
    return {f"n_{k.replace(' ', '_')}": str(int(c.get(k, 0)))
            for k in ("complete", "partial", "needs data", "not run")} | {"n_artifacts": str(len(status))}


def rerun_commands(chapters=None) -> "Markdown":
    """Markdown with the papermill command line that re-runs each chapter under a profile."""
    from IPython.display import Markdown
    chapters = chapters or [c for c in catalog.CHAPTERS if c != catalog.ROOT]
    lines = ["```bash",
             "export LBSM_DATA=~/.cache/lbsm LBSM_RESULTS=$PWD/results   # data and results store",
             "python -m lbsm.book run --profile cpu                     # every chapter, then the intro"]
    lines += [f"papermill book/{c}.ipynb book/{c}.ipynb -p profile paper" for c in chapters]
    lines += ["papermill book/gap.ipynb book/gap.ipynb -p profile cpu -p seeds 5 -p nets F1,C1",
              "jupyter-book build . -W -n --keep-going                  # HTML, no execution", "```"]
    return Markdown("\n".join(lines))


# --------------------------------------------------------------------------- analyses vs the paper
def analysis_deviations(P: profiles.Profile, kind: str) -> list[str]:
    """How a profile's analysis settings depart from the paper (``sharpness`` / ``subspace`` / ``landscape``)."""
    pr, out = paper.protocol(), []
    if kind in ("sharpness", "subspace"):
        if P.sharpness_iters != pr["sharpness_lbfgsb_iterations"]:
            out.append(f"{P.sharpness_iters} L-BFGS-B iterations instead of {pr['sharpness_lbfgsb_iterations']}")
        if any(P.sharpness_examples(n) for n in P.nets):
            out.append(f"sharpness on the first {per_net(P, P.sharpness_examples)} training examples")
        seeds = P.subspace_seeds if kind == "subspace" else P.sharpness_seeds
        if seeds is not None:
            out.append(f"sharpness of the first {seeds} trial(s)")
    if kind == "subspace" and P.subspace_dim != pr["subspace_dim"]:
        out.append(f"subspace dimension {P.subspace_dim} instead of {pr['subspace_dim']}")
    if kind == "landscape":
        if P.alpha_points != pr["parametric_alphas"]["num"]:
            out.append(f"{P.alpha_points} alpha points instead of {pr['parametric_alphas']['num']}")
        if any(P.landscape_examples(n) for n in P.nets):
            out.append(f"losses on the first {per_net(P, P.landscape_examples)} examples")
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
        return (f"Metric 2.1 ({space}), eps {eps}, L-BFGS-B from the box vertex along the gradient, "
                f"{P.sharpness_iters} iterations with its stopping tolerances off (a solve ends early "
                "only at a stationary vertex; the table gives the iterations each ran), "
                f"{per_net(P, P.sharpness_examples)} training examples, "
                f"{'all trials' if seeds is None else f'first {seeds} trial(s)'}")
    if kind == "hessian":
        return (f"top {P.hessian_k} eigenvalues and Hutchinson trace ({P.hutchinson_samples} "
                f"samples) on {P.hessian_subset or 'all'} training examples, "
                f"{'all trials' if P.sharpness_seeds is None else f'first {P.sharpness_seeds} trial(s)'}")
    if kind == "landscape":
        return (f"{P.alpha_points} alpha points in [-1, 2], "
                f"{per_net(P, P.landscape_examples, 'at most ')} examples per split")
    raise ValueError(f"unknown analysis {kind!r}")


# --------------------------------------------------------------------------- setup and gap chapters
def setup_status(P: profiles.Profile, t5: pd.DataFrame) -> list[dict]:
    """Status rows of Table 1 (every network built) and Table 5 (data sets found)."""
    loaded = [n for n in t5.index if t5.loc[n, "status"].startswith("loaded")]
    missing = {n: n for n in t5.index if n not in loaded}
    return [artifact("Table 1", nets_done=paper.NETS, deviations_=[], profile_name=P.name,
                     note="parameter counts from lbsm.core.models"),
            artifact("Table 5", nets_done=loaded, deviations_=[], missing=missing, profile_name=P.name)]


def gap_status(T: Trained, *, ready) -> list[dict]:
    """Status rows of Table 2 and Figure 2 (``ready``: the chapter's ``data_ready``)."""
    extra = [n for n in T.nets if n not in ("F2", "C1")]
    return [artifact("Table 2", T, ready=ready),
            artifact("Figure 2", T, note=f"also shown: {', '.join(extra)}" if extra else "",
                     ready=ready)]


# --------------------------------------------------------------------------- sharpness, interpolation chapters
def _with_training_devs(T: Trained, devs: list[str]) -> list[str]:
    return sorted({f"{n}: {d}" for n in T.nets for d in deviations(T.profile, n, T.runs(n))}) + devs


def sharpness_status(T: Trained, t3: pd.DataFrame, t4: pd.DataFrame, h: pd.DataFrame, *,
                     ready) -> list[dict]:
    """Status rows of Tables 3 and 4 and of the Hessian spectrum (``ready``: the chapter's
    ``data_ready``)."""
    def done(t):
        return [] if t.empty else list(t.index.get_level_values("net").unique())
    return [artifact("Table 3", T, nets_done=done(t3), ready=ready,
                     deviations_=_with_training_devs(T, analysis_deviations(T.profile, "sharpness"))),
            artifact("Table 4", T, nets_done=done(t4), ready=ready,
                     deviations_=_with_training_devs(T, analysis_deviations(T.profile, "subspace"))),
            artifact("Hessian spectrum", T, nets_done=[] if h.empty else list(h.net.unique()),
                     deviations_=_with_training_devs(T, analysis_deviations(T.profile, "hessian")),
                     note="not in the paper: our addition", ready=ready)]


def interpolation_status(T: Trained, lin: pd.DataFrame, cur: pd.DataFrame, d: pd.DataFrame, *,
                         ready) -> list[dict]:
    """Status rows of Figures 3 and 7 and of the distance ratio (``ready``: the chapter's
    ``data_ready``)."""
    devs = _with_training_devs(T, analysis_deviations(T.profile, "landscape"))
    return [artifact("Figure 3", T, nets_done=list(dict.fromkeys(lin.net)), deviations_=devs,
                     ready=ready),
            artifact("Figure 7", T, nets_done=list(dict.fromkeys(cur.net)), deviations_=devs,
                     ready=ready),
            artifact("Distance ratio", T, nets_done=list(dict.fromkeys(d.net)),
                     deviations_=_with_training_devs(T, []), ready=ready)]


# --------------------------------------------------------------------------- small_batches, remedies chapters
def _section_deviations(R: Result) -> list[str]:
    """How the specs of ``R`` depart from the paper's protocol (for the status rows)."""
    out = set()
    pr = paper.protocol()
    for net, spec in R.specs.items():
        seeds = getattr(spec, "seeds", None)
        if seeds is not None and len(seeds) < pr["trials"]:
            out.add(f"{net}: {len(seeds)} of {pr['trials']} trials")
        if R.section in ("fig4", "fig5", "fig6"):
            for k in ("epochs", "sb_epochs", "lb_epochs"):
                v = getattr(spec, k, None)
                if k == "epochs" and R.section == "fig6":
                    if v is not None:  # Fig. 6's ``epochs`` samples the epochs (the paper: unstated)
                        out.add(f"{net}: sharpness at {v if isinstance(v, int) else len(v)} sampled "
                                "epochs (the paper does not say which epochs it plotted)")
                elif v is not None and v != 100:
                    out.add(f"{net}: {k.replace('_', ' ')} {v} instead of 100")
        train = getattr(spec, "train", None)
        if R.plan.chapter == "remedies" and train.stop != "plateau":
            out.add(f"{net}: fixed {spec.sb_epochs} SB / {spec.lb_epochs} LB epochs instead of "
                    "'until the loss ceased to improve'")
        if train is not None and (train.train_subset or train.test_subset):
            out.add(f"{net}: {train.train_subset or 'all'} training / "
                    f"{train.test_subset or 'all'} test examples")
        if "bf16" in {r.meta.get("precision") for r in R.runs.get(net, [])}:
            out.add(f"{net}: bf16 autocast")
        iters, subset = sharpness_settings(spec)
        if iters is not None and iters != pr["sharpness_lbfgsb_iterations"]:
            out.add(f"{net}: {iters} L-BFGS-B iterations")
        if subset:
            out.add(f"{net}: sharpness on {subset} training examples")
        if net in R.plan.stand_ins.get(R.section, {}):
            out.add(f"{net} stands in for {R.plan.stand_ins[R.section][net]}")
    return sorted(out)


def result_status(R: Result, name: str, note: str = "", *, ready) -> dict:
    """The status row of the artifact ``R`` reproduces (``artifact``; ``ready``: the chapter's
    ``data_ready``)."""
    missing = {n: dataset_of(n) for n, why in R.plan.skipped.get(R.section, {}).items()
               if why.startswith("needs data")}
    done = [n for n in R.nets if n in set(R.data.get("net", []))]
    extra = [n for n in done if n not in PAPER_NETS.get(R.section, ())]
    notes = [note] if note else []
    if extra:
        notes.append(f"also shown: {', '.join(extra)}")
    row = artifact(name, nets_done=done, deviations_=_section_deviations(R), missing=missing,
                   profile_name=R.plan.profile.name, note="; ".join(notes), ready=ready)
    # ran only on networks the paper omits: the paper's panel itself is not run (as Figure 2's
    # row says); the note names what is shown instead
    return row


def small_batches_status(f4: Result, f5: Result, f6: Result, cn: Result, *, ready) -> list[dict]:
    """Status rows of Figures 4, 5 and 6 (the cone remark is reported in its note of Fig. 6;
    ``ready``: the chapter's ``data_ready``)."""
    return [result_status(f4, "Figure 4", ready=ready), result_status(f5, "Figure 5", ready=ready),
            result_status(f6, "Figure 6", ready=ready,
                          note=f"'not a cone' measured on {', '.join(cn.nets) or 'no network'}")]


def remedies_status(r6: Result, r7: Result, rb: Result, *, ready) -> list[dict]:
    """Status rows of Tables 6, 7 and Section E.3 (``ready``: the chapter's ``data_ready``)."""
    return [result_status(r6, "Table 6", ready=ready), result_status(r7, "Table 7", ready=ready),
            result_status(rb, "Section E.3", ready=ready,
                          note="the paper reports no numbers, only 'no improvement'")]
