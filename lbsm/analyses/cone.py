"""The paper's "not a cone" remark, made precise: the share of random directions in Metric 2.1's
box along which the loss rises steeply."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ..core.constants import EVAL_BATCH, SHARPNESS_ITERS
from ..train.protocol import evaluate
from .sharpness import keskar_sharpness


@dataclass
class ConeResult:
    fraction: float          # share of the sampled directions that are steep
    rises: np.ndarray        # phi along each direction (same units as Metric 2.1)
    reference: float         # phi of the Metric 2.1 maximization at eps = radius
    threshold: float         # steep: rise >= threshold * reference
    radius: float
    f0: float


@torch.no_grad()
def cone_fraction(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, directions: int = 100,
                  radius: float = 1e-3, threshold: float = 0.5, reference: float | None = None,
                  seed: int = 0, bn: str = "batch", batch_size: int = EVAL_BATCH,
                  sharpness_iters: int = SHARPNESS_ITERS, sharpness_fn: Callable | None = None) -> ConeResult:
    """The paper's "not a cone" remark, made precise (it states no procedure, only "~5%").

    Directions: random vertices of Metric 2.1's box C_eps with eps = ``radius``: the step along
    direction d is ``t_d = radius * (|x| + 1) * s_d`` elementwise, ``s_d`` a vector of independent
    random signs over every trainable parameter (BatchNorm gamma and beta included, running
    statistics not), drawn from a CPU generator seeded with ``seed``. A vertex is where a function
    that is linear or convex over the box attains its maximum, and it scales like the box.

    Rise along d: ``phi_d = (f(x + t_d) - f(x)) / (1 + f(x)) * 100`` (Metric 2.1's normalization),
    f the mean cross-entropy over (x, y) under BatchNorm policy ``bn``.

    Steep: ``phi_d >= threshold * reference``, where ``reference`` is the Metric 2.1 sharpness at
    eps = ``radius`` (the rise along the steepest direction the L-BFGS-B maximization finds; computed
    with ``sharpness_fn`` when not given). A cone (f rising steeply in every direction) gives a
    fraction near 1; a minimizer that is sharp only in a low-dimensional subspace gives a fraction
    near 0, because a random direction has a vanishing component in that subspace. Note that this
    measures the share of *directions*, not the dimension of the steep subspace the paper's "5% of
    the whole space" speaks of: random directions concentrate, so the fraction is ~0 or ~1 and the
    informative number is how the typical ``rises / reference`` compares with 1.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    saved = [p.detach().clone() for p in params]
    f0 = evaluate(model, x, y, batch_size, bn)[0]
    if reference is None:
        fn = sharpness_fn or keskar_sharpness
        with torch.enable_grad():
            reference = float(fn(model, x, y, eps=radius, iters=sharpness_iters, bn=bn,
                                 batch_size=batch_size, seed=seed).value)
        for p, s in zip(params, saved):  # the solver must leave the weights as they were
            p.copy_(s)
    gen = torch.Generator().manual_seed(seed)
    rises = np.empty(directions)
    try:
        for d in range(directions):
            for p, s in zip(params, saved):
                signs = torch.randint(0, 2, s.shape, generator=gen).to(s.device, s.dtype) * 2 - 1
                p.copy_(s + radius * (s.abs() + 1) * signs)
            f = evaluate(model, x, y, batch_size, bn)[0]
            rises[d] = (f - f0) / (1 + f0) * 100
    finally:
        for p, s in zip(params, saved):
            p.copy_(s)
    fraction = float(np.mean(rises >= threshold * reference)) if directions else math.nan
    return ConeResult(fraction, rises, float(reference), threshold, radius, f0)


CONE_VERSION = 1  # of the stored cone samplings: bump when a change alters them
