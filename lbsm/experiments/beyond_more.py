"""Beyond the paper, around trial 0's minimizers and over every stored run, each analysis cached in
the results store (the methods' table is :mod:`lbsm.experiments.beyond`):

Everything around a minimizer is of trial 0's *twins* (:func:`lbsm.experiments.beyond.twin`: the
baselines' configs keeping every epoch's weights), never of the published baselines, whose weights
are not published and whose retraining would set aside the other chapters' analyses.

* :func:`reparam`: Metric 2.1 and adaptive sharpness of trial 0's SB and LB minimizers after the
  function-preserving rescaling of every BatchNorm-fed layer by alpha (Dinh et al. 2017,
  :mod:`lbsm.analyses.reparam`), with the training loss and accuracy and the test accuracy that
  show the function unchanged;
* :func:`surfaces`: their 2-D loss surfaces in filter-normalized random directions (Li et al.
  2018, :mod:`lbsm.analyses.surface`);
* :func:`noise`: the gradient noise scale B_simple (McCandlish et al. 2018,
  :mod:`lbsm.analyses.noise`) along the SB and LB twins' training, at sampled epochs of their
  stored weights;
* :func:`correlation`: Kendall's tau (bootstrap interval) of each measure against test error
  and against the generalization gap (train - test accuracy) over every stored run of the
  network under the trials' data and precision: the chapter's runs with every measure computed,
  the others (batch-size sweep, warm starts, Appendix E's remedies, ...) with the measures the
  store holds for them (never retrained for this).
"""
from __future__ import annotations

import copy
import math
import time

import numpy as np
import pandas as pd

from ..analyses import landscape, noise as noise_scale, reparam as rescale, surface
from ..analyses.correlation import kendall
from ..analyses.hessian import VERSION as HESSIAN_VERSION
from ..analyses.sharpness import VERSION as SHARPNESS_VERSION, keskar_sharpness
from ..core.constants import eps_label, sharpness_col
from ..core.store import Store
from ..train.protocol import Run
from . import beyond, stored, trials
from .beyond import BeyondPlan, measure_adaptive
from .plans import Runs, pick

TARGETS = ("test_error", "gap")


def _pair0(S: BeyondPlan, spec, runs: Runs) -> dict[str, Run]:
    """Trial 0's SB and LB twins (the baselines' configs keeping every epoch's weights)."""
    sb, lb = S.profile.trial(spec.net, S.profile.net(spec.net).seeds[0])
    got = pick(runs, [beyond.twin(sb), beyond.twin(lb)])
    return {"SB": got[0], "LB": got[1]}


# --------------------------------------------------------------------------- reparametrization
def reparam_point(run: Run, alpha: float, spec, P, store: Store) -> dict:
    """Metric 2.1 at each of the profile's eps (its iterations, on ``reparam_subset`` training
    examples), adaptive sharpness (``spec``'s settings) and the function's values (training loss
    and accuracy on those examples, test accuracy) after rescaling by ``alpha``; cached
    (``analyses/reparam``)."""
    cfg = run.config
    params = dict(run=run.name, alpha=float(alpha), eps=[float(e) for e in P.sharpness_eps],
                  iters=P.sharpness_iters, subset=spec.reparam_subset, bn=cfg.bn_eval,
                  batch_size=cfg.eval_batch_size, rho=spec.adaptive_rho, adaptive_iters=spec.adaptive_iters,
                  average_rho=spec.average_rho, samples=spec.average_samples,
                  adaptive_subset=spec.adaptive_subset)

    def compute():
        t0 = time.perf_counter()
        model = rescale.rescale_before_batchnorm(run.model("final", restore=True), float(alpha))
        x, y = stored.training_data(run, spec.reparam_subset)
        xt, yt = trials.run_data(run, "test")
        loss, acc = landscape.loss_and_accuracy(model, x, y, cfg.eval_batch_size, cfg.bn_eval, prob_clip=None)
        _, test_acc = landscape.loss_and_accuracy(model, xt, yt, cfg.eval_batch_size, cfg.bn_eval,
                                                  prob_clip=None)
        out = {"train_loss": loss, "train_acc": acc, "test_acc": test_acc}
        for e in P.sharpness_eps:
            r = keskar_sharpness(copy.deepcopy(model), x, y, eps=float(e), iters=P.sharpness_iters,
                                 bn=cfg.bn_eval, batch_size=cfg.eval_batch_size)
            out[sharpness_col(e)] = float(r.value)
        xa, ya = stored.training_data(run, spec.adaptive_subset)
        out.update(measure_adaptive(copy.deepcopy(model).double(), xa.double(), ya, spec, cfg.bn_eval,
                                    cfg.eval_batch_size))
        return out | {"seconds": time.perf_counter() - t0}
    return store.analysis("reparam", params, compute, beyond.VERSION)


def reparam(S: BeyondPlan, runs: Runs, store: Store) -> pd.DataFrame:
    """One row per (net, regime, alpha) of trial 0: the function's values, Metric 2.1 at each
    eps and adaptive sharpness of the rescaled minimizer."""
    rows = []
    for spec in S.specs:
        for regime, run in _pair0(S, spec, runs).items():
            if run.status != "done":
                continue
            for a in spec.alphas:
                v = reparam_point(run, a, spec, S.profile, store)
                rows.append(dict(net=spec.net, regime=regime, seed=run.config.seed, alpha=float(a),
                                 **{k: v[k] for k in v if k not in ("seconds", "n", "f0")}, run=run.name))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- loss surfaces
def surfaces(S: BeyondPlan, runs: Runs, store: Store) -> pd.DataFrame:
    """One row per (net, regime, a, b): the training loss and accuracy of trial 0's SB and LB
    minimizers moved by a d1 + b d2 (filter-normalized directions of seed 0), on
    ``surface_subset`` training examples under the run's BatchNorm policy; cached (``analyses/surface``)."""
    frames = []
    for spec in S.specs:
        coords = np.linspace(-spec.surface_span, spec.surface_span, spec.surface_points)
        for regime, run in _pair0(S, spec, runs).items():
            if run.status != "done":
                continue
            cfg = run.config
            params = dict(run=run.name, points=spec.surface_points, span=spec.surface_span,
                          subset=spec.surface_subset, seed=0, bn=cfg.bn_eval, batch_size=cfg.eval_batch_size)

            def compute(run=run, cfg=cfg):
                x, y = stored.training_data(run, spec.surface_subset)
                model = run.model("final", restore=True)
                df = surface.loss_surface(model, x, y, coords, coords, seed=0, bn=cfg.bn_eval,
                                          batch_size=cfg.eval_batch_size)
                return {"rows": df.to_dict("records")}
            rows = store.analysis("surface", params, compute, beyond.VERSION)["rows"]
            frames.append(pd.DataFrame(rows).assign(net=spec.net, regime=regime, run=run.name))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["a", "b", "loss", "accuracy", "net", "regime", "run"])


# --------------------------------------------------------------------------- gradient noise scale
def noise_point(run: Run, which, subset, store: Store, chunk: int = 64) -> dict:
    """B_simple of a run's weights ``which`` ("x0", "final" or an epoch) over its first ``subset``
    training examples, with BatchNorm running statistics recomputed on those examples (the
    estimator needs per-example gradients, hence running statistics); cached (``analyses/noise``)."""
    params = dict(run=run.name, which=which, subset=subset, chunk=chunk, bn="running", recalibrate=True)

    def compute():
        t0 = time.perf_counter()
        model = run.model(which, restore=True)
        x, y = stored.training_data(run, subset)
        landscape.recalibrate_(model, x, run.config.eval_batch_size)
        ns = noise_scale.noise_scale(model, x, y, "running", chunk)
        return {"b_simple": ns.b_simple, "trace_sigma": ns.trace_sigma, "grad_norm_sq": ns.grad_norm_sq,
                "grad_norm_sq_unbiased": ns.grad_norm_sq_unbiased, "n": ns.n,
                "seconds": time.perf_counter() - t0}
    return store.analysis("noise", params, compute, noise_scale.VERSION)


def noise(S: BeyondPlan, runs: Runs, store: Store) -> pd.DataFrame:
    """One row per (net, regime, epoch): B_simple along trial 0's SB and LB twins at
    ``noise_epochs`` evenly spaced epochs (epoch 0 is x0, shared by both; the last is the
    minimizer), beside the SB and LB batch sizes."""
    rows = []
    for spec in S.specs:
        pair = _pair0(S, spec, runs)
        for regime, run in pair.items():
            if run.status != "done":
                continue
            last = int(run.final["epoch"])
            for e in stored.sample_epochs(last, spec.noise_epochs):
                which = "x0" if e == 0 else "final" if e == last else e
                v = noise_point(pair["SB"] if e == 0 else run, which, spec.noise_subset, store)
                rows.append(dict(net=spec.net, regime=regime, epoch=e, last=e == last,
                                 **{k: v[k] for k in v if k != "seconds"},
                                 sb_batch=pair["SB"].config.batch_size, lb_batch=pair["LB"].config.batch_size,
                                 run=run.name))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- which measure tracks generalization
def _stored_value(store: Store, kind: str, params: dict, version: int):
    """A stored analysis's value, or None (never computed here)."""
    if not store.has_analysis(kind, params, version):
        return None
    return store.analysis(kind, params, lambda: (_ for _ in ()).throw(KeyError(kind)), version)


def sharpness_params(run: Run, eps: float, iters: int, subset, subspace=None, seed: int = 0) -> dict:
    """The params of :func:`lbsm.experiments.stored.run_sharpness`'s solve (its defaults), to read
    a stored solve without ever computing it."""
    cfg = run.config
    kind = {} if subspace is None else {"subspace_kind": "gaussian"}
    return dict(run=run.name, which="final", eps=float(eps), iters=iters, subset=subset, bn=cfg.bn_eval,
                batch_size=cfg.eval_batch_size, subspace=subspace, seed=0 if subspace is None else seed,
                start="sign", tol="none", fn=stored.METRIC_NAME, **kind)


def hessian_params(run: Run, P) -> dict:
    """The params of :func:`lbsm.experiments.trials.hessian_values`'s analysis of ``run``."""
    cfg = run.config
    return dict(run=run.name, k=P.hessian_k, subset=P.hessian_subset, samples=P.hutchinson_samples,
                bn=cfg.bn_eval, seed=cfg.seed, batch=cfg.eval_batch_size)


def protocol_runs(S: BeyondPlan, spec, store: Store) -> list[Run]:
    """Every finished stored run of ``spec.net`` on the trials' data (subsets), precision and stop
    reading (``min_delta``: another profile's readings, e.g. a campaign's, are not this one's)."""
    sb, _ = S.profile.trial(spec.net, S.profile.net(spec.net).seeds[0])
    same = ("train_subset", "test_subset", "precision", "min_delta")
    out = []
    for path in store.run_dirs():
        if not path.name.startswith(f"{spec.net}-") or not store.is_finished(path):
            continue
        run = Run.load(path, store)
        if all(getattr(run.config, k) == getattr(sb, k) for k in same) and run.status == "done":
            out.append(run)
    return out


def measure_names(P) -> list[str]:
    return ([f"sharpness_{eps_label(e)}" for e in P.sharpness_eps]
            + [f"subspace_{eps_label(e)}" for e in P.sharpness_eps]
            + ["lambda_1", "trace", "adaptive_worst", "adaptive_average", "distance_x0"])


def models_frame(S: BeyondPlan, runs: Runs, store: Store, table: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per stored run of the protocol: what it is, test error, gap and every measure
    (NaN where the store holds none and it is not one of the chapter's runs)."""
    P = S.profile
    table = beyond.closing(S, runs, store) if table is None else table
    mine = table.set_index("run")
    # the measures needing weights, by the run they were measured on (a twin for a baseline)
    byw = table[table.weights_run != ""].drop_duplicates("weights_run").set_index("weights_run")
    rows = []
    for spec in S.specs:
        net = spec.net
        twins = {cfg.name: arm for arm, _, cfg in beyond.arms(P, spec) if arm in beyond.TWINS.values()}
        for run in protocol_runs(S, spec, store):
            c = run.config
            f = run.final
            row = dict(net=net, run=run.name, batch_size=c.batch_size, seed=c.seed, method=c.method,
                       stop=c.stop, warm_start=bool(c.init),
                       arm=mine.at[run.name, "arm"] if run.name in mine.index else twins.get(run.name, "other"),
                       test_error=100.0 - f["test_acc"], gap=f["train_acc"] - f["test_acc"])
            for e in P.sharpness_eps:
                v = _stored_value(store, "sharpness", sharpness_params(
                    run, e, P.sharpness_iters, P.sharpness_examples(net)), SHARPNESS_VERSION)
                row[f"sharpness_{eps_label(e)}"] = v["value"] if v else math.nan
                v = _stored_value(store, "sharpness", sharpness_params(
                    run, e, P.sharpness_iters, P.sharpness_examples(net), P.subspace_dim, c.seed),
                    SHARPNESS_VERSION)
                row[f"subspace_{eps_label(e)}"] = v["value"] if v else math.nan
            h = _stored_value(store, "hessian", hessian_params(run, P), HESSIAN_VERSION)
            row["lambda_1"] = h["eigenvalues"][0] if h else math.nan
            row["trace"] = h["trace"] if h else math.nan
            if run.name in byw.index:  # the closing table read them (a method, or a same-model twin)
                row.update({m: float(byw.at[run.name, m]) for m in beyond.MEASURES})
            elif run.name in twins:  # a twin the table did not use: its own measures, from the store
                a = beyond.adaptive_values(run, spec, store)
                row.update(adaptive_worst=a["adaptive_worst"], adaptive_average=a["adaptive_average"],
                           distance_x0=beyond.distance_x0(run, store))
            else:
                row.update({m: math.nan for m in beyond.MEASURES})
            rows.append(row)
    return pd.DataFrame(rows)


def correlation(S: BeyondPlan, runs: Runs, store: Store) -> dict:
    """``{"models": models_frame, "taus": one row per (net, measure, target)}`` with Kendall's tau,
    its percentile-bootstrap interval (``spec.n_boot`` resamples, seed 0, 95 %), scipy's p-value
    and the number of models with both values."""
    M = models_frame(S, runs, store)
    rows = []
    for spec in S.specs:
        g = M[M.net == spec.net]
        for m in measure_names(S.profile):
            for t in TARGETS:
                k = kendall(g[m], g[t], n_boot=spec.n_boot, seed=0)
                rows.append(dict(net=spec.net, measure=m, target=t, tau=k.tau, low=k.low, high=k.high,
                                 pvalue=k.pvalue, n=k.n, dropped=k.dropped, n_boot=k.n_boot))
    return {"models": M, "taus": pd.DataFrame(rows, columns=["net", "measure", "target", "tau", "low", "high",
                                                             "pvalue", "n", "dropped", "n_boot"])}
