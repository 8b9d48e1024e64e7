"""Verdicts, computed: does each of the paper's findings hold in our numbers?

One verdict per (artifact, network), from the same frames the chapter shows, by a rule stated
here once:

* ``reproduced``: our mean is within the paper's mean +- 2 sd for every number of the artifact
  (where the paper gives numbers with sds), or, where it gives none, its claim holds;
* ``same direction``: the numbers are off but the paper's claim (the inequality the artifact is
  about) holds;
* ``contradicts``: the claim does not hold in our numbers;
* ``not run``: and why: ``needs data`` (TIMIT, CIFAR-100 are not here), ``needs a GPU`` (the
  network is in the ``paper`` profile only), ``not in the paper's figure``.

Each verdict carries its evidence: the numbers it was decided on, as a sentence generated from
them. The claim of each artifact is in ``CLAIMS``.
"""
from __future__ import annotations

import math

import pandas as pd

from . import experiments, paper, profiles, tables
from .report import EPS, eps_label, mean_sd
from .results import DATASET_NAMES, data_ready, dataset_of
from .status import ARTIFACTS

VERDICTS = ("reproduced", "same direction", "contradicts", "not run")
CLAIMS = {
    "Table 2": "LB's test accuracy is below SB's (a generalization gap)",
    "Figure 2": "LB ends below SB in test accuracy, not through a peak and decay",
    "Table 3": "LB minimizers are sharper than SB ones (full space)",
    "Table 4": "LB minimizers are sharper than SB ones (random subspace)",
    "Hessian spectrum": "LB minimizers have a larger top Hessian eigenvalue (not in the paper)",
    "Figure 3": "the training loss rises more steeply beyond the LB minimizer than beyond SB's",
    "Figure 7": "the training loss rises more steeply beyond the LB minimizer than beyond SB's",
    "Distance ratio": "||x_s - x0|| / ||x_l - x0|| lies in 3-10 (SB travels farther)",
    "Figure 4": "test accuracy falls and sharpness grows beyond a threshold batch size",
    "Figure 5": "LB warm-started later in SB training ends flatter and generalizes better",
    "Figure 6": "along training LB's sharpness grows above SB's",
    "Table 6": "augmentation raises LB's test accuracy; LB still ends sharp",
    "Table 7": "conservative training raises LB's test accuracy; LB still ends sharp",
    "Section E.3": "adversarial / stability training does not help LB (no notable change)",
}


def row(artifact: str, net: str, verdict: str, evidence: str) -> dict:
    assert verdict in VERDICTS, verdict
    return {"artifact": artifact, "net": net, "verdict": verdict, "evidence": evidence}


def _both(a: bool, b: bool) -> str:
    """A two-part claim: both parts hold: reproduced; one: same direction; none: contradicts."""
    return "reproduced" if a and b else "same direction" if a or b else "contradicts"


def _within(ours: float, p: float, sd: float) -> bool:
    return not (math.isnan(ours) or math.isnan(p) or math.isnan(sd)) and abs(ours - p) <= 2 * sd


def not_run(artifact: str, done, profile: str) -> list[dict]:
    """``not run`` rows for the networks the paper shows ``artifact`` for that did not run, each
    with its reason (data, compute, profile)."""
    wanted = next(a[3] for a in ARTIFACTS if a[0] == artifact)
    out = []
    for net in wanted:
        if net in done or net not in paper.NETS:
            continue
        if not data_ready(dataset_of(net)):
            why = f"needs data: {DATASET_NAMES[dataset_of(net)]}"
        elif net in profiles.get("paper").nets and profile != "paper":
            why = f"needs a GPU: in the paper profile, not in {profile}"
        else:
            why = f"not in profile {profile}"
        out.append(row(artifact, net, "not run", why))
    return out


# --------------------------------------------------------------------------- per artifact
def table2(t2: pd.DataFrame) -> list[dict]:
    """Test SB and LB within the paper's +- 2 sd: reproduced; else the sign of the gap decides."""
    out = []
    for net in dict.fromkeys(t2.index.get_level_values("net")) if len(t2) else []:
        x = t2.loc[net]
        sb, lb, gap = x.loc["test SB"], x.loc["test LB"], x.loc["gap (test SB - LB)"]
        ok = _within(sb.ours, sb.paper, sb.paper_sd) and _within(lb.ours, lb.paper, lb.paper_sd)
        verdict = "reproduced" if ok else "same direction" if gap.ours > 0 else "contradicts"
        out.append(row("Table 2", net, verdict,
                       f"test SB {sb.ours:.2f} vs LB {lb.ours:.2f} (gap {gap.ours:+.2f}; paper "
                       f"{sb.paper:.2f} ± {sb.paper_sd:.2f} vs {lb.paper:.2f} ± {lb.paper_sd:.2f}, "
                       f"gap {gap.paper:+.2f})"))
    return out


def figure2(T) -> list[dict]:
    """The paper gives curves, not sds: its claim decides (final test accuracy SB > LB, and the
    best LB epoch is not far above its last)."""
    out = []
    for net in T.nets:
        sb = pd.concat([p[0].history for p in T.pairs[net]]).groupby("epoch").test_acc.mean()
        lb = pd.concat([p[1].history for p in T.pairs[net]]).groupby("epoch").test_acc.mean()
        decay = lb.max() - lb.iloc[-1]
        holds = sb.iloc[-1] > lb.iloc[-1] and decay < 0.5
        out.append(row("Figure 2", net, "reproduced" if holds else "contradicts",
                       f"final test SB {sb.iloc[-1]:.2f} vs LB {lb.iloc[-1]:.2f}; LB's best epoch "
                       f"{decay:.2f} points above its last"))
    return out


def sharpness(t: pd.DataFrame, artifact: str) -> list[dict]:
    """Every SB and LB value within the paper's +- 2 sd: reproduced; LB > SB at every eps: same
    direction; else contradicts."""
    out = []
    for net in dict.fromkeys(t.index.get_level_values("net")) if len(t) else []:
        x = t.loc[net]
        eps = list(dict.fromkeys(x.index.get_level_values("eps")))
        within = all(_within(x.loc[(e, r)].ours, x.loc[(e, r)].paper, x.loc[(e, r)].paper_sd)
                     for e in eps for r in ("SB", "LB"))
        sharper = all(x.loc[(e, "LB")].ours > x.loc[(e, "SB")].ours for e in eps)
        verdict = "reproduced" if within else "same direction" if sharper else "contradicts"
        parts = [f"eps {e}: SB {x.loc[(e, 'SB')].ours:.3g} vs LB {x.loc[(e, 'LB')].ours:.3g} "
                 f"(paper {x.loc[(e, 'SB')].paper:.3g} vs {x.loc[(e, 'LB')].paper:.3g})" for e in eps]
        out.append(row(artifact, net, verdict, "; ".join(parts)))
    return out


def hessian(h: pd.DataFrame) -> list[dict]:
    out = []
    if h.empty:
        return out
    m = h.groupby(["net", "regime"])[["lambda_1"]].mean()
    for net in dict.fromkeys(h.net):
        sb, lb = m.loc[(net, "SB"), "lambda_1"], m.loc[(net, "LB"), "lambda_1"]
        out.append(row("Hessian spectrum", net, "reproduced" if lb > sb else "contradicts",
                       f"top eigenvalue LB {lb:.3g} vs SB {sb:.3g} (mean over trials)"))
    return out


def parametric(curves: pd.DataFrame, kind: str) -> list[dict]:
    artifact = "Figure 3" if kind == "linear" else "Figure 7"
    rises = tables.rise_table(curves, kind) if len(curves) else pd.DataFrame()
    out = []
    for net, r in rises.iterrows():
        lb, sb = r["beyond LB (ours)"], r["beyond SB (ours)"]
        out.append(row(artifact, net, "reproduced" if lb > sb else "contradicts",
                       f"training loss rises {lb:.3g} beyond LB (alpha 1 to 1.5) vs {sb:.3g} "
                       f"beyond SB (alpha 0 to -0.5)"))
    return out


def distance(d: pd.DataFrame) -> list[dict]:
    r = paper.statement("distance_ratio")
    out = []
    for net, g in d.groupby("net", sort=False):
        m = g.ratio.mean()
        verdict = ("reproduced" if r["low"] <= m <= r["high"] else "same direction" if m > 1
                   else "contradicts")
        out.append(row("Distance ratio", net, verdict,
                       f"mean ratio {m:.2f} over {len(g)} trials (paper {r['low']}-{r['high']})"))
    return out


def figure4(data: pd.DataFrame, knees: pd.DataFrame) -> list[dict]:
    """Accuracy drops after the knee (fitted slope < 0) and sharpness grows with the batch size
    (largest batch sharper than the smallest): both reproduced, one same direction."""
    out = []
    col = experiments.sharpness_col(EPS[0])
    for net in knees.index if len(knees) else []:
        d = data[data.net == net].groupby("batch_size").mean(numeric_only=True).sort_index()
        drop = knees.loc[net, "slope after (points per decade)"] < 0
        grows = d[col].iloc[-1] > d[col].iloc[0]
        out.append(row("Figure 4", net, _both(drop, grows),
                       f"accuracy {knees.loc[net, 'slope after (points per decade)']:+.2f} points per "
                       f"decade after the knee at B = {knees.loc[net, 'knee (ours)']:.0f}; sharpness "
                       f"{d[col].iloc[0]:.3g} at B = {d.index[0]} vs {d[col].iloc[-1]:.3g} at "
                       f"B = {d.index[-1]}"))
    return out


def figure5(data: pd.DataFrame) -> list[dict]:
    """From the first to the last warm start: LB test accuracy rises and sharpness falls."""
    out = []
    col = experiments.sharpness_col(EPS[0])
    for net, d in data.groupby("net", sort=False):
        d = d.sort_values("sb_epoch")
        better = d.lb_test_acc.iloc[-1] > d.lb_test_acc.iloc[0]
        flatter = d[col].iloc[-1] < d[col].iloc[0]
        out.append(row("Figure 5", net, _both(better, flatter),
                       f"LB from SB epoch {d.sb_epoch.iloc[0]}: test {d.lb_test_acc.iloc[0]:.2f}%, "
                       f"sharpness {d[col].iloc[0]:.3g}; from epoch {d.sb_epoch.iloc[-1]}: "
                       f"{d.lb_test_acc.iloc[-1]:.2f}%, {d[col].iloc[-1]:.3g}"))
    return out


def figure6(data: pd.DataFrame) -> list[dict]:
    """LB's sharpness at the end of training above SB's and above its own at the start."""
    out = []
    col = experiments.sharpness_col(EPS[0])
    for net, d in data.groupby("net", sort=False):
        sb = d[d.regime == "SB"].sort_values("epoch")[col]
        lb = d[d.regime == "LB"].sort_values("epoch")[col]
        above, grows = lb.iloc[-1] > sb.iloc[-1], lb.iloc[-1] > lb.iloc[0]
        verdict = "reproduced" if above and grows else "same direction" if above else "contradicts"
        out.append(row("Figure 6", net, verdict,
                       f"sharpness along LB {lb.iloc[0]:.3g} -> {lb.iloc[-1]:.3g}, along SB "
                       f"{sb.iloc[0]:.3g} -> {sb.iloc[-1]:.3g}"))
    return out


def remedy(t: pd.DataFrame, table: int) -> list[dict]:
    """Remedied LB within the paper's +- 2 sd for test accuracy and for sharpness at eps 1e-3:
    reproduced; else, if its test accuracy is at least plain LB's (the remedy helps, as the paper
    says): same direction; else contradicts."""
    artifact, name = ("Table 6", "augmented") if table == 6 else ("Table 7", "conservative")
    out = []
    for net in dict.fromkeys(t.index.get_level_values("net")) if len(t) else []:
        x = t.loc[net]
        acc, sh = x.loc[f"test LB ({name})"], x.loc[f"LB ({name}) sharpness eps {eps_label(EPS[0])}"]
        plain = x.loc["test LB (plain; paper: Table 2)"] if "test LB (plain; paper: Table 2)" in x.index else None
        ok = _within(acc.ours, acc.paper, acc.paper_sd) and _within(sh.ours, sh.paper, sh.paper_sd)
        helps = plain is not None and acc.ours >= plain.ours
        verdict = "reproduced" if ok else "same direction" if helps else "contradicts"
        out.append(row(artifact, net, verdict,
                       f"{name} LB test {acc.ours:.2f}% (paper {acc.paper:.2f} ± {acc.paper_sd:.2f}), "
                       f"sharpness {sh.ours:.3g} (paper {sh.paper:.3g})"
                       + (f"; plain LB {plain.ours:.2f}%" if plain is not None else "")))
    return out


def robust(data: pd.DataFrame) -> list[dict]:
    """The paper: no notable change. Each remedy's LB within 0.5 points of plain LB's test
    accuracy and within a factor 2 of its sharpness: reproduced; else contradicts."""
    out = []
    col = experiments.sharpness_col(EPS[0])
    if data.empty:
        return out
    for net, d in data.groupby("net", sort=False):
        plain = d[d.regime == "LB"]
        parts, holds = [], True
        for rem, g in d[d.regime == "LB+remedy"].groupby("remedy", sort=False):
            da = mean_sd(g.test_acc)[0] - plain.test_acc.mean()
            ratio = g[col].mean() / plain[col].mean()
            holds &= abs(da) <= 0.5 and 0.5 <= ratio <= 2
            parts.append(f"{rem}: test {da:+.2f} points, sharpness x{ratio:.2f} vs plain LB")
        out.append(row("Section E.3", net, "reproduced" if holds else "contradicts", "; ".join(parts)))
    return out


def frame(rows: list[dict]) -> pd.DataFrame:
    """Verdict rows as a table (artifact, net) -> verdict, claim, evidence."""
    df = pd.DataFrame(rows, columns=["artifact", "net", "verdict", "evidence"])
    df.insert(3, "claim", df.artifact.map(CLAIMS))
    return df.set_index(["artifact", "net"])


def counts(rows: list[dict]) -> dict:
    """Glue-ready counts: ``v_reproduced``, ``v_same_direction``, ``v_contradicts``, ``v_not_run``."""
    c = pd.Series([r["verdict"] for r in rows]).value_counts() if rows else pd.Series(dtype=int)
    return {f"v_{v.replace(' ', '_')}": str(int(c.get(v, 0))) for v in VERDICTS} | {"v_total": str(len(rows))}


# --------------------------------------------------------------------------- per chapter
def gap_chapter(T, t2: pd.DataFrame) -> list[dict]:
    P = T.profile.name
    return (table2(t2) + not_run("Table 2", T.nets, P) + figure2(T)
            + not_run("Figure 2", T.nets, P))


def interpolation_chapter(T, lin: pd.DataFrame, cur: pd.DataFrame, d: pd.DataFrame) -> list[dict]:
    P = T.profile.name
    return (parametric(lin, "linear") + not_run("Figure 3", set(lin.get("net", [])), P)
            + parametric(cur, "curvilinear") + not_run("Figure 7", set(cur.get("net", [])), P)
            + distance(d) + not_run("Distance ratio", set(d.get("net", [])), P))


def sharpness_chapter(T, t3: pd.DataFrame, t4: pd.DataFrame, h: pd.DataFrame) -> list[dict]:
    P = T.profile.name

    def nets(t):
        return set(t.index.get_level_values("net")) if len(t) else set()
    return (sharpness(t3, "Table 3") + not_run("Table 3", nets(t3), P)
            + sharpness(t4, "Table 4") + not_run("Table 4", nets(t4), P)
            + hessian(h) + not_run("Hessian spectrum", set(h.get("net", [])), P))


def _stand_ins(S, section: str) -> set:
    """Networks another one stands in for in ``section`` (F2 when F1 runs in its place)."""
    return set(S.stand_ins.get(section, {}).values())


def small_batches_chapter(S, f4, knees: pd.DataFrame, f5, f6) -> list[dict]:
    P = S.profile.name
    out = []
    for rows, section, name in ((figure4(f4.data, knees) if len(f4.data) else [], "fig4", "Figure 4"),
                                (figure5(f5.data) if len(f5.data) else [], "fig5", "Figure 5"),
                                (figure6(f6.data) if len(f6.data) else [], "fig6", "Figure 6")):
        stand = S.stand_ins.get(section, {})
        for r in rows:
            if r["net"] in stand:
                r["evidence"] += f" ({r['net']} stands in for {stand[r['net']]})"
        done = {r["net"] for r in rows} | _stand_ins(S, section)
        out += rows + not_run(name, done, P)
    return out


def remedies_chapter(S, t6: pd.DataFrame, t7: pd.DataFrame, rb) -> list[dict]:
    P = S.profile.name

    def nets(t):
        return set(t.index.get_level_values("net")) if len(t) else set()
    rows_e3 = robust(rb.data)
    return (remedy(t6, 6) + not_run("Table 6", nets(t6), P) + remedy(t7, 7)
            + not_run("Table 7", nets(t7), P) + rows_e3
            + not_run("Section E.3", {r["net"] for r in rows_e3}, P))
