"""Table 3 at other L-BFGS-B iteration counts than the paper's 10, and how far each solve got
toward the box: the sensitivity chapter's check of whether "10 iterations" measured a maximum.

The frame is :func:`lbsm.experiments.trials.iteration_readings` (one row per net, seed, regime, eps
and iteration count, read off one long solve per minimizer). Each count is judged by Table 3's own
rule (:func:`lbsm.report.judgments.sharpness`), so a row here differs from the sharpness chapter's
Table 3 only in the count (and in the trials the long solves cover).
"""
from __future__ import annotations

import pandas as pd

from ..analyses.solver import is_stall
from ..experiments.trials import ITER_COLUMNS
from .judgments import sharpness as judge_sharpness
from .verdicts import Paired, _log_ratios, geometric_mean

# the stall reading (a sensitivity; Table 3's adopted rule counts such a stop as early): a solve
# that stops before its count on L-BFGS-B's own test of no reduction of f counts as converged
STALL_READING = "a stop on no reduction of f counted as converged"

COLUMNS = ["iterations", "eps", "trials", "SB", "LB", "log10(LB/SB)", "p", "SB reach", "LB reach",
           "SB on the box's face", "LB on the box's face"]


def frame_of(chapters: dict) -> pd.DataFrame:
    """The iteration readings computed with ``chapters`` (an empty frame where none were)."""
    sharp = chapters.get("sharpness")
    got = sharp.parts.get("iterations") if sharp is not None else None
    return got if got is not None else pd.DataFrame(columns=ITER_COLUMNS)


def verdicts(frame: pd.DataFrame, stall_converged: bool = False) -> dict[int, dict]:
    """{count: Table 3's verdict row (``judgments.sharpness``) on the solves read at that count};
    ``stall_converged``: under the stall reading (``STALL_READING``)."""
    out = {}
    for k, g in frame.groupby("iters", sort=True):
        rows = judge_sharpness(g, "Table 3", int(k), stall_converged=stall_converged)
        if rows:
            out[int(k)] = rows[0]
    return out


def stalls(frame: pd.DataFrame) -> pd.DataFrame:
    """The readings of solves that stopped before their count on L-BFGS-B's test of no reduction
    of f (the only stops the stall reading judges differently)."""
    if frame.empty:
        return frame
    hit = [is_stall(str(m)) and int(i) < int(k)
           for m, i, k in zip(frame.message.fillna(""), frame.iterations, frame.iters)]
    return frame[hit]


def stall_sentence(frame: pd.DataFrame) -> str:
    """What the stall reading changes, from the numbers: per count with such stops, how many
    solves (regime, eps), after how many iterations, how far toward the box, and Table 3's verdict
    at that count under the adopted rule and under the stall reading."""
    st = stalls(frame)
    if frame.empty:
        return ""
    if st.empty:
        return "No solve stopped on L-BFGS-B's test of no reduction of f: the stall reading changes nothing."
    adopted, stall = verdicts(frame), verdicts(frame, stall_converged=True)
    parts = []
    for k, g in st.groupby("iters", sort=True):
        which = ", ".join(f"{n} {r.upper()} at eps {e}" for (r, e), n in
                          g.groupby(["regime", "eps"], sort=False).size().items())
        parts.append(f"{len(g)} of {int((frame.iters == k).sum())} solves of {int(k)} iterations "
                     f"stopped on no reduction of f ({which}) after {int(g.iterations.min())}-"
                     f"{int(g.iterations.max())} iterations, {g.reach.min():.2f}-{g.reach.max():.2f} "
                     f"of the way to the box's faces; Table 3 at {int(k)} iterations is judged "
                     f"\"{stall[int(k)]['verdict']}\" under the stall reading and "
                     f"\"{adopted[int(k)]['verdict']}\" under the adopted rule")
    return "Under the stall reading, " + "; ".join(parts) + "."


def table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (count, eps): SB and LB Metric 2.1 (geometric means over trials, which is what
    the paired test compares: on the same trials their ratio is 10 ** the mean log ratio), the
    paired log10(LB / SB) over trials (mean +- sd, p), and how far the solves' k-th iterates are toward the box (median over trials
    of the mean |y_i| / bound_i, and of the fraction of coordinates on the box's face)."""
    rows = []
    for (k, eps), g in frame.groupby(["iters", "eps"], sort=False):
        w = g.pivot_table(index="seed", columns="regime", values="value")
        r = g.pivot_table(index="seed", columns="regime", values="reach")
        f = g.pivot_table(index="seed", columns="regime", values="on_face")
        lr = Paired.of(_log_ratios(zip(w.get("sb", []), w.get("lb", []))))
        rows.append({"iterations": int(k), "eps": eps, "trials": int(g.seed.nunique()),
                     "SB": geometric_mean(w["sb"].dropna()), "LB": geometric_mean(w["lb"].dropna()),
                     "log10(LB/SB)": f"{lr.mean:+.2f}" + (f" ± {lr.sd:.2f}" if lr.n > 1 else ""),
                     "p": lr.p,
                     "SB reach": r["sb"].median(), "LB reach": r["lb"].median(),
                     "SB on the box's face": f["sb"].median(), "LB on the box's face": f["lb"].median()})
    return pd.DataFrame(rows, columns=COLUMNS).sort_values(["eps", "iterations"], kind="stable",
                                                           ignore_index=True)


def sentence(frame: pd.DataFrame, adopted: int = 10) -> str:
    """What the long solves say, from their numbers: per eps, LB / SB at the adopted count and at
    the largest, and how far the adopted count's LB iterates got toward the box."""
    if frame.empty:
        return ("No minimizer's long solve is published yet: the campaign computes them with its "
                "next trial.")
    t = table(frame)
    most = int(t.iterations.max())
    parts = []
    for eps, g in t.groupby("eps", sort=False):
        a, b = g[g.iterations == adopted], g[g.iterations == most]
        if a.empty or b.empty:
            continue
        a, b = a.iloc[0], b.iloc[0]
        parts.append(f"at eps {eps}, LB / SB is {a.LB / a.SB:.3g} after {adopted} iterations and "
                     f"{b.LB / b.SB:.3g} after {most} (log10 {a['log10(LB/SB)']} and "
                     f"{b['log10(LB/SB)']}); after {adopted} iterations the LB iterates are a "
                     f"median {a['LB reach']:.2f} of the way to the box's faces (SB "
                     f"{a['SB reach']:.2f}), after {most} {b['LB reach']:.2f} (SB {b['SB reach']:.2f})")
    n = int(frame.seed.nunique())
    return (f"On the first {n} adopted trials' minimizers, " + "; ".join(parts) + "."
            if parts else "")


def verdict_sentence(frame: pd.DataFrame, adopted: int = 10) -> str:
    """Table 3's verdict at each iteration count the long solves were read at, and how far the
    adopted count's LB iterates got toward the box, from the numbers (for the landing page, beside
    the adopted verdict it qualifies); empty while no long solve is published."""
    if frame.empty:
        return ""
    v, t = verdicts(frame), table(frame)
    at = ", ".join(f"{v[k]['verdict']} at {k}" for k in sorted(v))
    a = t[t.iterations == adopted]
    reach = " and ".join(f"{r['LB reach']:.2f} (eps {r.eps})" for _, r in a.iterrows())
    return (f"Table 3 depends on the L-BFGS-B iteration count, which the paper fixes at {adopted}: "
            f"on the first {frame.seed.nunique()} adopted trials it is {at} iterations; after "
            f"{adopted} iterations the LB solves were a median {reach} of the way to the box's "
            "faces (the sensitivity chapter gives every count).")
