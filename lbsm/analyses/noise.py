"""The simple gradient noise scale B_simple = tr(Sigma) / |G|^2 from per-example gradients.

McCandlish et al. 2018 ("An Empirical Model of Large-Batch Training", Eq. 2.9) predict the batch
size beyond which larger batches stop paying off from the gradient's signal-to-noise ratio: with
g_i the gradient of example i's loss, G = E g_i the true gradient and Sigma = Cov(g_i) the
per-example covariance::

    B_simple = tr(Sigma) / |G|^2

Estimator over the n examples of (x, y):

* G is the sample mean of the g_i and |G|^2 its squared norm (the plug-in value, biased upward
  by tr(Sigma) / n; ``NoiseScale.grad_norm_sq_unbiased`` subtracts that term, their Appendix A's
  correction in per-example form, and can come out negative on a small sample);
* tr(Sigma) = sum_i |g_i - G|^2 / (n - 1), the unbiased sample covariance (the n / (n - 1)
  correction of the mean squared deviation);
* accumulated over chunks of ``chunk_size`` examples in float64 by Chan et al.'s pairwise update
  of the mean and the sum of squared deviations, not as E|g|^2 - |G|^2 (which cancels
  catastrophically when the noise is small against the mean). Identical per-example gradients
  give tr(Sigma) = 0 and B_simple = 0 exactly.

Per-example gradients: ``torch.func.vmap`` over ``torch.func.grad`` of one example's
cross-entropy, through ``functional_call`` on the model's trainable parameters (BatchNorm
gamma/beta included). Under train-mode BatchNorm (policy ``"batch"``) an example's loss depends on
the other examples of its batch, so "the gradient of example i" is not defined (and a batch of
one has no variance); we therefore evaluate with running statistics (``bn="running"``, the only
policy accepted) and dropout off (``models.evaluation``). The model's running statistics should be
the minimizer's (``lbsm.analyses.landscape.recalibrate_`` recomputes them).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap

from ..core import models, validate

VERSION = 2  # of the stored noise scales (1: under lbsm.experiments.beyond's version)


def per_example_grads(model: nn.Module, x: torch.Tensor, y: torch.Tensor, bn: str = "running") -> torch.Tensor:
    """The n x P matrix of per-example gradients of the cross-entropy with respect to the
    trainable parameters (flattened in ``named_parameters`` order), in the model's dtype."""
    if bn != "running":
        raise ValueError("per-example gradients need bn='running': under train-mode BatchNorm one "
                         "example's loss depends on the rest of its batch")
    names = [k for k, p in model.named_parameters() if p.requires_grad]
    params = {k: p.detach() for k, p in model.named_parameters() if k in names}

    def loss_one(ps, xi, yi):
        logits = functional_call(model, ps, (xi.unsqueeze(0),))
        return F.cross_entropy(logits, yi.unsqueeze(0))

    with models.evaluation(model, bn):
        g = vmap(grad(loss_one), in_dims=(None, 0, 0))(params, x, y)
    return torch.cat([g[k].reshape(len(x), -1) for k in names], dim=1)


class Moments:
    """Running mean and sum of squared deviations of vectors, merged chunk by chunk (float64).

    Chan, Golub & LeVeque (1979): for two groups with counts n_a, n_b, means m_a, m_b and sums of
    squared deviations M_a, M_b, the union has M = M_a + M_b + |m_b - m_a|^2 n_a n_b / (n_a + n_b).
    """

    def __init__(self):
        self.n, self.mean, self.m2 = 0, None, 0.0

    def add(self, rows: torch.Tensor) -> None:
        k = len(rows)
        if k == 0:
            return
        # one float64 copy, then in place (a chunk of F1's gradients is 0.75 GB in float64: the
        # temporaries of the plain expression made this 2.5x slower than the gradients themselves).
        # Shifted by the first row: the mean of identical rows is that row exactly, not to 1 ulp.
        shifted = rows.to(torch.float64, copy=True)
        first = shifted[0].clone()
        shifted -= first
        offset = shifted.mean(0)
        mean = first + offset
        shifted -= offset
        m2 = float(shifted.square_().sum())
        if self.mean is None:
            self.n, self.mean, self.m2 = k, mean, m2
            return
        delta = mean - self.mean
        total = self.n + k
        self.m2 += m2 + float(delta @ delta) * self.n * k / total
        self.mean = self.mean + delta * (k / total)
        self.n = total


@dataclass
class NoiseScale:
    b_simple: float               # tr(Sigma) / |G|^2
    trace_sigma: float            # sum_i |g_i - G|^2 / (n - 1)
    grad_norm_sq: float           # |G|^2 of the sample mean (plug-in)
    grad_norm_sq_unbiased: float  # |G|^2 - tr(Sigma) / n
    n: int                        # examples

    def __str__(self) -> str:
        return (f"B_simple = {self.b_simple:.4g} over {self.n} examples "
                f"(tr Sigma = {self.trace_sigma:.4g}, |G|^2 = {self.grad_norm_sq:.4g})")


def noise_scale_from_grads(chunks) -> NoiseScale:
    """B_simple from per-example gradients given as an iterable of (k x P) chunks (or one matrix)."""
    if isinstance(chunks, torch.Tensor):
        chunks = [chunks]
    mom = Moments()
    for c in chunks:
        mom.add(torch.as_tensor(c))
    if mom.n < 2:
        raise ValueError(f"need at least 2 examples for a covariance, got {mom.n}")
    trace = mom.m2 / (mom.n - 1)
    g2 = float(mom.mean @ mom.mean)
    b = trace / g2 if g2 > 0 else float("inf") if trace > 0 else float("nan")
    return NoiseScale(b, trace, g2, g2 - trace / mom.n, mom.n)


def noise_scale(model: nn.Module, x: torch.Tensor, y: torch.Tensor, bn: str = "running",
                chunk_size: int = 64) -> NoiseScale:
    """B_simple of ``model``'s trainable parameters over (x, y), per-example gradients computed
    ``chunk_size`` examples at a time (memory: chunk_size x P floats, 0.3 GB for F1 at 64)."""
    validate.positive_int("chunk_size", chunk_size)
    return noise_scale_from_grads(per_example_grads(model, x[i:i + chunk_size], y[i:i + chunk_size], bn)
                                  for i in range(0, len(x), chunk_size))
