"""Curvature of the training loss at a minimizer: top Hessian eigenvalues and the Hessian trace.

The paper never computes eigenvalues (its sharpness language is qualitative, Section 2.2.2); these
are the direct quantities Metric 2.1 stands in for, so the book can put them side by side. They
use exactly Metric 2.1's f (``lbsm.sharpness.Objective``): mean cross-entropy over the same
training examples, the same evaluation batches and the same BatchNorm policy ("batch" by default,
so the BN batch statistics are differentiated through as part of f), dropout off, all trainable
parameters (BatchNorm gamma/beta included), Hessian-vector products accumulated in float64.

* H v by double backward (``Objective.hvp``): one product costs about two gradient evaluations
  and never forms H.
* Top-k eigenvalues: Lanczos (ARPACK) through ``scipy.sparse.linalg.eigsh`` on a
  ``LinearOperator``, ``which="LA"`` (largest algebraic, so a negative-curvature direction of a
  non-converged point is not mistaken for a sharp one). The start vector is seeded, so results are
  reproducible. ARPACK's ``tol`` is relative accuracy of the Ritz values.
* Trace: Hutchinson's estimator tr H = E[v^T H v] with Rademacher v (the minimum-variance choice
  among i.i.d. probes), drawn from a seeded ``torch.Generator``; we return the sample mean and its
  standard error (sample standard deviation / sqrt(samples)).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.sparse.linalg
import torch
from torch import nn

from ..core.constants import EVAL_BATCH
from .sharpness import Objective

VERSION = 1  # of the stored eigenvalues and traces: bump when a change alters them


def hessian_operator(obj: Objective, counter: list | None = None) -> scipy.sparse.linalg.LinearOperator:
    """The Hessian of ``obj`` at its weights as a SciPy operator (float64, n x n, symmetric)."""
    def matvec(v):
        if counter is not None:
            counter.append(1)
        return obj.hvp(torch.from_numpy(np.ascontiguousarray(v).reshape(-1))).cpu().numpy()
    return scipy.sparse.linalg.LinearOperator((obj.n, obj.n), matvec=matvec, rmatvec=matvec,
                                              dtype=np.float64)


@dataclass
class Spectrum:
    values: np.ndarray      # top-k eigenvalues, largest first
    vectors: np.ndarray     # n x k, matching columns
    hvps: int               # Hessian-vector products used
    seconds: float

    def __str__(self) -> str:
        vals = ", ".join(f"{v:.5g}" for v in self.values)
        return f"top {len(self.values)} Hessian eigenvalues: {vals} ({self.hvps} HVPs, {self.seconds:.1f} s)"


def top_eigenvalues(model: nn.Module, x: torch.Tensor, y: torch.Tensor, k: int = 5, bn: str = "batch",
                    batch_size: int = EVAL_BATCH, tol: float = 1e-4, maxiter: int | None = None,
                    seed: int = 0) -> Spectrum:
    """The k largest (algebraic) eigenvalues of the Hessian of the training loss, and vectors."""
    t0 = time.perf_counter()
    obj = Objective(model, x, y, bn, batch_size)
    if not 1 <= k < obj.n:
        raise ValueError(f"need 1 <= k < n = {obj.n}, got k = {k}")
    count: list = []
    v0 = np.random.default_rng(seed).standard_normal(obj.n)
    vals, vecs = scipy.sparse.linalg.eigsh(hessian_operator(obj, count), k=k, which="LA", tol=tol,
                                           maxiter=maxiter, v0=v0)
    order = np.argsort(vals)[::-1]
    return Spectrum(vals[order], vecs[:, order], len(count), time.perf_counter() - t0)


class TraceEstimate(NamedTuple):
    mean: float
    stderr: float
    samples: int


def hutchinson_trace(model: nn.Module, x: torch.Tensor, y: torch.Tensor, samples: int = 20,
                     bn: str = "batch", batch_size: int = EVAL_BATCH, seed: int = 0) -> TraceEstimate:
    """Hutchinson's estimate of tr H: the mean of v^T H v over Rademacher probes v."""
    if samples < 2:
        raise ValueError("need at least 2 samples for a standard error")
    obj = Objective(model, x, y, bn, batch_size)
    g = torch.Generator().manual_seed(seed)
    quad = []
    for _ in range(samples):
        v = (torch.randint(0, 2, (obj.n,), generator=g) * 2 - 1).to(torch.float64)
        quad.append(torch.dot(v, obj.hvp(v).cpu()).item())
    q = np.array(quad)
    return TraceEstimate(float(q.mean()), float(q.std(ddof=1) / math.sqrt(samples)), samples)
