"""Section 3 (Figs. 4-6, the "not a cone" remark), Appendix C and the remedy tables of Appendix E.

Each function is a thin composition of :func:`lbsm.train.sweep` / :func:`lbsm.train.fit` (the
results store makes every experiment resumable: a finished run is loaded, an interrupted one goes
on from its last epoch) and of the sharpness metric (Metric 2.1,
:func:`lbsm.sharpness.keskar_sharpness`), and returns a tidy pandas DataFrame for the book.

Conventions shared by every function here:

* Sharpness is that of the *training* function of the run (its ``train_subset``), on its first
  ``sharpness_subset`` examples (None: all of them), in the full space (A = I_n) unless
  ``subspace`` says otherwise, under the run's BatchNorm evaluation policy. One column per epsilon,
  named by :func:`sharpness_col` (``sharpness_1e-03``, ``sharpness_5e-04``).
* Each sharpness solve is an analysis of the results store (``analyses/sharpness/<key>.json``, the
  key hashing the run, the weights chosen, epsilon, iterations, L-BFGS-B start, subset, BatchNorm
  policy, evaluation batch, subspace and its kind, seed, the sharpness function's name and
  ``lbsm.sharpness.VERSION``), so asking again costs nothing; so is each cone sampling.
* ``sharpness_fn`` defaults to :func:`lbsm.sharpness.keskar_sharpness`; tests pass a cheap one.
* ``config`` takes further :class:`lbsm.train.TrainConfig` fields (e.g. ``stop="plateau"``,
  ``bn_eval``) applied to every run an experiment trains.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm  # text bars: the notebooks pass progress=False, ipywidgets is not needed

from ..core import data as lbsm_data
from ..train import protocol as train
from ..core.store import Store
from ..train.protocol import SB_BATCH, Run, TrainConfig

DEFAULT_EPS = (1e-3, 5e-4)
RESULT_FIELDS = ("value", "f0", "fmax", "eps", "p", "iterations", "evaluations", "seconds")


# ---------------------------------------------------------------------------------------------
# sharpness of stored runs (cached)
# ---------------------------------------------------------------------------------------------

def sharpness_col(eps: float) -> str:
    """Column name of the sharpness at ``eps``: ``sharpness_1e-03``, ``sharpness_5e-04``."""
    return f"sharpness_{eps:.0e}"


def _default_sharpness_fn():
    from ..analyses.sharpness import keskar_sharpness  # written alongside; imported only when needed
    return keskar_sharpness


def _fn_name(fn) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def _result_dict(res) -> dict:
    d = dataclasses.asdict(res) if dataclasses.is_dataclass(res) else {
        f: getattr(res, f, None) for f in RESULT_FIELDS}

    def plain(v):
        if isinstance(v, torch.Tensor):
            return v.item() if v.numel() == 1 else v.tolist()
        if isinstance(v, np.generic):
            return v.item()
        return v
    return {k: plain(v) for k, v in d.items()
            if k in RESULT_FIELDS or isinstance(v, (int, float, str, bool, type(None)))}


def training_data(run: Run, subset: int | None = None, device=None) -> tuple[torch.Tensor, torch.Tensor]:
    """The run's training set (its ``train_subset``), cut to its first ``subset`` examples."""
    cfg = run.config
    ds = lbsm_data.load(cfg.dataset).subset(cfg.train_subset, None)
    x, y = ds.x_train, ds.y_train
    if subset is not None:
        x, y = x[:subset], y[:subset]
    dev = device or train.default_device()
    return x.to(dev), y.to(dev)


def run_sharpness(run: Run, eps: Sequence[float] = DEFAULT_EPS, which: str | int = "final",
                  iters: int = 10, subset: int | None = None, subspace: int | None = None,
                  seed: int = 0, sharpness_fn: Callable | None = None, device=None,
                  subspace_kind: str = "gaussian", start: str = "sign",
                  store: Store | None = None, bn: str | None = None,
                  batch_size: int | None = None, tol: str = "none") -> dict[float, dict]:
    """Metric 2.1 of a stored run's weights (``which``: "final", "x0" or an epoch) at each eps.

    ``subspace``: None (full space) or p, with a random A of ``subspace_kind``
    (``lbsm.sharpness.SUBSPACE_KINDS``); ``start``: the L-BFGS-B start point (``"sign"``: the box
    vertex along the gradient, ``"zero"``); ``bn`` / ``batch_size``: the BatchNorm policy and the
    evaluation batch of f (default: the run's). Returns {eps: result dict (value, f0, fmax,
    ...)}; each solve is an analysis of the results store."""
    from ..analyses.sharpness import VERSION
    fn = sharpness_fn or _default_sharpness_fn()
    store = store or run.store or Store()
    bn = bn or run.config.bn_eval
    batch_size = batch_size or run.config.eval_batch_size
    kind = {} if subspace is None else {"subspace_kind": subspace_kind}
    loaded = {}

    def solve(e):
        if "model" not in loaded:  # weights and data once for every eps that is not stored
            dev = device or train.default_device()
            loaded["model"] = run.model(which, dev)
            loaded["weights"] = {k: v.clone() for k, v in loaded["model"].state_dict().items()}
            loaded["xy"] = training_data(run, subset, dev)
        model = loaded["model"]
        model.load_state_dict(loaded["weights"])  # each solve starts from the stored weights
        return _result_dict(fn(model, *loaded["xy"], eps=float(e), subspace=subspace, iters=iters,
                               bn=bn, batch_size=batch_size, seed=seed, start=start, **kind,
                               **({} if tol == "none" else {"tol": tol})))
    if subspace is None:
        seed = 0  # the seed draws only a random A: one full-space solve per run, whoever asks
    out = {}
    for e in eps:
        params = dict(run=run.name, which=which, eps=float(e), iters=iters, subset=subset, bn=bn,
                      batch_size=batch_size, subspace=subspace, seed=seed,
                      start=start, tol=tol, fn=_fn_name(fn), **kind)
        out[e] = store.analysis("sharpness", params, lambda e=e: solve(e), VERSION, device)
    return out


def _sharpness_cells(run: Run, eps, **kw) -> dict:
    """``{sharpness_col(e): value}``; NaN for a diverged run (its weights are not a minimizer)."""
    if run.status != "done" or not eps:
        return {sharpness_col(e): math.nan for e in eps}
    res = run_sharpness(run, eps, **kw)
    return {sharpness_col(e): res[e]["value"] for e in eps}


def _final_cells(run: Run) -> dict:
    f = run.final
    return dict(status=run.status, epochs_run=int(f["epoch"]), train_loss=f["train_loss"],
                train_acc=f["train_acc"], test_loss=f["test_loss"], test_acc=f["test_acc"])


def _configs_common(seed, train_subset, test_subset, precision, config) -> dict:
    return dict(seed=seed, train_subset=train_subset, test_subset=test_subset, precision=precision,
                **(config or {}))


def _lb(net: str, lb_batch: int | None, train_subset: int | None) -> int:
    return lb_batch or train.lb_batch(net, train_subset)


# ---------------------------------------------------------------------------------------------
# Fig. 4: test accuracy and sharpness vs batch size; the threshold batch size
# ---------------------------------------------------------------------------------------------

def batch_size_sweep(net: str, batch_sizes: Sequence[int], epochs: int = 100,
                     seeds: Sequence[int] = (0,), eps: Sequence[float] = DEFAULT_EPS,
                     sharpness_iters: int = 10, sharpness_subset: int | None = None,
                     train_subset: int | None = None, test_subset: int | None = None,
                     precision: str = "fp32", store: Store | None = None,
                     sharpness_fn: Callable | None = None, device=None, progress: bool = True,
                     config: dict | None = None, configs_only: bool = False) -> pd.DataFrame:
    """Fig. 4: train ``net`` for a fixed number of ``epochs`` at each batch size (paper: 100
    epochs; batch sizes and repeats are not given) and measure the final iterate's test accuracy
    and sharpness. One row per (batch size, seed). ``configs_only``: return the runs' configs
    (what ``lbsm.compute`` schedules) instead."""
    store = store or Store()
    cfgs = [TrainConfig(net, int(b), epochs=epochs,
                        **_configs_common(s, train_subset, test_subset, precision, config))
            for s in seeds for b in batch_sizes]
    if configs_only:
        return cfgs
    runs = train.sweep(cfgs, store, device=device, progress=progress, desc=f"Fig. 4 {net}")
    rows = []
    for run in tqdm(runs, desc="sharpness", disable=not progress, leave=False):
        rows.append(dict(net=net, batch_size=run.config.batch_size, seed=run.config.seed,
                         **_final_cells(run),
                         **_sharpness_cells(run, eps, iters=sharpness_iters, subset=sharpness_subset,
                                            sharpness_fn=sharpness_fn, device=device),
                         run=run.name))
    return pd.DataFrame(rows)


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


# ---------------------------------------------------------------------------------------------
# Fig. 5: warm starts
# ---------------------------------------------------------------------------------------------

def warm_starts(net: str, sb_epochs: int = 100, lb_epochs: int = 100,
                sb_epoch_subset: Sequence[int] | None = None, seed: int = 0,
                sb_batch: int = SB_BATCH, lb_batch: int | None = None,
                eps: Sequence[float] = DEFAULT_EPS, sharpness_iters: int = 10,
                sharpness_subset: int | None = None, train_subset: int | None = None,
                test_subset: int | None = None, precision: str = "fp32",
                store: Store | None = None, sharpness_fn: Callable | None = None, device=None,
                progress: bool = True, config: dict | None = None,
                configs_only: bool = False) -> pd.DataFrame:
    """Fig. 5: train SB (batch 256) for ``sb_epochs`` keeping the iterate after every epoch; from
    each kept iterate (epoch 0 = x0 included; ``sb_epoch_subset`` picks some) train LB for
    ``lb_epochs`` (paper: 100 and 100, every epoch). One row per SB epoch: the SB iterate's test
    accuracy and training loss, the warm-started LB solution's test accuracy and sharpness.

    The LB run of epoch e is ``TrainConfig(..., init="<SB run>@e")``: it starts from those weights
    with a fresh ADAM state (the paper does not say; a new LB optimizer is the natural reading of
    "train with the LB method"). ``configs_only``: return the configs, SB run first."""
    store = store or Store()
    common = _configs_common(seed, train_subset, test_subset, precision, config)
    sb_cfg = TrainConfig(net, sb_batch, epochs=sb_epochs, **{**common, "checkpoints": True})
    lb = _lb(net, lb_batch, train_subset)
    if configs_only:
        epochs = range(sb_epochs + 1) if sb_epoch_subset is None else sb_epoch_subset
        return [sb_cfg] + [TrainConfig(net, lb, epochs=lb_epochs,
                                       **{**common, "init": f"{sb_cfg.name}@{int(e)}"})
                           for e in epochs]
    sb = train.fit(sb_cfg, store, device=device, progress=progress)
    available = [int(e) for e in sb.history.epoch]
    if sb.status != "done":  # a diverged epoch keeps no weights
        available = available[:-1]
    epochs = available if sb_epoch_subset is None else [int(e) for e in sb_epoch_subset]
    missing = sorted(set(epochs) - set(available))
    if missing:
        raise ValueError(f"SB run {sb.name} has no weights for epoch(s) {missing}; "
                         f"it kept epochs {available[0]}..{available[-1]}")
    cfgs = [TrainConfig(net, lb, epochs=lb_epochs, **{**common, "init": f"{sb.name}@{e}"})
            for e in epochs]
    runs = train.sweep(cfgs, store, device=device, progress=progress, desc=f"Fig. 5 {net} warm starts")
    hist = sb.history.set_index("epoch")
    rows = []
    for e, run in zip(tqdm(epochs, desc="sharpness", disable=not progress, leave=False), runs):
        f = run.final
        rows.append(dict(net=net, seed=seed, sb_epoch=e, sb_batch=sb_batch, lb_batch=lb,
                         sb_train_loss=hist.loc[e, "train_loss"], sb_test_acc=hist.loc[e, "test_acc"],
                         lb_status=run.status, lb_train_loss=f["train_loss"], lb_test_acc=f["test_acc"],
                         **_sharpness_cells(run, eps, iters=sharpness_iters, subset=sharpness_subset,
                                            sharpness_fn=sharpness_fn, device=device),
                         run=run.name))
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Fig. 6: sharpness vs training loss along SB and LB training
# ---------------------------------------------------------------------------------------------

def sample_epochs(last: int, sample: int | Sequence[int] | None) -> list[int]:
    """Epochs 0..``last``: all (None), ``sample`` of them evenly spaced with both ends (an int),
    or the given ones that exist (a sequence)."""
    if sample is None:
        return list(range(last + 1))
    if isinstance(sample, int):
        return sorted({int(round(v)) for v in np.linspace(0, last, max(1, min(sample, last + 1)))})
    return sorted({int(e) for e in sample if 0 <= int(e) <= last})


def sharpness_along_training(net: str, sb_epochs: int = 100, lb_epochs: int = 100,
                             epochs: int | Sequence[int] | None = None, seed: int = 0,
                             sb_batch: int = SB_BATCH, lb_batch: int | None = None,
                             eps: Sequence[float] = DEFAULT_EPS, sharpness_iters: int = 10,
                             sharpness_subset: int | None = None, train_subset: int | None = None,
                             test_subset: int | None = None, precision: str = "fp32",
                             store: Store | None = None, sharpness_fn: Callable | None = None,
                             device=None, progress: bool = True,
                             config: dict | None = None, configs_only: bool = False) -> pd.DataFrame:
    """Fig. 6: one SB and one LB run (same seed, so the same x0) with the weights of every epoch
    kept; sharpness of the iterate at sampled epochs (``epochs``: None = every epoch, as the paper's
    C1 panel; an int = that many evenly spaced; or a list) against its training loss (the paper's
    x-axis "cross entropy loss"; we read it as the full training loss that the history records,
    under the run's BatchNorm evaluation policy). One row per (regime, epoch).

    With the same knobs as :func:`warm_starts` the SB run is the same stored run.
    ``configs_only``: return the two configs (SB, LB)."""
    store = store or Store()
    common = {**_configs_common(seed, train_subset, test_subset, precision, config), "checkpoints": True}
    cfgs = [TrainConfig(net, sb_batch, epochs=sb_epochs, **common),
            TrainConfig(net, _lb(net, lb_batch, train_subset), epochs=lb_epochs, **common)]
    if configs_only:
        return cfgs
    runs = train.sweep(cfgs, store, device=device, progress=progress, desc=f"Fig. 6 {net}")
    rows = []
    for regime, run in zip(("SB", "LB"), runs):
        hist = run.history.set_index("epoch")
        last = int(hist.index[-1]) - (run.status != "done")
        for e in tqdm(sample_epochs(last, epochs), desc=f"sharpness {regime}",
                      disable=not progress, leave=False):
            rows.append(dict(net=net, seed=seed, regime=regime, batch_size=run.config.batch_size,
                             epoch=e, train_loss=hist.loc[e, "train_loss"],
                             test_acc=hist.loc[e, "test_acc"],
                             **_sharpness_cells(run, eps, which=e, iters=sharpness_iters,
                                                subset=sharpness_subset, sharpness_fn=sharpness_fn,
                                                device=device)))
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# "not a cone": along how many random directions does the loss rise steeply?
# ---------------------------------------------------------------------------------------------

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
                  seed: int = 0, bn: str = "batch", batch_size: int = train.EVAL_BATCH,
                  sharpness_iters: int = 10, sharpness_fn: Callable | None = None) -> ConeResult:
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
    from ..train.protocol import evaluate
    params = [p for p in model.parameters() if p.requires_grad]
    saved = [p.detach().clone() for p in params]
    f0 = evaluate(model, x, y, batch_size, bn)[0]
    if reference is None:
        fn = sharpness_fn or _default_sharpness_fn()
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


def cone_table(runs: Mapping[str, Run], directions: int = 100, radius: float = 1e-3,
               threshold: float = 0.5, subset: int | None = None, sharpness_iters: int = 10,
               seed: int = 0, sharpness_fn: Callable | None = None, device=None,
               store: Store | None = None) -> pd.DataFrame:
    """:func:`cone_fraction` at the final weights of labelled runs (e.g. {"SB": sb, "LB": lb}),
    with the reference taken from the (stored) Metric 2.1 solve at eps = ``radius``. One row per
    (label, direction): ``rise``, ``relative`` (= rise / reference) and ``steep``; the fraction is
    ``df.groupby("label").steep.mean()``. The rises of each run are an analysis of the store."""
    rows = []
    for label, run in runs.items():
        st = store or run.store or Store()
        ref = run_sharpness(run, (radius,), iters=sharpness_iters, subset=subset,
                            sharpness_fn=sharpness_fn, device=device, store=st)[radius]["value"]

        def compute(run=run, ref=ref):
            dev = device or train.default_device()
            x, y = training_data(run, subset, dev)
            res = cone_fraction(run.model("final", dev), x, y, directions=directions, radius=radius,
                                threshold=threshold, reference=ref, seed=seed, bn=run.config.bn_eval,
                                batch_size=run.config.eval_batch_size)
            return {"rises": [float(r) for r in res.rises], "f0": res.f0}
        params = dict(run=run.name, directions=directions, radius=radius, subset=subset, seed=seed,
                      bn=run.config.bn_eval, batch_size=run.config.eval_batch_size)
        rises = st.analysis("cone", params, compute, CONE_VERSION, device)["rises"]
        for d, r in enumerate(rises):
            rows.append(dict(label=label, net=run.config.net, batch_size=run.config.batch_size,
                             direction=d, rise=r, reference=ref,
                             relative=r / ref if ref else math.nan, steep=bool(r >= threshold * ref)))
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Appendix C: performance model
# ---------------------------------------------------------------------------------------------

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


def compare_iterations(sb: Run, lb: Run, f_s: float = 0.2,
                       target_acc: float | None = None) -> dict:
    """Appendix C on two stored runs: I_s and I_l to a common test accuracy and the model's verdict.

    "Comparable testing accuracy" (the paper's wording) is read as ``target_acc``, by default the
    lower of the two runs' best test accuracies (the best accuracy both reach). The iterations use
    the run's own training-set size (``meta['n_train']``)."""
    if target_acc is None:
        target_acc = min(sb.history.test_acc.max(), lb.history.test_acc.max())
    i_s = iterations_to_accuracy(sb.history, target_acc, sb.config.batch_size, sb.meta["n_train"])
    i_l = iterations_to_accuracy(lb.history, target_acc, lb.config.batch_size, lb.meta["n_train"])
    row = dict(target_acc=target_acc, b_s=sb.config.batch_size, b_l=lb.config.batch_size, f_s=f_s,
               i_s=i_s, i_l=i_l, ratio=math.nan, bound=sb.config.batch_size / (f_s * lb.config.batch_size),
               lb_faster=None)
    if i_s and i_l is not None:
        pm = performance_model(i_s, i_l, sb.config.batch_size, lb.config.batch_size, f_s)
        row.update(ratio=pm.ratio, bound=pm.bound, lb_faster=pm.lb_faster)
    return row


# ---------------------------------------------------------------------------------------------
# Appendix E: remedy trials (Tables 6 and 7, E.3)
# ---------------------------------------------------------------------------------------------

def remedy_trials(net: str, method: str = "adam", method_args: dict | None = None,
                  augment: bool = False, seeds: Sequence[int] = (0,), sb_epochs: int = 100,
                  lb_epochs: int = 100, sb_batch: int = SB_BATCH, lb_batch: int | None = None,
                  plain_lb: bool = False, sharpness_sb: bool = False,
                  eps: Sequence[float] = DEFAULT_EPS, sharpness_iters: int = 10,
                  sharpness_subset: int | None = None, train_subset: int | None = None,
                  test_subset: int | None = None, precision: str = "fp32",
                  store: Store | None = None, sharpness_fn: Callable | None = None, device=None,
                  progress: bool = True, config: dict | None = None,
                  configs_only: bool = False) -> pd.DataFrame:
    """Tables 6 / 7 and E.3: per seed, the SB baseline and the LB run with a remedy, with the test
    accuracy of both and the LB sharpness (the tables' columns).

    * ``method``/``method_args``: a training method of :mod:`lbsm.remedies` (``"adam"``: none); the
      arguments are stored resolved (defaults filled in), so each run's key records them.
    * ``augment``: data augmentation (E.1) for both regimes: the paper's Table 6 baseline is "the
      SB method (also with training data augmented)". The SB baseline always trains with plain ADAM:
      Table 7's baseline is Table 2's SB.
    * ``plain_lb``: also train the unmodified LB run (Table 2's LB: plain ADAM, no augmentation) to
      compare with; ``sharpness_sb``: also measure the SB baseline's sharpness (the paper omits it).

    Regimes in the ``regime`` column: ``"SB"``, ``"LB+remedy"``, ``"LB"``. One row per (regime,
    seed). With matching knobs the SB and plain LB runs are those of the gap chapter (same keys)."""
    from ..train.remedies import resolve_args
    store = store or Store()
    args = resolve_args(method, net, method_args)
    lb = _lb(net, lb_batch, train_subset)
    plan = []  # (regime, config)
    for s in seeds:
        common = _configs_common(s, train_subset, test_subset, precision, config)
        plan.append(("SB", TrainConfig(net, sb_batch, epochs=sb_epochs, augment=augment, **common)))
        plan.append(("LB+remedy", TrainConfig(net, lb, epochs=lb_epochs, method=method,
                                              method_args=args, augment=augment, **common)))
        if plain_lb:
            plan.append(("LB", TrainConfig(net, lb, epochs=lb_epochs, **common)))
    if configs_only:
        return [c for _, c in plan]
    label = method if not augment else ("augment" if method == "adam" else f"augment+{method}")
    runs = train.sweep([c for _, c in plan], store, device=device, progress=progress,
                       desc=f"{net} {label}")
    rows = []
    for (regime, cfg), run in zip(tqdm(plan, desc="sharpness", disable=not progress, leave=False), runs):
        want = regime != "SB" or sharpness_sb
        rows.append(dict(net=net, remedy=label, regime=regime, method=cfg.method,
                         augment=cfg.augment, batch_size=cfg.batch_size, seed=cfg.seed,
                         **_final_cells(run),
                         **(_sharpness_cells(run, eps, iters=sharpness_iters, subset=sharpness_subset,
                                             sharpness_fn=sharpness_fn, device=device) if want
                            else {sharpness_col(e): math.nan for e in eps}),
                         run=run.name))
    return pd.DataFrame(rows)


def summarize(df: pd.DataFrame, by: Sequence[str] = ("net", "remedy", "regime"),
              columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean and standard deviation over seeds (the tables' "mean +- std"), with the count."""
    by = [c for c in by if c in df]
    cols = list(columns) if columns is not None else (
        ["test_acc"] + [c for c in df if c.startswith("sharpness_")])
    g = df.groupby(by, sort=False)[cols]
    out = g.agg(["mean", "std"])
    out.columns = [f"{c}_{stat}" for c, stat in out.columns]
    out["n"] = g.size()
    return out.reset_index()
