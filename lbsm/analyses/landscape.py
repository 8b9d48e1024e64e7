"""Parametric plots between an SB and an LB minimizer (Figure 3, linear; Figure 7, curvilinear).

For alpha in linspace(-1, 2, 25) (the paper's 25 points), with x_s the SB and x_l the LB weights::

    linear       x(alpha) = alpha x_l + (1 - alpha) x_s
    curvilinear  x(alpha) = sin(alpha pi / 2) x_l + cos(alpha pi / 2) x_s

and at each point the loss and accuracy on the full training and test sets, as a tidy DataFrame.

Decisions where the paper is silent:

* BatchNorm running statistics are not weights; what they are at x(alpha) is a policy, ``bn``:
  ``"batch"`` (default) normalizes every evaluation batch (5000) with its own statistics, as the
  official Keras ``mode=2`` code that drew the published curves, so buffers play no role;
  ``"interpolate"`` combines running mean and variance with the same coefficients as the weights,
  then evaluates with running statistics (a variance combined with a negative coefficient can come
  out negative: it is clamped at 0, BatchNorm's eps keeps the division finite);
  ``"recalibrate"`` resets the running statistics and recomputes them as the exact average over
  one no-grad pass over the training batches (momentum None), then evaluates with them.
  Integer buffers (``num_batches_tracked``) are never combined: they keep the SB value.
* Loss: the official code is Keras 1, whose cross-entropy clips the softmax probabilities to
  [1e-7, 1 - 1e-7]; that is why the published curves saturate at ln(1e7) = 16.12 (Fig. 7 plateaus
  at ~16.1). ``prob_clip=1e-7`` (default) reproduces it; ``prob_clip=None`` is the plain
  cross-entropy that training minimizes. Accuracy is unaffected.
* Trainable parameters only enter the distance ratio ``||x_s - x0|| / ||x_l - x0||`` (paper: 3-10).
"""
from __future__ import annotations

import copy
import math

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from ..core import models
from ..core.constants import BN_PATH_POLICIES, EVAL_BATCH
from ..core.data import Dataset

VERSION = 1  # of the stored curves and distance ratios: bump when a change alters them
KINDS = ("linear", "curvilinear")
RUNNING_STATS = ("running_mean", "running_var")


def coefficients(kind: str, alpha: float) -> tuple[float, float]:
    """(c_l, c_s) with x(alpha) = c_l x_l + c_s x_s."""
    if kind == "linear":
        return alpha, 1.0 - alpha
    if kind == "curvilinear":
        return math.sin(alpha * math.pi / 2), math.cos(alpha * math.pi / 2)
    raise ValueError(f"unknown kind {kind!r}; choose one of {', '.join(KINDS)}")


def trainable_names(model: nn.Module) -> list[str]:
    return [k for k, p in model.named_parameters() if p.requires_grad]


def combine(model: nn.Module, x_s: dict, x_l: dict, c_l: float, c_s: float, bn: str = "batch") -> dict:
    """The state dict c_l x_l + c_s x_s: trainable parameters always; BatchNorm running mean and
    variance only under ``bn="interpolate"`` (else the SB buffers, unused by "batch" and
    overwritten by "recalibrate"); integer buffers never."""
    if bn not in BN_PATH_POLICIES:
        raise ValueError(f"unknown BatchNorm policy {bn!r}; choose one of {', '.join(BN_PATH_POLICIES)}")
    params = set(trainable_names(model))
    out = {}
    for k, v in x_s.items():
        mixed = k in params or (bn == "interpolate" and k.endswith(RUNNING_STATS)
                                and v.is_floating_point())
        out[k] = c_l * x_l[k] + c_s * v if mixed else v.clone()
        if mixed and k.endswith("running_var"):
            out[k] = out[k].clamp_min(0)
    return out


@torch.no_grad()
def recalibrate_(model: nn.Module, x: torch.Tensor, batch_size: int = EVAL_BATCH) -> nn.Module:
    """Recompute BatchNorm running statistics as the average over the batches of x (dropout off)."""
    bns = models.batchnorms(model)
    was_training, momenta = model.training, [m.momentum for m in bns]
    model.eval()
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: every batch weighs the same
        m.train()
    try:
        for i in range(0, len(x), batch_size):
            model(x[i:i + batch_size])
    finally:
        for m, mom in zip(bns, momenta):
            m.momentum = mom
        model.train(was_training)
    return model


@torch.no_grad()
def loss_and_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = EVAL_BATCH,
                      bn: str = "batch", prob_clip: float | None = 1e-7) -> tuple[float, float]:
    """Mean cross-entropy (float64 accumulation; probabilities clipped to [prob_clip, 1 - prob_clip]
    as Keras when ``prob_clip`` is set) and accuracy in %, as ``lbsm.train.evaluate`` otherwise."""
    total, correct = torch.zeros((), dtype=torch.float64, device=x.device), 0
    with models.evaluation(model, bn):
        for i in range(0, len(x), batch_size):
            logits, yb = model(x[i:i + batch_size]).float(), y[i:i + batch_size]
            if prob_clip is None:
                total += F.cross_entropy(logits, yb, reduction="sum").double()
            else:
                logp = F.log_softmax(logits, 1).gather(1, yb[:, None]).double()
                total -= logp.clamp(math.log(prob_clip), math.log1p(-prob_clip)).sum()
            correct += (logits.argmax(1) == yb).sum()
    return total.item() / len(x), 100.0 * int(correct) / len(x)


def interpolate(model: nn.Module, x_s: dict, x_l: dict, dataset: Dataset, kind: str = "linear",
                alphas=None, bn: str = "batch", batch_size: int = EVAL_BATCH,
                prob_clip: float | None = 1e-7) -> pd.DataFrame:
    """Loss and accuracy along the linear or curvilinear path from x_s (alpha 0) to x_l (alpha 1).

    ``model`` is any instance of the architecture (its weights are not changed); x_s and x_l are
    state dicts. Returns one row per (alpha, split) with columns alpha, kind, split, loss,
    accuracy, bn.
    """
    if bn not in BN_PATH_POLICIES:
        raise ValueError(f"unknown BatchNorm policy {bn!r}; choose one of {', '.join(BN_PATH_POLICIES)}")
    alphas = np.linspace(-1, 2, 25) if alphas is None else np.asarray(alphas, dtype=float)
    net = copy.deepcopy(model)
    splits = {"train": (dataset.x_train, dataset.y_train), "test": (dataset.x_test, dataset.y_test)}
    rows = []
    for a in alphas:
        c_l, c_s = coefficients(kind, float(a))
        net.load_state_dict(combine(net, x_s, x_l, c_l, c_s, bn))
        if bn == "recalibrate":
            recalibrate_(net, dataset.x_train, batch_size)
        for split, (x, y) in splits.items():
            loss, acc = loss_and_accuracy(net, x, y, batch_size, "batch" if bn == "batch" else "running",
                                          prob_clip)
            rows.append(dict(alpha=float(a), kind=kind, split=split, loss=loss, accuracy=acc, bn=bn))
    return pd.DataFrame(rows)


def _flat_trainable(x, names) -> torch.Tensor:
    if isinstance(x, nn.Module):
        x = dict(x.named_parameters())
    return torch.cat([x[k].detach().double().reshape(-1).cpu() for k in names])


def _names(points, names):
    """The trainable entries: ``names``, else a module's, else every floating-point entry of the
    first state dict that is not a BatchNorm running statistic."""
    if names is not None:
        return names
    ref = next((m for m in points if isinstance(m, nn.Module)), None)
    return trainable_names(ref) if ref is not None else [
        k for k, v in points[0].items() if v.is_floating_point() and not k.endswith(RUNNING_STATS)]


def _distance(a, b, names) -> torch.Tensor:
    return (_flat_trainable(b, names) - _flat_trainable(a, names)).norm()


def distance(x_a, x_b, names: list[str] | None = None) -> float:
    """||x_b - x_a|| over trainable parameters, in float64 (each argument a module or a state
    dict; the entries as in :func:`distance_ratio`)."""
    return float(_distance(x_a, x_b, _names((x_a, x_b), names)))


def distance_ratio(x0, x_s, x_l, names: list[str] | None = None) -> float:
    """||x_s - x0|| / ||x_l - x0|| over trainable parameters (the paper reports 3 to 10).

    Each argument is a module or a state dict; with state dicts only, the trainable entries are
    ``names`` if given, else every floating-point entry that is not a BatchNorm running statistic.
    """
    names = _names((x0, x_s, x_l), names)
    return float(_distance(x0, x_s, names) / _distance(x0, x_l, names))


