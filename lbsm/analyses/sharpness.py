"""Metric 2.1 of the paper: the (C_eps, A)-sharpness of the training loss at a minimizer.

For trainable parameters x in R^n, eps > 0 and A in R^{n x p} (Section 2.2.2, Eqs. 3-4)::

    phi_{x,f}(eps, A) = (max_{y in C_eps} f(x + A y) - f(x)) / (1 + f(x)) * 100
    C_eps = { y in R^p : |y_i| <= eps (|(A^+ x)_i| + 1) }

With A = I (the default, "full space") the box is |y_i| <= eps (|x_i| + 1) on every weight.

Decisions where the paper is silent (the authors' code was never released):

* Solver: as the paper, ``scipy.optimize.minimize(method="L-BFGS-B")`` on -f with those bounds
  (driven by ``lbsm.analyses.solver.lbfgsb``, same iterates),
  ``maxiter`` = 10 iterations, starting at the box vertex y = b sign(A^T grad f) after one
  evaluation at y = 0 (``start="sign"``; ``start="zero"`` is y = 0, see ``maximize_in_box``),
  memory at SciPy's default (10), the variables unscaled (the third-party port does the same).
  The paper states "10 iterations of L-BFGS-B", so the stopping tolerances are off by default
  (``tol="none"``: ftol = gtol = 0, a solve stops early only at an exact stationary point or a
  failed line search); SciPy's defaults (ftol 2.2e-9, gtol 1e-5, ``tol="scipy"``) stopped most
  Table 4 solves at their starting vertex after 0-2 iterations, and are measured as a choice in
  the sensitivity chapter. Every result records the iterations it ran. A line search may evaluate f more than
  once per iteration; we report both counts. Every point L-BFGS-B evaluates lies in the box, so
  we take fmax as the largest f it evaluated (normally its final iterate); f(x) is the evaluation
  at y = 0, which is L-BFGS-B's first.
* f is the training objective: the mean cross-entropy over the full training set (the paper says
  "sensitivity of the training function"), accumulated in float64 over evaluation batches of 5000
  (the official scripts' evaluation batch size). One forward + backward per batch gives f and its
  gradient together; the gradient w.r.t. y is A^T grad f (autograd, not finite differences).
* BatchNorm follows an explicit policy (``models.evaluation``): ``"batch"`` by default, i.e. each
  evaluation batch is normalized with its own statistics, as the official Keras ``mode=2`` layers.
  f then depends on the batch size, which is therefore part of its definition, not a speed knob.
  Dropout is off. Only trainable parameters (BatchNorm gamma/beta included) are perturbed; the
  running statistics are buffers and stay untouched.
* Random subspace (p = 100): the paper says only "an n x p matrix A whose columns are randomly
  generated"; the distribution and scaling are not given and the authors' code was never released.
  Default (``kind="gaussian"``): i.i.d. standard Gaussian entries, columns *not* normalized (what
  ``np.random.randn(n, p)`` gives). Each column then has norm ~ sqrt(n), the norm of the full-space
  box's vertex at |x_i| << 1 (eps sqrt(n) for eps = 1), so every random direction gets the whole
  perturbation budget of the full-space box, independently of n ("invariance to problem
  dimension"); the column space is a uniformly random p-dimensional subspace ("Ritz value of the
  Hessian projected on the column space of A"). Unit columns (``"gaussian-unit"``) shrink
  ||A y|| to ~ eps sqrt(p), sqrt(n / p) times less than the full-space box (120x for F1): the
  measured increase of f is then at the level of fp32 round-off (F1: ~1e-5 to 1e-4), which
  cannot be what Table 4 reports. ``"uniform"`` / ``"uniform-unit"`` are uniform [0, 1) entries
  (``np.random.rand``), raw or with unit columns as the only public third-party port: those
  columns share a large component along (1, ..., 1) (pairwise cosine ~ 0.75), so the subspace is
  biased toward shifting all weights at once; raw, that shift saturates the loss. The book measures
  all four on one F1 pair; none reproduces Table 4's magnitudes, so the default is the one with a
  principled scale, not a fit. A is drawn on the CPU from a seeded ``torch.Generator`` (same A on
  every device) in chunks of rows; it is kept on the device when it fits in ``cache_bytes``, else
  regenerated chunk by chunk at each use (``cache_bytes``, default 8 GiB: C2, n = 15M and p = 100,
  is 6 GB in fp32).
* A^+ comes from a thin QR, A = Q R, so A^+ x = R^{-1} Q^T x = R^{-1} R^{-T} A^T x. R is computed
  chunk by chunk (tall-skinny QR: the R of [R_prev; A_k] at each chunk), never a dense pinv.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad_and_value

from ..core import models, validate
from ..core.constants import EVAL_BATCH, SHARPNESS_ITERS
# the L-BFGS-B driver, its tolerances and stop reasons (importable from here as before)
from .solver import STOP_REASONS, TOLERANCES, lbfgsb, stop_reason, tolerance_glue  # noqa: F401

VERSION = 2  # of the stored Metric 2.1 values: bump when a change alters them
# random A of Table 4: entries gaussian (N(0, 1)) or uniform ([0, 1)); "-unit": columns normalized
SUBSPACE_KINDS = ("gaussian", "gaussian-unit", "uniform", "uniform-unit")


class Objective:
    """f(theta) = mean cross-entropy of ``model`` over (x, y) as a function of a flat vector theta
    of its trainable parameters, under the BatchNorm policy ``bn``.

    The one place where the training loss of Metric 2.1 (and of the Hessian in ``lbsm.analyses.hessian``) is
    defined. theta has the model's dtype and device; the sum over examples is accumulated in
    float64 over batches of ``batch_size``, and so are gradients and Hessian-vector products.
    """

    def __init__(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, bn: str = "batch",
                 batch_size: int = EVAL_BATCH):
        self.model, self.x, self.y, self.bn, self.batch_size = model, x, y, bn, batch_size
        named = [(k, p) for k, p in model.named_parameters() if p.requires_grad]
        self.names = [k for k, _ in named]
        self.shapes = [p.shape for _, p in named]
        self.theta0 = torch.cat([p.detach().reshape(-1) for _, p in named]).clone()
        self.n = self.theta0.numel()

    def params(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """Views of theta shaped as the model's parameters (no copy, so gradients flow to theta)."""
        out, i = {}, 0
        for k, s in zip(self.names, self.shapes):
            m = math.prod(s)
            out[k] = theta[i:i + m].view(s)
            i += m
        return out

    def batch_loss(self, theta: torch.Tensor, xb: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:
        """Summed (not mean) cross-entropy of one batch; the caller divides by the total count."""
        # parameters not in the dict (none) and all buffers come from the module itself
        return F.cross_entropy(functional_call(self.model, self.params(theta), (xb,)), yb,
                               reduction="sum")

    def batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for i in range(0, len(self.x), self.batch_size):
            yield self.x[i:i + self.batch_size], self.y[i:i + self.batch_size]

    def _theta(self, theta) -> torch.Tensor:
        return torch.as_tensor(theta).to(self.theta0.device, self.theta0.dtype)

    def value(self, theta=None) -> float:
        theta = self.theta0 if theta is None else self._theta(theta)
        total = torch.zeros((), dtype=torch.float64, device=theta.device)
        with torch.no_grad(), models.evaluation(self.model, self.bn):
            for xb, yb in self.batches():
                total += self.batch_loss(theta, xb, yb).double()
        return total.item() / len(self.x)

    def value_and_grad(self, theta=None) -> tuple[float, torch.Tensor]:
        """f(theta) and grad f(theta) (float64), one forward + backward per batch."""
        theta = self.theta0 if theta is None else self._theta(theta)
        total = torch.zeros((), dtype=torch.float64, device=theta.device)
        g = torch.zeros(self.n, dtype=torch.float64, device=theta.device)
        step = grad_and_value(self.batch_loss)
        with models.evaluation(self.model, self.bn):
            for xb, yb in self.batches():
                gb, lb = step(theta, xb, yb)
                total += lb.detach().double()
                g += gb
        # a single host sync per evaluation, here
        return total.item() / len(self.x), g / len(self.x)

    def hvp(self, v, theta=None) -> torch.Tensor:
        """Hessian-vector product H(theta) v (float64) by double backward (reverse-over-reverse).

        torch.func's forward-over-reverse (jvp of grad) gives the same numbers but costs ~50 ms of
        Python overhead per batch, which dominates on small networks.
        """
        theta = (self.theta0 if theta is None else self._theta(theta)).detach().requires_grad_(True)
        v = self._theta(v)
        out = torch.zeros(self.n, dtype=torch.float64, device=theta.device)
        with models.evaluation(self.model, self.bn):
            for xb, yb in self.batches():
                g, = torch.autograd.grad(self.batch_loss(theta, xb, yb), theta, create_graph=True)
                out += torch.autograd.grad(g, theta, v)[0]
        return out / len(self.x)


class Subspace:
    """The n x p matrix A of Metric 2.1, applied in chunks of rows.

    ``Subspace.random(n, p, seed)`` draws the paper's random A (see the module docstring for the
    distribution); ``Subspace.from_matrix(A)`` wraps a given dense matrix (used as given). A is
    ``raw * scale`` with ``scale`` a length-p column scaling, so normalizing columns never needs a
    second copy of A.
    """

    def __init__(self, n: int, p: int, make_chunks: Callable[[], Iterator[torch.Tensor]],
                 scale: torch.Tensor | None = None, device=None, cache_bytes: int = 8 << 30):
        self.n, self.p = n, p
        self.device = torch.device(device or "cpu")
        self._make = make_chunks
        self._cache = None
        if n * p * 4 <= cache_bytes:
            self._cache = [c.to(self.device) for c in make_chunks()]
        self.scale = torch.ones(p, dtype=torch.float64) if scale is None else scale
        self._r = None

    @classmethod
    def random(cls, n: int, p: int = 100, seed: int = 0, kind: str = "gaussian", device=None,
               chunk_rows: int = 1 << 16, cache_bytes: int = 8 << 30) -> "Subspace":
        """A seeded random n x p matrix of ``kind`` (one of ``SUBSPACE_KINDS``, module docstring)."""
        if kind not in SUBSPACE_KINDS:
            raise ValueError(f"unknown subspace kind {kind!r}; choose one of {', '.join(SUBSPACE_KINDS)}")
        dist, unit = kind.split("-")[0], kind.endswith("-unit")

        def chunks():
            # one seeded stream drawn in a fixed chunk order: A depends on (seed, chunk_rows) only
            g = torch.Generator().manual_seed(seed)
            draw = torch.randn if dist == "gaussian" else torch.rand
            for i in range(0, n, chunk_rows):
                yield draw(min(chunk_rows, n - i), p, generator=g)

        sub = cls(n, p, chunks, device=device, cache_bytes=cache_bytes)
        if not unit:
            return sub
        # unit columns: ||A e_j|| = ||R e_j|| for A = Q R, so one QR pass gives the norms too
        norms = torch.linalg.vector_norm(sub.r_factor(), dim=0)
        sub.scale, sub._r = 1.0 / norms, sub._r / norms
        return sub

    @classmethod
    def from_matrix(cls, a, device=None) -> "Subspace":
        a = torch.as_tensor(a)
        return cls(a.shape[0], a.shape[1], lambda: iter([a]), device=device or a.device)

    def chunks(self) -> Iterator[torch.Tensor]:
        """Row chunks of the unscaled matrix, on the device."""
        if self._cache is not None:
            yield from self._cache
        else:
            for c in self._make():
                yield c.to(self.device)

    def matvec(self, y) -> torch.Tensor:
        """A y (float64, length n)."""
        y = torch.as_tensor(y, dtype=torch.float64) * self.scale
        parts = [c @ y.to(c.device, c.dtype) for c in self.chunks()]
        return torch.cat(parts).double()

    def rmatvec(self, g: torch.Tensor, exact: bool = False) -> torch.Tensor:
        """A^T g (float64 on the CPU, length p), chunk products summed in float64. Each product is
        in A's storage precision (fp32 for the random A: the gradient g is no more precise than
        that), or in float64 with ``exact`` (used once, for A^+ x)."""
        out, i = torch.zeros(self.p, dtype=torch.float64), 0
        for c in self.chunks():
            c = c.double() if exact else c
            out += (c.T @ g[i:i + len(c)].to(c.device, c.dtype)).double().cpu()
            i += len(c)
        return out * self.scale

    def r_factor(self) -> torch.Tensor:
        """R of the thin QR A = Q R (p x p, float64), by tall-skinny QR over the row chunks."""
        if self._r is None:
            r = torch.zeros(0, self.p, dtype=torch.float64)
            for c in self.chunks():
                r = torch.linalg.qr(torch.cat([r, c.double().cpu()]), mode="r")[1]
            self._r = r * self.scale  # (raw D) has R factor (R_raw D): still upper triangular
        return self._r

    def pinv(self, x: torch.Tensor) -> torch.Tensor:
        """A^+ x = R^{-1} Q^T x = R^{-1} R^{-T} A^T x (A of full column rank p)."""
        r = self.r_factor()
        qtx = torch.linalg.solve_triangular(r.T, self.rmatvec(x, exact=True).unsqueeze(1), upper=False)
        return torch.linalg.solve_triangular(r, qtx, upper=True).squeeze(1)

    def dense(self) -> torch.Tensor:
        """The whole matrix A (for tests and small problems)."""
        return torch.cat([c.double().cpu() for c in self.chunks()]) * self.scale


@dataclass
class BoxMaximum:
    """What ``maximize_in_box`` found: f(x), the best f(x + A y) and the y achieving it."""
    f0: float
    fmax: float
    y: np.ndarray
    bound: np.ndarray
    iterations: int
    evaluations: int
    message: str
    # one entry per iteration k = 1, 2, ...: (k, evaluations so far, the largest f evaluated so far,
    # then of the k-th iterate: the mean of |y_i| / bound_i, the fraction of y_i on the box's face)
    trace: list[tuple[int, int, float, float, float]] = field(default_factory=list)


def reach(y: np.ndarray, bound: np.ndarray) -> tuple[float, float]:
    """How far y is toward the box: (mean of |y_i| / bound_i, the fraction of coordinates on a
    face, |y_i| = bound_i). (0, 0) at y = 0; (1, 1) at a vertex. L-BFGS-B projects onto the box
    exactly, so a coordinate on a face equals its bound."""
    r = np.abs(y) / bound
    return float(r.mean()), float((r >= 1 - 1e-12).mean())


def maximize_in_box(value_and_grad: Callable, x: torch.Tensor, eps: float, A: Subspace | None = None,
                    iters: int = SHARPNESS_ITERS, start: str = "sign", tol: str = "none") -> BoxMaximum:
    """max f(x + A y) over |y_i| <= eps (|(A^+ x)_i| + 1), by L-BFGS-B on -f.

    ``value_and_grad(z)`` takes a float64 tensor z (the perturbed point, length n) and returns
    (f(z), grad f(z)); any function works (the tests use a quadratic). ``A=None`` is A = I.

    ``start="zero"`` starts at y = 0, the natural reading of the paper. Near a minimizer
    the gradient is tiny and -f has negative curvature, so L-BFGS-B skips its curvature updates,
    its first steps are gradient steps of unit length (i.e. of the gradient's size, far inside the
    box) and 10 iterations may never reach the scale of the box: the result then depends on how
    well the minimizer converged rather than on the box. ``start="sign"`` spends one evaluation at
    y = 0 and starts from the vertex y_i = b_i sign((A^T grad f)_i), the maximizer of the
    first-order model of f over the box (one projected-gradient step to the boundary); L-BFGS-B
    then refines from there. The default is ``"sign"``, the ``cpu`` profile's earlier reading
    (chosen when the zero start once measured 0.001 on an F1 LB minimizer; the stored sensitivity
    solves no longer show that); the adopted reading (``lbsm.experiments.readings``, profile
    ``cpu-v2``: ``Profile.sharpness_start``) is ``"zero"``, as the only public port of Metric 2.1
    starts. Either way f(x) is the value at y = 0.

    The result's ``trace`` follows the solve iteration by iteration (:func:`reach` of each
    iterate, the largest f so far): a solve of k iterations is the first k entries of a longer
    one (the iterates do not depend on ``iters``), so one long solve reads off the shorter ones.
    """
    if eps <= 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    if start not in ("zero", "sign"):
        raise ValueError(f"unknown start {start!r}; choose 'zero' or 'sign'")
    if tol not in TOLERANCES:
        raise ValueError(f"unknown L-BFGS-B tolerances {tol!r}; choose one of {', '.join(TOLERANCES)}")
    x = torch.as_tensor(x).double()
    if A is not None and not isinstance(A, Subspace):
        A = Subspace.from_matrix(torch.as_tensor(A, dtype=torch.float64), device=x.device)
    coords = x.cpu() if A is None else A.pinv(x)
    bound = (eps * (coords.abs() + 1)).numpy()
    seen = []

    def neg(y: np.ndarray):
        yt = torch.from_numpy(y)
        z = x + (yt.to(x.device) if A is None else A.matvec(yt).to(x.device))
        f, g = value_and_grad(z)
        g = torch.as_tensor(g, dtype=torch.float64)
        seen.append((float(f), not y.any()))
        gy = g.cpu() if A is None else A.rmatvec(g)
        return -float(f), -gy.numpy()

    y0 = np.zeros(len(bound))
    if start == "sign":
        y0 = bound * np.sign(-neg(y0)[1])
    trace = []

    def follow(y: np.ndarray):
        trace.append((len(trace) + 1, len(seen), max(f for f, _ in seen), *reach(y, bound)))

    res = lbfgsb(neg, -bound, bound, maxiter=iters, x0=y0, callback=follow, **TOLERANCES[tol])
    at_zero = [f for f, zero in seen if zero]
    f0 = at_zero[0] if at_zero else float(value_and_grad(x)[0])
    return BoxMaximum(f0=f0, fmax=max(f for f, _ in seen), y=res.x, bound=bound,
                      iterations=int(res.nit), evaluations=len(seen), message=str(res.message),
                      trace=trace)


def phi(f0: float, fmax: float) -> float:
    """Metric 2.1 from f(x) and max f: a relative increase in percent."""
    return (fmax - f0) / (1 + f0) * 100


@dataclass
class SharpnessResult:
    value: float                 # phi, Metric 2.1 (percent)
    f0: float                    # f(x)
    fmax: float                  # max f(x + A y) found
    eps: float
    p: int | None                # subspace dimension (None: full space, A = I)
    iterations: int              # L-BFGS-B iterations
    evaluations: int             # evaluations of f and its gradient
    seconds: float
    n: int = 0                   # trainable parameters
    examples: int = 0            # training examples f averages over
    bn: str = "batch"
    start: str = "sign"          # L-BFGS-B start point, see maximize_in_box
    tol: str = "none"            # L-BFGS-B stopping tolerances (TOLERANCES)
    message: str = ""            # L-BFGS-B's last task (why it stopped)
    reach: float | None = None   # the final iterate's mean |y_i| / bound_i (see ``reach``)
    on_face: float | None = None  # ... and its fraction of coordinates on the box's face
    trace: list | None = None    # BoxMaximum.trace: the solve iteration by iteration

    def __str__(self) -> str:
        space = "full space" if self.p is None else f"random subspace p={self.p}"
        return (f"sharpness (Metric 2.1, {space}, eps={self.eps:g}, bn={self.bn}, start={self.start}): "
                f"{self.value:.4f}\n"
                f"  f(x) = {self.f0:.6g}, max f = {self.fmax:.6g} over {self.examples} examples, "
                f"n = {self.n}\n  {self.iterations} L-BFGS-B iterations (tolerances {self.tol}), {self.evaluations} "
                f"evaluations of f and grad, {self.seconds:.1f} s")


def keskar_sharpness(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float = 1e-3,
                     subspace: int | Subspace | None = None, iters: int = SHARPNESS_ITERS, bn: str = "batch",
                     batch_size: int = EVAL_BATCH, seed: int = 0, start: str = "sign",
                     subspace_kind: str = "gaussian", tol: str = "none") -> SharpnessResult:
    """Metric 2.1 of ``model``'s current weights on the training data (x, y).

    ``subspace``: None for the full space (A = I), an int p for a random n x p matrix of
    ``subspace_kind`` drawn with ``seed`` (``Subspace.random``), or a ready ``Subspace``.
    ``start``, ``tol``: see ``maximize_in_box``.
    """
    validate.finite_positive_float("eps", eps)
    validate.positive_int("iters", iters)
    if isinstance(subspace, int) or subspace is not None and not isinstance(subspace, Subspace):
        validate.positive_int("subspace", subspace)
    t0 = time.perf_counter()
    obj = Objective(model, x, y, bn, batch_size)
    A = subspace
    if isinstance(subspace, int):
        A = Subspace.random(obj.n, subspace, seed, kind=subspace_kind, device=obj.theta0.device)
    box = maximize_in_box(obj.value_and_grad, obj.theta0, eps, A, iters, start, tol)
    mean_reach, on_face = reach(box.y, box.bound)
    return SharpnessResult(value=phi(box.f0, box.fmax), f0=box.f0, fmax=box.fmax, eps=eps,
                           p=None if A is None else A.p, iterations=box.iterations,
                           evaluations=box.evaluations, seconds=time.perf_counter() - t0,
                           n=obj.n, examples=len(x), bn=bn, start=start, tol=tol,
                           message=box.message, reach=mean_reach, on_face=on_face,
                           trace=[list(t) for t in box.trace])


