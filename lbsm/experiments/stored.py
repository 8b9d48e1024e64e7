"""Analyses of stored runs, each cached in the results store: Metric 2.1 of a run's weights, the
cone samplings, Appendix C on two runs, and the tables' mean +- sd over seeds.

Sharpness is that of the *training* function of the run (its ``train_subset``), on its first
``subset`` examples (None: all of them), in the full space (A = I_n) unless ``subspace`` says
otherwise, under the run's BatchNorm evaluation policy. Each solve is an analysis of the results
store (``analyses/sharpness/<key>.json``): the key hashes the run, the weights chosen, eps,
iterations, L-BFGS-B start and tolerances, subset, BatchNorm policy, evaluation batch, subspace and
its kind, seed, the sharpness function's name (``METRIC_NAME``) and
``lbsm.analyses.sharpness.VERSION``, so asking again costs a file read.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from ..analyses import cone, landscape, performance, sharpness
from ..analyses.sharpness import keskar_sharpness
from ..core import data as lbsm_data
from ..core import models, validate
from ..core.constants import BN_PATH_POLICIES, EPS, SHARPNESS_ITERS, sharpness_col
from ..core.store import Store
from ..train.protocol import Run, default_device

RESULT_FIELDS = ("value", "f0", "fmax", "eps", "p", "iterations", "evaluations", "seconds", "trace")

METRIC_NAME = "lbsm.sharpness.keskar_sharpness"


def _fn_name(fn) -> str:
    """The sharpness function's name in a solve's key (``METRIC_NAME`` for Metric 2.1)."""
    if fn is keskar_sharpness:
        return METRIC_NAME
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
    dev = device or default_device()
    return x.to(dev), y.to(dev)


def run_sharpness(run: Run, eps: Sequence[float] = EPS, which: str | int = "final",
                  iters: int = SHARPNESS_ITERS, subset: int | None = None, subspace: int | None = None,
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
    for e in eps:  # a degenerate box (lost in fp32 rounding) is refused before anything loads
        validate.sharpness_eps("eps", e)
    fn = sharpness_fn or keskar_sharpness
    store = store or run.store
    bn = bn or run.config.bn_eval
    batch_size = batch_size or run.config.eval_batch_size
    kind = {} if subspace is None else {"subspace_kind": subspace_kind}
    loaded = {}

    def solve(e):
        if "model" not in loaded:  # weights and data once for every eps that is not stored
            dev = device or default_device()
            loaded["model"] = run.model(which, dev, restore=True)
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
        out[e] = store.analysis("sharpness", params, lambda e=e: solve(e), sharpness.VERSION, device)
    return out


def sharpness_cells(run: Run, eps, **kw) -> dict:
    """``{sharpness_col(e): value}``; NaN for a diverged run (its weights are not a minimizer)."""
    if run.status != "done" or not eps:
        return {sharpness_col(e): math.nan for e in eps}
    res = run_sharpness(run, eps, **kw)
    return {sharpness_col(e): res[e]["value"] for e in eps}


def final_cells(run: Run) -> dict:
    f = run.final
    return dict(status=run.status, epochs_run=int(f["epoch"]), train_loss=f["train_loss"],
                train_acc=f["train_acc"], test_loss=f["test_loss"], test_acc=f["test_acc"])


def sample_epochs(last: int, sample: int | Sequence[int] | None) -> list[int]:
    """Epochs 0..``last``: all (None), ``sample`` of them evenly spaced with both ends (an int),
    or the given ones that exist (a sequence)."""
    if sample is None:
        return list(range(last + 1))
    if isinstance(sample, int):
        return sorted({int(round(v)) for v in np.linspace(0, last, max(1, min(sample, last + 1)))})
    return sorted({int(e) for e in sample if 0 <= int(e) <= last})


def cone_table(runs: Mapping[str, Run], directions: int = 100, radius: float = 1e-3,
               threshold: float = 0.5, subset: int | None = None, sharpness_iters: int = SHARPNESS_ITERS,
               seed: int = 0, sharpness_fn: Callable | None = None, device=None,
               store: Store | None = None) -> pd.DataFrame:
    """:func:`lbsm.analyses.cone.cone_fraction` at the final weights of labelled runs (e.g. {"SB": sb, "LB": lb}),
    with the reference taken from the (stored) Metric 2.1 solve at eps = ``radius``. One row per
    (label, direction): ``rise``, ``relative`` (= rise / reference) and ``steep``; the fraction is
    ``df.groupby("label").steep.mean()``. The rises of each run are an analysis of the store."""
    rows = []
    for label, run in runs.items():
        st = store or run.store
        ref = run_sharpness(run, (radius,), iters=sharpness_iters, subset=subset,
                            sharpness_fn=sharpness_fn, device=device, store=st)[radius]["value"]

        def compute(run=run, ref=ref):
            dev = device or default_device()
            x, y = training_data(run, subset, dev)
            res = cone.cone_fraction(run.model("final", dev, restore=True), x, y, directions=directions, radius=radius,
                                threshold=threshold, reference=ref, seed=seed, bn=run.config.bn_eval,
                                batch_size=run.config.eval_batch_size)
            return {"rises": [float(r) for r in res.rises], "f0": res.f0}
        params = dict(run=run.name, directions=directions, radius=radius, subset=subset, seed=seed,
                      bn=run.config.bn_eval, batch_size=run.config.eval_batch_size)
        rises = st.analysis("cone", params, compute, cone.CONE_VERSION, device)["rises"]
        for d, r in enumerate(rises):
            rows.append(dict(label=label, net=run.config.net, batch_size=run.config.batch_size,
                             direction=d, rise=r, reference=ref,
                             relative=r / ref if ref else math.nan, steep=bool(r >= threshold * ref)))
    return pd.DataFrame(rows)


def compare_iterations(sb: Run, lb: Run, f_s: float = 0.2,
                       target_acc: float | None = None) -> dict:
    """Appendix C on two stored runs: I_s and I_l to a common test accuracy and the model's verdict.

    "Comparable testing accuracy" (the paper's wording) is read as ``target_acc``, by default the
    lower of the two runs' best test accuracies (the best accuracy both reach). The iterations use
    the run's own training-set size (``meta['n_train']``)."""
    if target_acc is None:
        target_acc = min(sb.history.test_acc.max(), lb.history.test_acc.max())
    i_s = performance.iterations_to_accuracy(sb.history, target_acc, sb.config.batch_size, sb.meta["n_train"])
    i_l = performance.iterations_to_accuracy(lb.history, target_acc, lb.config.batch_size, lb.meta["n_train"])
    row = dict(target_acc=target_acc, b_s=sb.config.batch_size, b_l=lb.config.batch_size, f_s=f_s,
               i_s=i_s, i_l=i_l, ratio=math.nan, bound=sb.config.batch_size / (f_s * lb.config.batch_size),
               lb_faster=None)
    if i_s and i_l is not None:
        pm = performance.performance_model(i_s, i_l, sb.config.batch_size, lb.config.batch_size, f_s)
        row.update(ratio=pm.ratio, bound=pm.bound, lb_faster=pm.lb_faster)
    return row


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


def path_between(sb: Run, lb: Run, kind: str = "linear", points: int = 25, bn: str = "batch",
                 train_subset: int | None = None, test_subset: int | None = None,
                 device=None, prob_clip: float | None = 1e-7) -> pd.DataFrame:
    """:func:`lbsm.analyses.landscape.interpolate` from ``sb``'s final weights (alpha 0) to
    ``lb``'s (alpha 1) at ``points`` alphas in [-1, 2], on the SB run's data (its own subsets, then
    the further ``train_subset`` / ``test_subset``), with Keras' probability clipping."""
    if sb.config.net != lb.config.net:
        raise ValueError(f"runs of different networks: {sb.config.net} and {lb.config.net}")
    device = torch.device(device) if device else default_device()
    ds = lbsm_data.load(sb.config.dataset, device=device)
    ds = ds.subset(sb.config.train_subset, sb.config.test_subset).subset(train_subset, test_subset)
    model = sb.model("final", device, restore=True)
    x_s, x_l = model.state_dict(), {k: v.to(device) for k, v in lb.state("final", restore=True).items()}
    return landscape.interpolate(model, x_s, x_l, ds, kind=kind, alphas=np.linspace(-1, 2, points),
                                 bn=bn, batch_size=sb.config.eval_batch_size, prob_clip=prob_clip)


# --------------------------------------------------------------------------- by name (the command line)
def sharpness_of_run(run: str, eps: float = 1e-3, subspace: int | None = None, iters: int = SHARPNESS_ITERS,
                     bn: str = "batch", train_subset: int | None = None, seed: int = 0,
                     results=None, device=None, start: str = "sign",
                     subspace_kind: str = "gaussian") -> sharpness.SharpnessResult:
    """Metric 2.1 of a stored run's final weights on that run's training data.

    ``run`` is a name or key prefix as ``Store.find`` accepts. The run's own ``train_subset`` is
    applied first, then the optional further ``train_subset`` (first N of those).
    """
    device = torch.device(device) if device else default_device()
    store = Store(results)
    r = Run.load(store.find(run), store)
    ds = lbsm_data.load(r.config.dataset, device=device).subset(r.config.train_subset)
    x, y = ds.x_train, ds.y_train
    if train_subset is not None:
        x, y = x[:train_subset], y[:train_subset]
    return keskar_sharpness(r.model("final", device, restore=True), x, y, eps=eps, subspace=subspace, iters=iters,
                            bn=bn, batch_size=r.config.eval_batch_size, seed=seed, start=start,
                            subspace_kind=subspace_kind)


def interpolate_runs(sb_run: str, lb_run: str, kind: str = "linear", points: int = 25,
                     bn: str = "batch", results=None, device=None, prob_clip: float | None = 1e-7,
                     train_subset: int | None = None, test_subset: int | None = None) -> pd.DataFrame:
    """``interpolate`` between two stored runs (names or key prefixes, as ``Store.find`` accepts)
    on the SB run's data (its own train/test subsets, then the optional further ones).

    ``df.attrs`` carries the run names and, when both runs start from the same x0 (the SB and LB
    runs of one trial do), the distance ratio ||x_s - x0|| / ||x_l - x0||.
    """
    validate.at_least("points", points, 2)
    validate.choice("kind", kind, landscape.KINDS)
    validate.choice("bn", bn, BN_PATH_POLICIES)
    store = Store(results)
    sb, lb = Run.load(store.find(sb_run), store), Run.load(store.find(lb_run), store)
    df = path_between(sb, lb, kind=kind, points=points, bn=bn, train_subset=train_subset,
                      test_subset=test_subset, device=device, prob_clip=prob_clip)
    df.attrs.update(sb_run=sb.path.name, lb_run=lb.path.name)
    x0 = sb.state("x0", restore=True)
    if all(torch.equal(x0[k], lb.state("x0", restore=True)[k]) for k in x0):
        df.attrs["distance_ratio"] = landscape.distance_ratio(
            x0, sb.state("final", restore=True), lb.state("final", restore=True),
            landscape.trainable_names(models.build(sb.config.net)))
    return df
