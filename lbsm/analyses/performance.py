"""Appendix C's performance model: when the LB method is faster on P processors, and the
iterations a run took to reach a test accuracy."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import pandas as pd


def iterations_to_accuracy(history: pd.DataFrame | Sequence[Mapping], target_acc: float,
                           batch_size: int, n_train: int) -> int | None:
    """Iterations until test accuracy first reaches ``target_acc`` (%): the first epoch whose
    end-of-epoch test accuracy is >= target, times ceil(n_train / batch_size) iterations per epoch
    (the trainer keeps the last, smaller minibatch). Accuracy is only measured at epoch ends, so this
    is an upper bound at epoch resolution. None when the target is never reached."""
    hist = pd.DataFrame(history)
    hit = hist[hist.test_acc >= target_acc]
    if hit.empty:
        return None
    return int(hit.epoch.min()) * math.ceil(n_train / batch_size)


class PerformanceModel(NamedTuple):
    lb_faster: bool   # I_l / I_s < B_s / (f_s B_l)
    ratio: float      # I_l / I_s
    bound: float      # B_s / (f_s B_l)


def performance_model(i_s: float, i_l: float, b_s: float, b_l: float, f_s: float) -> PerformanceModel:
    """Appendix C: with P processors, SB parallel efficiency f_s(P) and LB efficiency 1, the LB
    method is faster iff I_l * B_l / P < I_s * B_s / (P f_s), i.e. I_l / I_s < B_s / (f_s B_l).
    (Paper's example: f_s = 0.2, B_s / B_l = 0.1: LB must need fewer than half the iterations.)"""
    if min(i_s, b_s, b_l, f_s) <= 0:
        raise ValueError("iterations, batch sizes and f_s must be positive")
    ratio, bound = i_l / i_s, b_s / (f_s * b_l)
    return PerformanceModel(bool(ratio < bound), float(ratio), float(bound))
