"""The closes-the-gap judgment of the chapter "Beyond the paper", stated once.

A method *closes the gap* when its test accuracy is shown equivalent to SB's: the two one-sided
tests (TOST, :meth:`lbsm.report.verdicts.Paired.tost`) on SB - method per seed (the runs of a seed
share x0) put the mean inside +-``margin`` at ``ALPHA``, or the method is resolved above SB. The
margin is fixed in advance, before any method's number is read: ``EQUIVALENCE`` (one half) of the
paper's own Table 2 gap for that network (F1: 0.11 points, C1: 1.39). A method that is not
equivalent to SB but resolved better than plain LB (method - LB per seed) *narrows* the gap; one
resolved below SB and not better than LB *does not close* it; anything else, or fewer than
``MIN_SEEDS`` seeds, is *inconclusive*. So plain LB can no longer "close" a gap by leaving it
unresolved: closing has to be shown.

It *ends flat* when its Metric 2.1 (the first eps) is not resolved above SB's by the paired test on
log10(method / SB).

The verdict on the paper's account tests it by the book's one rule
(:func:`lbsm.report.verdicts.decide`): accuracy and sharpness both resolved, agreeing (same
direction: the paper gives no number for these methods, so never reproduced) or not
(contradicts); either unresolved: inconclusive, as the gap chapter reads an unresolved gap.
"""
from __future__ import annotations

import math

import pandas as pd

from ..core import paper
from ..core.constants import sharpness_col
from .verdicts import ALPHA, MIN_SEEDS, Paired, decide

CLOSES = ("closes", "narrows", "does not close", "inconclusive")
FLAT = ("flat", "sharper than SB", "inconclusive")
EQUIVALENCE = 0.5  # the margin as a fraction of the paper's Table 2 gap (fixed in advance)


def margin(net: str) -> float | None:
    """The equivalence margin for ``net`` in accuracy points: ``EQUIVALENCE`` x the paper's Table 2
    gap (test SB - test LB); None for a network the paper's Table 2 does not have."""
    t = paper.table(2)
    if net not in t.index:
        return None
    return EQUIVALENCE * float(t.loc[net, "test_sb"] - t.loc[net, "test_lb"])


def _paired(sb: pd.Series, other: pd.Series, log: bool = False) -> Paired:
    """Paired differences SB - other over the seeds both have (log: log10(other / SB))."""
    common = sorted(set(sb.dropna().index) & set(other.dropna().index))
    if log:
        return Paired.of([math.log10(other[s] / sb[s]) if sb[s] > 0 and other[s] > 0 else math.nan
                          for s in common])
    return Paired.of([sb[s] - other[s] for s in common])


def closes(gap: Paired, vs_lb: Paired, margin: float | None) -> str:
    """The outcome (one of ``CLOSES``) from the paired gap SB - method, the paired method - LB and
    the equivalence margin (None: no paper gap, so equivalence cannot be shown)."""
    if gap.n < MIN_SEEDS:
        return "inconclusive"
    if gap.direction < 0 or (margin is not None and gap.tost(margin) < ALPHA):
        return "closes"
    if vs_lb.direction > 0:
        return "narrows"
    return "does not close" if gap.direction > 0 else "inconclusive"


def judge(sb_acc: pd.Series, acc: pd.Series, sb_sharp: pd.Series | None = None,
          sharp: pd.Series | None = None, lb_acc: pd.Series | None = None,
          margin: float | None = None) -> dict:
    """The closes-the-gap judgment of one method from per-seed values (Series indexed by seed):
    ``closes`` (one of ``CLOSES``) with the paired gap SB - method and its TOST p-value
    (``tost_p``) at ``margin``, ``flat`` (one of ``FLAT``) with the paired log10 sharpness ratio
    method / SB, and the verdict on the paper's account."""
    gap = _paired(sb_acc, acc)
    vs_lb = _paired(acc, lb_acc) if lb_acc is not None else Paired.of([])  # method - LB per seed
    ratio = _paired(sb_sharp, sharp, log=True) if sb_sharp is not None and sharp is not None \
        else Paired.of([])
    if ratio.n < MIN_SEEDS:
        flat = "inconclusive"
    else:
        flat = "sharper than SB" if ratio.direction > 0 else "flat"
    # +1: accuracy and sharpness resolved in the directions the account pairs (worse with sharper,
    # better with flatter), -1: resolved against it, 0: either not resolved
    verdict = decide([gap.direction * ratio.direction], None, [])
    return {"closes": closes(gap, vs_lb, margin), "gap": gap,
            "tost_p": gap.tost(margin) if margin else math.nan, "margin": margin,
            "flat": flat, "ratio": ratio, "verdict": verdict}


def _by_seed(df: pd.DataFrame, arm: str, col: str) -> pd.Series:
    g = df[df.arm == arm]
    return pd.Series(g[col].to_numpy(dtype=float), index=g.seed.to_numpy())


def judgments(df: pd.DataFrame, eps: float) -> dict:
    """{(net, arm): judge(...)} for every non-SB arm of the closing frame (Metric 2.1 at ``eps``),
    each against plain LB of the same seeds and the network's margin."""
    col = sharpness_col(eps)
    out = {}
    for net, g in df.groupby("net", sort=False):
        lb = _by_seed(g, "LB", "test_acc") if (g.arm == "LB").any() else None
        for arm in [a for a in dict.fromkeys(g.arm) if a != "SB"]:
            out[(net, arm)] = judge(_by_seed(g, "SB", "test_acc"), _by_seed(g, arm, "test_acc"),
                                    _by_seed(g, "SB", col), _by_seed(g, arm, col),
                                    lb_acc=None if arm == "LB" else lb, margin=margin(net))
    return out
