"""Beyond the paper: what closes the large-batch gap, and which sharpness measure tracks it.

Issue 17's chapter on stored runs, every analysis cached in the results store:

* :func:`closing`: per (network, method, seed) the final accuracies of the gap chapter's SB and LB
  trials (the same runs, the same store keys) and of the LB runs of each method of
  ``BeyondSpec.methods`` (:mod:`lbsm.train.closing`: LR scaling with warm-up, square-root scaling,
  ghost batch normalization, SAM, ASAM; and "train longer", more epochs of plain ADAM), with
  Metric 2.1 (the sharpness chapter's settings, so a baseline's solves are its stored ones), the top
  Hessian eigenvalue and trace (the same), adaptive sharpness and the distance from x0;
* :func:`reparam`, :func:`surfaces`, :func:`noise` (trial 0's SB and LB minimizers) and
  :func:`correlation` (every stored run of the protocol) live in :mod:`lbsm.experiments.beyond_more`.

The published baselines keep no weights, and retraining one on another machine gives other
weights, which sets aside every analysis the other chapters stored for it. So whatever needs a
baseline's weights (adaptive sharpness and the distance from x0 of the SB and LB rows, the
reparametrization, the surfaces, the noise scale) is measured on its *twin*: the same config with
``checkpoints=True`` (every epoch's weights kept), a run of its own key, for the first
``adaptive_seeds`` trials. The SB and LB rows' accuracies, Metric 2.1 and Hessian are the published
runs' own.
"""
from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field

import pandas as pd

from ..analyses import adaptive, landscape
from ..core import models
from ..core.constants import DATASET_NAMES, eps_label, sharpness_col
from ..core.store import Store
from ..train.protocol import Run, TrainConfig
from ..train.remedies import resolve_args
from . import profiles, stored, trials
from .plans import Runs, data_ready, dataset_of, pick
from .specs import BeyondSpec, Closing

VERSION = 1  # of the stored adaptive sharpness, distance, reparametrization and surface values
BASELINES = ("SB", "LB")
TWINS = {"SB": "SB twin", "LB": "LB twin"}
LABELS = {"SB": "SB (plain)", "LB": "LB (plain)", "linear": "LB + linear LR scaling, warm-up",
          "sqrt": "LB + square-root LR scaling, warm-up", "longer": "LB trained longer",
          "ghost": "LB + ghost batch norm (256)", "sam": "LB + SAM", "asam": "LB + adaptive SAM",
          "SB twin": "SB twin (weights kept)", "LB twin": "LB twin (weights kept)"}
MEASURES = ("adaptive_worst", "adaptive_average", "distance_x0")


@dataclass
class BeyondPlan:
    """The chapter's specs under a profile (one per network whose data and trials are there)."""
    profile: profiles.Profile
    specs: tuple[BeyondSpec, ...] = ()
    skipped: dict = field(default_factory=dict)   # net -> reason

    def spec(self, net: str) -> BeyondSpec:
        return next(s for s in self.specs if s.net == net)


def plan(P: profiles.Profile, nets=None) -> BeyondPlan:
    """The profile's ``beyond`` specs whose network has data and trials (``nets``: a list or a
    comma string restricting them)."""
    keep = None if nets is None else [n.strip() for n in (nets.split(",") if isinstance(nets, str) else nets)]
    out, skipped = [], {}
    for spec in P.beyond:
        if not data_ready(dataset_of(spec.net)):
            skipped[spec.net] = f"needs data: {DATASET_NAMES[dataset_of(spec.net)]}"
        elif keep is not None and spec.net not in keep:
            skipped[spec.net] = f"not selected (nets = {','.join(keep)})"
        elif spec.net not in P.nets:
            skipped[spec.net] = f"no trial of {spec.net} in profile {P.name}"
        else:
            out.append(spec)
    return BeyondPlan(P, tuple(out), skipped)


def seeds(P: profiles.Profile, spec: BeyondSpec) -> tuple[int, ...]:
    """The seeds of the methods' runs (the trials' unless the spec names fewer)."""
    return spec.seeds if spec.seeds is not None else P.net(spec.net).seeds


def method_config(P: profiles.Profile, spec: BeyondSpec, m: Closing, seed: int) -> TrainConfig:
    """Trial ``seed``'s LB config with method ``m``: the method and its resolved arguments (the
    key records them), and for a fixed number of epochs ``stop="epochs"``; nothing else changes."""
    _, lb = P.trial(spec.net, seed)
    changes = dict(method=m.method, method_args=resolve_args(m.method, spec.net, m.method_args))
    if m.epochs is not None:
        changes.update(epochs=m.epochs, stop="epochs")
    return dataclasses.replace(lb, **changes)


def twin_seeds(P: profiles.Profile, spec: BeyondSpec) -> tuple[int, ...]:
    """The trials whose baselines get a twin (the first ``adaptive_seeds``, None: all)."""
    s = P.net(spec.net).seeds
    return s if spec.adaptive_seeds is None else s[:spec.adaptive_seeds]


def twin(cfg: TrainConfig) -> TrainConfig:
    """A baseline's twin: the same config keeping every epoch's weights (its own store key)."""
    return dataclasses.replace(cfg, checkpoints=True)


def same_model(run: Run, other: Run) -> bool:
    """Whether ``other`` (a baseline's twin) ended at ``run``'s minimizer: their final weights'
    hashes agree where both records carry one; else (records older than the hashes) the same
    stopping epoch and the same final train and test accuracy. A twin that stopped elsewhere is
    another model: its measures are its own, never the baseline's (one model, one set of weights)."""
    a, b = run.meta.get("weights_sha256"), other.meta.get("weights_sha256")
    if a and b:
        return a == b
    return (run.meta.get("epochs_run") == other.meta.get("epochs_run")
            and all(run.final[k] == other.final[k] for k in ("train_acc", "test_acc")))


def arms(P: profiles.Profile, spec: BeyondSpec) -> list[tuple[str, int, TrainConfig]]:
    """(arm, seed, config) of every run of ``spec``: the trials' SB and LB, their twins, then each
    method."""
    out = []
    for s in P.net(spec.net).seeds:
        sb, lb = P.trial(spec.net, s)
        out += [("SB", s, sb), ("LB", s, lb)]
    for s in twin_seeds(P, spec):
        sb, lb = P.trial(spec.net, s)
        out += [(TWINS["SB"], s, twin(sb)), (TWINS["LB"], s, twin(lb))]
    out += [(m.name, s, method_config(P, spec, m, s)) for m in spec.methods for s in seeds(P, spec)]
    return out


def configs(S: BeyondPlan) -> list[TrainConfig]:
    """Every run of the chapter, each once (baselines first)."""
    cfgs = [c for spec in S.specs for _, _, c in arms(S.profile, spec)]
    return list({c.key: c for c in cfgs}.values())


# --------------------------------------------------------------------------- measures of one run
def _data(run: Run, subset, double: bool = False):
    x, y = stored.training_data(run, subset)
    return (x.double(), y) if double else (x, y)


def adaptive_values(run: Run, spec: BeyondSpec, store: Store) -> dict:
    """Adaptive sharpness of the run's final weights (Andriushchenko et al. 2023): worst case in
    the l_inf ball of radius ``adaptive_rho`` and the average over Gaussian draws of ``average_rho``,
    on the first ``adaptive_subset`` training examples, in float64 (where the invariance is exact),
    under the run's BatchNorm policy; cached (``analyses/adaptive``)."""
    cfg = run.config
    params = dict(run=run.name, which="final", rho=spec.adaptive_rho, iters=spec.adaptive_iters,
                  average_rho=spec.average_rho, samples=spec.average_samples, subset=spec.adaptive_subset,
                  bn=cfg.bn_eval, batch_size=cfg.eval_batch_size, seed=0, dtype="float64")

    def compute():
        t0 = time.perf_counter()
        model = run.model("final", restore=True).double()
        x, y = _data(run, spec.adaptive_subset, double=True)
        return measure_adaptive(model, x, y, spec, cfg.bn_eval, cfg.eval_batch_size) | {
            "seconds": time.perf_counter() - t0}
    return store.analysis("adaptive", params, compute, VERSION)


def measure_adaptive(model, x, y, spec: BeyondSpec, bn: str, batch_size: int) -> dict:
    """Both adaptive sharpness values of ``model`` on (x, y) with ``spec``'s settings."""
    w = adaptive.adaptive_worst_case(model, x, y, spec.adaptive_rho, "inf", spec.adaptive_iters, bn,
                                     batch_size)
    a = adaptive.adaptive_average_case(model, x, y, spec.average_rho, spec.average_samples, 0, bn,
                                       batch_size)
    return {"adaptive_worst": w.value, "adaptive_average": a.value, "adaptive_average_stderr": a.stderr,
            "f0": w.f0, "n": w.n}


def distance_x0(run: Run, store: Store) -> float:
    """||x_final - x0|| over the trainable parameters (:func:`lbsm.analyses.landscape.distance`,
    the norm of the gap chapter's distance ratio); cached (``analyses/distance_x0``)."""
    def compute():
        names = landscape.trainable_names(models.build(run.config.net))
        x0, final = run.state("x0", restore=True), run.state("final", restore=True)
        return {"distance": landscape.distance(x0, final, names)}
    return store.analysis("distance_x0", dict(run=run.name), compute, landscape.VERSION)["distance"]


# --------------------------------------------------------------------------- the closing table
def _trained(P, net: str, pairs) -> trials.Trained:
    return trials.Trained(P, pairs={net: list(pairs)})


def closing(S: BeyondPlan, runs: Runs, store: Store) -> pd.DataFrame:
    """One row per (net, arm, seed): accuracies, epochs and steps, Metric 2.1 at each eps (the
    profile's full-space settings), the top Hessian eigenvalue and trace (the profile's Hessian
    settings; NaN where the profile computes none), adaptive sharpness and the distance from x0
    (the method runs, and the twins of the first ``adaptive_seeds`` baselines; NaN elsewhere), the
    run and the run whose weights those two were measured on."""
    P = S.profile
    rows = []
    for spec in S.specs:
        net = spec.net
        plan_ = arms(P, spec)
        got = dict(zip([(a, s) for a, s, _ in plan_], pick(runs, [c for _, _, c in plan_])))
        sb = {s: got[("SB", s)] for s in P.net(net).seeds}
        per_arm = {}
        for arm, s, _ in plan_:
            per_arm.setdefault(arm, []).append(s)
        for arm, arm_seeds in per_arm.items():
            if arm in TWINS.values():
                continue
            reg = "sb" if arm == "SB" else "lb"
            pairs = [(sb[s], got[(arm, s)]) for s in arm_seeds]
            T = _trained(P, net, pairs)
            sh = trials.sharpness_values(T, store)
            sh = sh[sh.regime == reg]
            hs = trials.hessian_values(T, store)
            hs = hs[hs.regime == reg.upper()] if len(hs) else hs
            for s in arm_seeds:
                run = got[(arm, s)]
                weights = got.get((TWINS[arm], s)) if arm in BASELINES else run
                if weights is not None and weights is not run and weights.status == "done" \
                        and not same_model(run, weights):
                    weights = None  # the twin stopped at another minimizer: not this baseline's
                row = dict(net=net, arm=arm, label=LABELS.get(arm, arm), seed=s,
                           method=run.config.method, batch_size=run.config.batch_size,
                           **stored.final_cells(run), stopped_by=run.meta.get("stopped_by", ""),
                           steps=int(run.final["epoch"]) * math.ceil(run.meta["n_train"] / run.config.batch_size))
                for e in P.sharpness_eps:
                    row[sharpness_col(e)] = _value_at(sh, s, e)
                h = hs[hs.seed == s] if len(hs) else hs
                row["lambda_1"] = float(h.lambda_1.iloc[0]) if len(h) else math.nan
                row["trace"] = float(h.trace.iloc[0]) if len(h) else math.nan
                if weights is not None and weights.status == "done":
                    a = adaptive_values(weights, spec, store)
                    row.update(adaptive_worst=a["adaptive_worst"], adaptive_average=a["adaptive_average"],
                               adaptive_average_stderr=a["adaptive_average_stderr"],
                               distance_x0=distance_x0(weights, store))
                else:
                    row.update(adaptive_worst=math.nan, adaptive_average=math.nan,
                               adaptive_average_stderr=math.nan, distance_x0=math.nan)
                row["run"] = run.name
                row["weights_run"] = weights.name if weights is not None else ""
                rows.append(row)
    return pd.DataFrame(rows)


def _value_at(sh: pd.DataFrame, seed: int, eps: float) -> float:
    v = sh[(sh.seed == seed) & (sh.eps == eps_label(eps))]
    return float(v.value.iloc[0]) if len(v) else math.nan
