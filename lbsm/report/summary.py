"""Each chapter's status rows and verdict rows, computed in one place from the chapter's parts,
for the chapter itself and for the intro, which collects them all from the results (never from
rendered notebooks).

``chapter_rows("gap", C)`` gives ``(status rows, verdict rows)`` of a computed chapter ``C``
(:func:`lbsm.pipeline.compute.chapter`); ``book_rows(chapters)`` does every chapter of a
:func:`lbsm.pipeline.compute.compute` result and orders the verdicts as the intro shows them.
"""
from __future__ import annotations

import pandas as pd

from ..core.catalog import artifacts
from ..core.constants import KINDS
from . import beyond as beyond_report
from . import setup, status, tables
from .judgments import (distance, figure2, figure4, figure5, figure6, hessian, parametric, remedy,
                        robust, sharpness, table2, trial_frame)
from .verdicts import budget_note, not_run, run_problems, uncommitted, with_evidence


# --------------------------------------------------------------------------- verdicts per chapter
PAPER_TRIALS = 5  # the paper's trials per configuration: every verdict is also shown at this n


def at_paper_trials(judge, df: pd.DataFrame, *args) -> list[dict]:
    """``judge(df, *args)``'s verdict rows; where ``df`` holds more trials (seeds) than the paper's
    five, each row's evidence also gives the verdict the first five would give."""
    rows = judge(df, *args)
    seeds = sorted(df.seed.unique()) if "seed" in df and len(df) else []
    if len(seeds) <= PAPER_TRIALS:
        return rows
    five = {(r["artifact"], r["net"]): r["verdict"]
            for r in judge(df[df.seed.isin(seeds[:PAPER_TRIALS])], *args)}
    for r in rows:
        if (r["artifact"], r["net"]) in five:
            r["evidence"] = with_evidence(r["evidence"], f"; with the paper's {PAPER_TRIALS} trials (seeds "
                                          f"{seeds[0]}-{seeds[PAPER_TRIALS - 1]}): {five[r['artifact'], r['net']]}")
    return rows


def trial_problems(T) -> dict:
    """{net: why its runs are not at the paper's protocol} (``verdicts.run_problems``)."""
    return {net: run_problems(T.runs(net), T.profile.nets.get(net)) for net in T.nets}


def _budget_noted(T, rows: list[dict]) -> list[dict]:
    """A chapter's ``rows`` with the budget note (``verdicts.budget_note``) on each row of a network
    whose runs the cap ended under a reading that makes the cap their budget (a panel that did not
    run is of another network, so it carries none)."""
    notes = {net: budget_note(T.runs(net), T.profile.nets.get(net)) for net in T.nets}
    for r in rows:
        if r["verdict"] != "not run" and notes.get(r["net"]):
            r["evidence"] = with_evidence(r["evidence"], "; " + notes[r["net"]])
    return rows


def gap_chapter(T, t2: pd.DataFrame | None = None, *, ready) -> list[dict]:
    """The gap chapter's verdict rows (``ready``: {data set: there}, ``Chapter.data_ready``)."""
    P, probs = T.profile.name, trial_problems(T)
    hist = pd.concat([r.history.assign(net=net, seed=r.config.seed, regime=reg)
                      for net in T.nets for pair in T.pairs[net]
                      for reg, r in zip(("SB", "LB"), pair)], ignore_index=True) if T.nets else \
        pd.DataFrame(columns=["net", "seed", "regime", "epoch", "test_acc"])
    return _budget_noted(T, at_paper_trials(table2, trial_frame(T), probs) + figure2(hist, probs)
                         + not_run("Table 2", T.nets, P, ready=ready)
                         + not_run("Figure 2", T.nets, P, ready=ready))


def panel_problems(T, artifact: str, probs: dict, protocol: tuple[str, ...] | None = None) -> dict:
    """``probs`` without the fixed-epochs problem where the profile runs the protocol the paper's
    authors made ``artifact``'s published panel with (``Profile.panel_protocol``, or ``protocol``
    in its place: a reading's sensitivity)."""
    if artifact not in (T.profile.panel_protocol if protocol is None else protocol):
        return probs
    return {net: [p for p in ps if not p.startswith("fixed epochs")] for net, ps in probs.items()}


def interpolation_chapter(T, lin: pd.DataFrame, cur: pd.DataFrame, d: pd.DataFrame, *,
                          ready) -> list[dict]:
    P, probs = T.profile.name, trial_problems(T)
    return _budget_noted(T, at_paper_trials(parametric, lin, "linear", panel_problems(T, "Figure 3", probs))
                         + not_run("Figure 3", set(lin.get("net", [])), P, ready=ready)
                         + at_paper_trials(parametric, cur, "curvilinear", panel_problems(T, "Figure 7", probs))
                         + not_run("Figure 7", set(cur.get("net", [])), P, ready=ready)
                         + at_paper_trials(distance, d, probs)
                         + not_run("Distance ratio", set(d.get("net", [])), P, ready=ready))


def sharpness_chapter(T, s3: pd.DataFrame, s4: pd.DataFrame, h: pd.DataFrame, *, ready) -> list[dict]:
    """``s3``, ``s4``: the per-seed solves (``lbsm.experiments.trials.sharpness_values``), ``h`` the
    Hessian rows, ``ready``: {data set: there} (``Chapter.data_ready``)."""
    P, probs = T.profile, trial_problems(T)

    def nets(t):
        return set(t.net) if len(t) else set()
    return _budget_noted(T, at_paper_trials(sharpness, s3, "Table 3", P.sharpness_iters, probs)
                         + not_run("Table 3", nets(s3), P.name, ready=ready)
                         + at_paper_trials(sharpness, s4, "Table 4", P.sharpness_iters, probs)
                         + not_run("Table 4", nets(s4), P.name, ready=ready)
                         + at_paper_trials(hessian, h, probs)
                         + not_run("Hessian spectrum", set(h.get("net", [])), P.name, ready=ready))


def _section_problems(R) -> dict:
    """Per network: the run problems of a section's runs, and the stand-in it is."""
    out = {}
    for net, runs in R.runs.items():
        out[net] = run_problems(runs)
    return out


def small_batches_chapter(S, f4, knees: pd.DataFrame, f5, f6, *, ready) -> list[dict]:
    P = S.profile.name
    out = []
    for R, fn, name in ((f4, figure4, "Figure 4"), (f5, figure5, "Figure 5"), (f6, figure6, "Figure 6")):
        probs = _section_problems(R)
        if name == "Figure 4":  # the paper trains every batch size for 100 fixed epochs
            for net, spec in R.specs.items():
                if spec.train.stop == "plateau" or spec.epochs != 100:
                    probs[net] = [p for p in probs.get(net, []) if not p.startswith("fixed epochs")] + [
                        "not the paper's 100 fixed epochs per batch size"]
        else:  # Figs. 5 and 6 are fixed-epoch experiments in the paper too (100 + 100 epochs)
            for net, spec in R.specs.items():
                probs[net] = [p for p in probs.get(net, []) if not p.startswith("fixed epochs")]
                if spec.sb_epochs != 100 or spec.lb_epochs != 100:
                    probs[net].append(f"{spec.sb_epochs} SB / {spec.lb_epochs} LB epochs, "
                                      "not the paper's 100 / 100")
        rows = fn(R.data, probs) if len(R.data) else []
        stand = S.stand_ins.get(R.section, {})
        for r in rows:
            if r["net"] in stand:
                r["evidence"] = with_evidence(r["evidence"], f" ({r['net']} stands in for {stand[r['net']]}: an extension row)")
        done = {r["net"] for r in rows} | set(stand.values())
        out += rows + not_run(name, done, P, ready=ready)
    return out


def remedies_chapter(S, r6, r7, rb, *, ready) -> list[dict]:
    """``r6``, ``r7``, ``rb``: the Results of Tables 6, 7 and E.3; ``ready``: {data set: there}."""
    P = S.profile.name
    rows6 = remedy(r6.data, 6, _section_problems(r6))
    rows7 = remedy(r7.data, 7, _section_problems(r7))
    rows_e3 = robust(rb.data, _section_problems(rb))
    return (rows6 + not_run("Table 6", {r["net"] for r in rows6}, P, ready=ready) + rows7
            + not_run("Table 7", {r["net"] for r in rows7}, P, ready=ready) + rows_e3
            + not_run("Section E.3", {r["net"] for r in rows_e3}, P, ready=ready))


# --------------------------------------------------------------------------- status and verdicts per chapter
def _setup(C) -> tuple[list, list]:
    return status.setup_status(C.profile, setup.table5(C.datasets)), []  # as the chapter loaded them


def _gap(C) -> tuple[list, list]:
    T = C.trained
    return status.gap_status(T, ready=C.data_ready), gap_chapter(T, tables.table2(T), ready=C.data_ready)


def _interpolation(C) -> tuple[list, list]:
    T = C.trained
    return (status.interpolation_status(T, C.linear, C.curvilinear, C.distance, ready=C.data_ready),
            interpolation_chapter(T, C.linear, C.curvilinear, C.distance, ready=C.data_ready))


def _sharpness(C) -> tuple[list, list]:
    T = C.trained
    t3, t4 = tables.sharpness_table(C.table3, 3), tables.sharpness_table(C.table4, 4)
    return (status.sharpness_status(T, t3, t4, C.hessian, ready=C.data_ready),
            sharpness_chapter(T, C.table3, C.table4, C.hessian, ready=C.data_ready))


def _small_batches(C) -> tuple[list, list]:
    knees = tables.knee_table(C.fig4)
    return (status.small_batches_status(C.fig4, C.fig5, C.fig6, C.cone, ready=C.data_ready),
            small_batches_chapter(C.plan, C.fig4, knees, C.fig5, C.fig6, ready=C.data_ready))


def _remedies(C) -> tuple[list, list]:
    return (status.remedies_status(C.augmentation, C.conservative, C.robust, ready=C.data_ready),
            remedies_chapter(C.plan, C.augmentation, C.conservative, C.robust, ready=C.data_ready))


def _beyond(C) -> tuple[list, list]:
    """No status rows (nothing of the paper's); a verdict row per (network, LB method)."""
    return [], beyond_report.verdict_rows(beyond_report.closing_table(C.closing, C.profile.sharpness_eps),
                                          uncommitted(C.runs.values()))


# each chapter of the catalog (lbsm.core.catalog.REGISTRY) that computes, by name: its row builders,
# each ``(C) -> (status rows, verdict rows)`` of the computed chapter ``C`` (a new verdict: one
# more builder in its chapter's tuple); the intro and the sensitivity chapter record none
ROWS = {"intro": (), "setup": (_setup,), "gap": (_gap,), "interpolation": (_interpolation,),
        "sharpness": (_sharpness,), "small_batches": (_small_batches,), "remedies": (_remedies,),
        "sensitivity": (), "beyond": (_beyond,)}


def chapter_rows(name: str, C) -> tuple[list[dict], list[dict]]:
    """(status rows, verdict rows) of chapter ``name`` from its computed parts ``C``: those of
    every builder its ``ROWS`` entry registers, in order."""
    if name not in ROWS:
        raise ValueError(f"chapter {name!r} records no status; those that do: "
                         f"{', '.join(n for n, b in ROWS.items() if b)}")
    st, vs = [], []
    for build in ROWS[name]:
        s, v = build(C)
        st += s
        vs += v
    return st, vs


def book_rows(chapters: dict) -> tuple[list[dict], list[dict]]:
    """Every status row and verdict row of ``chapters`` ({name: computed chapter}): the verdicts
    on the paper's own panels first, each kind in artifact order."""
    st, vs = [], []
    for name, C in chapters.items():
        s, v = chapter_rows(name, C)
        st += s
        vs += v
    order = {a[0]: i for i, a in enumerate(artifacts())}
    kinds = {k: i for i, k in enumerate(KINDS)}
    vs.sort(key=lambda r: (kinds.get(r.get("kind"), len(kinds)), order.get(r["artifact"], len(order))))
    return st, vs
