"""The threshold batch size of Fig. 4: a continuous hinge fitted in log batch size."""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np


class Knee(NamedTuple):
    batch_size: float       # the threshold: the last batch size of the flat part
    plateau_acc: float      # fitted accuracy up to it
    slope_per_decade: float  # fitted accuracy change per 10x batch size after it (<= 0)
    sse: float


def knee(batch_sizes: Sequence[float], test_acc: Sequence[float]) -> Knee:
    """The threshold batch size after which test accuracy drops (Fig. 4: ~500 for C1, ~15000 for F2).

    Rule (the paper gives none): fit, by least squares over all points (repeated seeds included),
    a continuous hinge in log batch size,

        acc(B) = a                            for B <= k
        acc(B) = a + s * (log B - log k)      for B >  k,   with s <= 0,

    for every candidate k among the observed batch sizes (a candidate whose best slope is positive
    gets s = 0, i.e. no drop), and return the k with the smallest residual; ties go to the larger k.
    It needs no tolerance, and on the paper's own curves (Fig. 4 read-offs) it gives 250 for C1 (the
    paper: "~500") and 15000 for F2 (the paper: "~15000"). When the accuracy never drops, k is the
    largest batch size and ``slope_per_decade`` is 0.
    """
    b = np.asarray(batch_sizes, dtype=float)
    a = np.asarray(test_acc, dtype=float)
    ok = np.isfinite(a) & np.isfinite(b) & (b > 0)
    b, a = b[ok], a[ok]
    cands = np.unique(b)
    if len(cands) < 3:
        raise ValueError("knee needs at least three distinct batch sizes with finite accuracy")
    x = np.log(b)
    best = None
    for k in cands:
        h = np.maximum(x - math.log(k), 0.0)
        if k == cands[-1] or not h.any():
            level, slope = a.mean(), 0.0
        else:
            design = np.stack([np.ones_like(x), h], axis=1)
            (level, slope), *_ = np.linalg.lstsq(design, a, rcond=None)
            if slope > 0:
                level, slope = a.mean(), 0.0
        sse = float(((level + slope * h - a) ** 2).sum())
        if best is None or sse <= best.sse + 1e-12 * max(1.0, abs(sse)):
            best = Knee(float(k), float(level), float(slope * math.log(10)), sse)
    return best
