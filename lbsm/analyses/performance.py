"""Appendix C's performance model: when the LB method is faster on P processors, and the
iterations a run took to reach a test accuracy."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import pandas as pd
import torch


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


# --------------------------------------------------------------------------- the cost model
# What a run, a Metric 2.1 solve or a parametric curve costs, in FLOPs counted by PyTorch's own
# counter (``torch.utils.flop_counter``: matrix products and convolutions; element-wise layers and
# the optimizer's update are left out, a few % for these networks), and hours at a FLOP rate.
# The report's cost table (``lbsm.report.costs``) adds them up per network of a profile.

def flops_per_example(model: torch.nn.Module, shape: tuple[int, ...], train: bool) -> float:
    """FLOPs of one example of input ``shape`` through ``model``: the forward pass alone
    (``train=False``: an evaluation) or forward and backward of the cross-entropy (``train=True``:
    a training step or an f + grad evaluation of Metric 2.1; no gradient of the input is taken).
    Counted on a batch of 2 (BatchNorm needs two examples in training mode), per example."""
    from torch.utils.flop_counter import FlopCounterMode
    x, y = torch.zeros(2, *shape), torch.zeros(2, dtype=torch.long)
    model.train(train)
    with FlopCounterMode(display=False) as counter:
        if train:
            torch.nn.functional.cross_entropy(model(x), y).backward()
        else:
            with torch.no_grad():
                model(x)
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / 2


def step_passes(method: str = "adam", inner_steps: int = 1) -> float:
    """Forward-and-backward passes over a minibatch one optimizer step of ``method`` takes, in
    units of a plain ADAM step: conservative training's ``inner_steps`` proximal iterations;
    FGSM adversarial training's input gradient plus its clean and adversarial passes (3); stability
    training's clean and noisy passes (2); SAM and ASAM's two gradients (2); any other step 1."""
    passes = {"conservative": inner_steps, "adversarial": 3, "stability": 2, "sam": 2, "asam": 2}
    return float(passes.get(method, 1))


def run_flops(train_flops: float, eval_flops: float, n_train: int, n_eval: int, epochs: float,
              passes: float = 1.0) -> float:
    """A training run: ``epochs`` x (``passes`` training passes over ``n_train`` examples at
    ``train_flops`` each, and the end-of-epoch evaluation of ``n_eval`` examples at ``eval_flops``
    each: the trainer evaluates the training and the test set after every epoch)."""
    return epochs * (passes * train_flops * n_train + eval_flops * n_eval)


def solve_flops(train_flops: float, n: int, evaluations: int) -> float:
    """A Metric 2.1 solve: ``evaluations`` evaluations of f and its gradient over ``n`` examples."""
    return evaluations * train_flops * n


def curve_flops(eval_flops: float, n: int, points: int) -> float:
    """A parametric curve: the loss at ``points`` values of alpha over ``n`` examples."""
    return points * eval_flops * n


def hours(flops: float, flop_per_s: float) -> float:
    """Hours ``flops`` take at a sustained ``flop_per_s``."""
    if not flop_per_s > 0:
        raise ValueError(f"a FLOP rate must be positive, not {flop_per_s!r}")
    return flops / flop_per_s / 3600


def measure_rate(net: str, batch: int = 64, steps: int = 3, device: str = "cpu",
                 min_seconds: float = 5.0) -> dict:
    """The training FLOP rate this machine sustains for ``net``: ADAM steps (after one warm-up)
    on a batch of ``batch`` random inputs of the network's shape, at least ``steps`` of them and
    at least ``min_seconds`` of stepping, each timed; the median step's seconds at
    :func:`flops_per_example` x ``batch`` FLOPs a step. Random inputs cost what images do."""
    import statistics
    import time
    from ..core import models
    from ..train import protocol as train
    _, classes, shape = models.NETWORKS[net]
    model = models.build(net, 0).to(device)
    per_example = flops_per_example(model, shape, train=True)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(batch, *shape, generator=g).to(device)
    y = torch.randint(0, classes, (batch,), generator=g).to(device)
    opt = torch.optim.Adam(model.parameters())
    cfg = train.TrainConfig(net, batch)
    train.adam_step(model.train(), opt, x, y, cfg)
    times: list[float] = []
    while len(times) < steps or sum(times) < min_seconds:
        t0 = time.perf_counter()
        train.adam_step(model, opt, x, y, cfg)
        times.append(time.perf_counter() - t0)
    seconds = statistics.median(times)
    return {"net": net, "batch": batch, "steps": len(times), "seconds_per_step": seconds,
            "flop_per_example": per_example, "flop_per_s": per_example * batch / seconds}
