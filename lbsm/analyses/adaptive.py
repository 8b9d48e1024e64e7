"""Adaptive sharpness (Andriushchenko et al. 2023): worst-case and average-case, scale invariant.

"A Modern Look at the Relationship between Sharpness and Generalization" (ICML 2023) measures
sharpness in the coordinates of the weights themselves: with T_w = diag(|w|) (elementwise)::

    worst case    S_max(w, rho) = max_{||T_w^{-1} delta||_p <= rho} L(w + delta) - L(w),  p = inf or 2
    average case  S_avg(w, rho) = E_{delta ~ N(0, rho^2 diag(|w|^2))} L(w + delta) - L(w)

Writing delta = |w| * u (elementwise) turns both into problems in u alone: ||u||_p <= rho, or
u ~ N(0, rho^2 I). A rescaling that leaves the network's function unchanged, w' = alpha w on a
layer that feeds a BatchNorm (``lbsm.analyses.reparam``), maps w + |w| u to alpha (w + |w| u),
so every u gives the same loss before and after: both measures are invariant, unlike Metric 2.1,
whose box eps (|x_i| + 1) is not proportional to |x_i|.

Decisions (checked against the authors' code, github.com/tml-epfl/sharpness-vs-generalization,
``sharpness.py``: ``eval_APGD_sharpness``, ``weight_ascent_step_momentum``, ``random_init_lw``,
``eval_average_sharpness``):

* Perturbed parameters: all trainable parameters, biases and BatchNorm gamma/beta included, as
  their code (it perturbs every ``model.parameters()``); BatchNorm running statistics are buffers
  and stay as they are. A weight equal to 0 is never perturbed (|w| = 0).
* L is our training objective f (``lbsm.analyses.sharpness.Objective``): mean cross-entropy over
  the given (x, y) in evaluation batches of ``batch_size``, under the BatchNorm policy ``bn``
  (default ``"batch"`` as everywhere in the book; their code evaluates in eval mode, i.e.
  ``bn="running"``). One delta for all of (x, y); their code maximizes per batch of 128 examples
  and averages the per-batch values (call this per batch and average to do the same).
* Worst case: their solver, gradient ascent in u from u = 0 (their ``rand_init`` is off in
  ``eval_sharpness.py``), steps of size 2 rho along sign(grad_u) (p = inf) or grad_u / ||grad_u||
  (p = 2), with grad_u = |w| * grad L, then projection onto the ball; momentum 0.75 and the step
  halving of APGD (Croce & Hein 2020) at the same checkpoints (0, 0.22, ... of the iterations),
  where fewer than 75 % of the steps since the last checkpoint improved the best value, or neither
  the step nor the best value changed; after a halving we restart from the best point. Two
  departures: (1) we iterate on u, where the l2 ball is a sphere and the projection a rescaling,
  while their code iterates on delta (gradient normalized by the unweighted gradient norm,
  bisection onto the ellipsoid): the same maximization, different iterates, and only ours are
  exactly invariant; (2) the momentum step is APGD's, u_{k+1} = P(u_k + 0.75 (z_{k+1} - u_k)
  + 0.25 (u_k - u_{k-1})) as their docstring writes it (their code computes
  0.75 z_{k+1} + 0.25 u_{k-1}), and the first step has no momentum. The value is the largest L
  found minus L(w), so it is a lower bound of S_max.
* Precision: the invariance is exact in exact arithmetic. In float32 the sign steps are not:
  round-off flips the sign of near-zero gradient entries, and the l_inf iterates of a model and
  of its rescaled copy drift apart (F1 at initialization, rho = 0.01: 2.5 % apart); in float64
  (``model.double()``) the two agree to ~1e-13.
* Average case: ``samples`` Gaussian draws of u from a seeded CPU ``torch.Generator`` (the same
  u for every model with the same parameter count and seed: the invariance holds draw by draw);
  we return the mean increase and its standard error.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ..core import validate
from ..core.constants import EVAL_BATCH
from .sharpness import Objective

NORMS = ("inf", "2")
MOMENTUM = 0.75            # their weight_ascent_step_momentum(momentum=0.75)
MIN_UPDATE_RATIO = 0.75    # their eval_APGD_sharpness(min_update_ratio=0.75)


def checkpoints(iters: int) -> list[int]:
    """The iterations where APGD may halve its step: p_0 = 0, p_1 = 0.22,
    p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06), times ``iters`` rounded up (their schedule)."""
    p, w = [0.0, 0.22], [0, math.ceil(iters * 0.22)]
    while w[-1] < iters and w[-1] != w[-2]:
        p.append(p[-1] + max(p[-1] - p[-2] - 0.03, 0.06))
        w.append(math.ceil(p[-1] * iters))
    return w[1:]


def project(u: torch.Tensor, rho: float, p: str) -> torch.Tensor:
    """The closest point to u in the ball ||u||_p <= rho (a clamp for inf, a rescaling for 2)."""
    if p == "inf":
        return u.clamp(-rho, rho)
    norm = torch.linalg.vector_norm(u)
    return u * (rho / norm) if norm > rho else u


def ascent_direction(g: torch.Tensor, p: str) -> torch.Tensor:
    """The steepest-ascent direction for a unit step in the p-norm: sign(g), or g / ||g||_2."""
    if p == "inf":
        return g.sign()
    return g / (torch.linalg.vector_norm(g) + 1e-12)


@dataclass
class WorstCase:
    value: float        # max L(w + delta) found - L(w)
    f0: float           # L(w)
    fmax: float         # the largest L(w + delta) evaluated
    u: torch.Tensor     # the maximizer found, delta = |w| * u
    iterations: int
    halvings: int       # step-size reductions


def worst_case(value_and_grad: Callable, w: torch.Tensor, rho: float, p: str = "inf",
               iters: int = 20) -> WorstCase:
    """max L(w + |w| u) - L(w) over ||u||_p <= rho by momentum projected gradient ascent (APGD).

    ``value_and_grad(z)`` takes a float64 vector z (the perturbed point) and returns (L(z),
    grad L(z)); any function works (the tests use linear and quadratic ones). The schedule and
    the departures from the authors' code are in the module docstring.
    """
    if p not in NORMS:
        raise ValueError(f"unknown norm {p!r}; choose one of {', '.join(NORMS)}")
    validate.positive_int("iters", iters)
    w = torch.as_tensor(w).double()
    scale = w.abs()

    def at(u):
        f, g = value_and_grad(w + scale * u)
        return float(f), scale * torch.as_tensor(g, dtype=torch.float64)

    u = torch.zeros_like(w)
    f0, g = at(u)
    if rho == 0:
        return WorstCase(0.0, f0, f0, u, 0, 0)
    validate.finite_positive_float("rho", rho)
    step, best_f, best_u, best_g = 2 * rho, f0, u, g
    marks, last_mark, improved = set(checkpoints(iters)), 0, 0
    mark_step, mark_best, halvings, prev = step, best_f, 0, None
    for k in range(iters):
        z = project(u + step * ascent_direction(g, p), rho, p)
        nxt = z if prev is None else project(
            u + MOMENTUM * (z - u) + (1 - MOMENTUM) * (u - prev), rho, p)
        prev, u = u, nxt
        f, g = at(u)
        if f > best_f:
            best_f, best_u, best_g = f, u, g
            improved += 1
        if k in marks:  # APGD's test, with their code's 0-based iteration count
            few = improved < MIN_UPDATE_RATIO * (k - last_mark)
            stuck = mark_step == step and mark_best == best_f
            mark_step, mark_best, last_mark, improved = step, best_f, k, 0
            if few or stuck:
                step, halvings = step / 2, halvings + 1
                u, g, prev = best_u, best_g, None  # restart from the best point, no momentum
    return WorstCase(best_f - f0, f0, best_f, best_u, iters, halvings)


@dataclass
class AdaptiveSharpness:
    value: float        # S_max or S_avg
    f0: float           # L(w)
    rho: float
    kind: str           # "worst-inf", "worst-2" or "average"
    stderr: float       # Monte Carlo standard error (average case; 0 for the worst case)
    evaluations: int    # evaluations of L
    n: int              # perturbed parameters
    bn: str
    seconds: float


def adaptive_worst_case(model: nn.Module, x: torch.Tensor, y: torch.Tensor, rho: float, p: str = "inf",
                        iters: int = 20, bn: str = "batch", batch_size: int = EVAL_BATCH) -> AdaptiveSharpness:
    """S_max(w, rho) of ``model``'s trainable parameters on (x, y), by ``worst_case``."""
    t0 = time.perf_counter()
    obj = Objective(model, x, y, bn, batch_size)
    res = worst_case(obj.value_and_grad, obj.theta0, rho, p, iters)
    return AdaptiveSharpness(res.value, res.f0, rho, f"worst-{p}", 0.0, res.iterations + 1, obj.n, bn,
                             time.perf_counter() - t0)


def average_case(value: Callable, w: torch.Tensor, rho: float, samples: int = 100,
                 seed: int = 0) -> tuple[float, float, float]:
    """(mean of L(w + |w| u) - L(w) over ``samples`` draws u ~ N(0, rho^2 I), its standard error,
    L(w)). u is drawn on the CPU in float64 from ``torch.Generator().manual_seed(seed)``."""
    validate.positive_int("samples", samples)
    w = torch.as_tensor(w).double()
    f0 = float(value(w))
    if rho == 0:
        return 0.0, 0.0, f0
    validate.finite_positive_float("rho", rho)
    gen = torch.Generator().manual_seed(seed)
    rises = torch.tensor([float(value(w + w.abs() * rho * torch.randn(len(w), generator=gen,
                                                                      dtype=torch.float64).to(w.device)))
                          - f0 for _ in range(samples)], dtype=torch.float64)
    stderr = float(rises.std() / math.sqrt(samples)) if samples > 1 else float("nan")
    return float(rises.mean()), stderr, f0


def adaptive_average_case(model: nn.Module, x: torch.Tensor, y: torch.Tensor, rho: float, samples: int = 100,
                          seed: int = 0, bn: str = "batch", batch_size: int = EVAL_BATCH) -> AdaptiveSharpness:
    """S_avg(w, rho) of ``model``'s trainable parameters on (x, y), by ``average_case``."""
    t0 = time.perf_counter()
    obj = Objective(model, x, y, bn, batch_size)
    mean, stderr, f0 = average_case(obj.value, obj.theta0, rho, samples, seed)
    return AdaptiveSharpness(mean, f0, rho, "average", stderr, samples + 1, obj.n, bn,
                             time.perf_counter() - t0)
