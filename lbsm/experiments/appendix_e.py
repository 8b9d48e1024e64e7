"""Appendix E on stored runs: Tables 6 and 7 and Section E.3 (robust training), with E.3's
parametric plots.

``remedy_configs(spec)`` are a :class:`RemedySpec`'s runs: per seed the SB baseline (plain ADAM,
with the augmentation when ``spec.augment``: the paper's Table 6 baseline is "the SB method (also
with training data augmented)"; Table 7's is Table 2's SB), the LB run with the remedy and, with
``plain_lb``, Table 2's LB. With the trials' settings those baselines are the gap chapter's runs
(the same store keys). ``remedy_frame(spec, runs, store)`` is one row per (regime, seed).
"""
from __future__ import annotations

import dataclasses
import math

import pandas as pd

from ..analyses import landscape
from ..core.constants import sharpness_col
from ..core.store import Store
from ..train.protocol import TrainConfig, lb_batch
from ..train.remedies import resolve_args
from . import stored
from .plans import Plan, Result, Runs, pick
from .specs import RemedySpec

ROBUST_SECTIONS = ("adversarial", "stability")  # E.3: always with the plain LB baseline


def _plan(spec: RemedySpec) -> list[tuple[str, TrainConfig]]:
    """(regime, config) of every run of ``spec``: ``"SB"``, ``"LB+remedy"``, ``"LB"``."""
    args = resolve_args(spec.method, spec.net, spec.method_args)  # stored resolved: the key records them
    lb = spec.lb_batch or lb_batch(spec.net, spec.train.train_subset)
    out = []
    for s in spec.seeds:
        common = spec.train.common(s)
        out.append(("SB", TrainConfig(spec.net, spec.sb_batch, epochs=spec.sb_epochs,
                                      augment=spec.augment, **common)))
        out.append(("LB+remedy", TrainConfig(spec.net, lb, epochs=spec.lb_epochs, method=spec.method,
                                             method_args=args, augment=spec.augment, **common)))
        if spec.plain_lb:
            out.append(("LB", TrainConfig(spec.net, lb, epochs=spec.lb_epochs, **common)))
    return out


def remedy_configs(spec: RemedySpec) -> list[TrainConfig]:
    return [c for _, c in _plan(spec)]


def label(spec: RemedySpec) -> str:
    """The remedy's name in the tables: the method, ``augment``, or ``augment+<method>``."""
    if not spec.augment:
        return spec.method
    return "augment" if spec.method == "adam" else f"augment+{spec.method}"


def remedy_frame(spec: RemedySpec, runs: Runs, store: Store) -> pd.DataFrame:
    """Per (regime, seed): the final accuracies and losses, and the sharpness of the LB runs (and
    of the SB baseline with ``sharpness_sb``; the paper omits it)."""
    plan = _plan(spec)
    s = spec.sharpness
    rows = []
    for (regime, cfg), run in zip(plan, pick(runs, [c for _, c in plan])):
        want = regime != "SB" or spec.sharpness_sb
        cells = (stored.sharpness_cells(run, s.eps, iters=s.iters, subset=s.subset, store=store)
                 if want else {sharpness_col(e): math.nan for e in s.eps})
        rows.append(dict(net=spec.net, remedy=label(spec), regime=regime, method=cfg.method,
                         augment=cfg.augment, batch_size=cfg.batch_size, seed=cfg.seed,
                         **stored.final_cells(run), **cells, run=run.name))
    return pd.DataFrame(rows)


def _specs(S: Plan, section: str) -> tuple[RemedySpec, ...]:
    ss = S.specs.get(section, ())
    return tuple(dataclasses.replace(s, plain_lb=True) for s in ss) if section in ROBUST_SECTIONS else ss


def configs(S: Plan) -> list[TrainConfig]:
    """Every run of the chapter, each once (E.3's with their plain LB baseline)."""
    cfgs = [c for section in S.specs for spec in _specs(S, section) for c in remedy_configs(spec)]
    return list({c.key: c for c in cfgs}.values())


def remedy(S: Plan, section: str, runs: Runs, store: Store) -> Result:
    """One remedies section (``augmentation``, ``conservative``, ``adversarial``, ``stability``)
    for every network of the plan."""
    ss = _specs(S, section)
    frames = [remedy_frame(spec, runs, store) for spec in ss]
    data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    used = {spec.net: list({r.name: r for r in pick(runs, remedy_configs(spec))}.values()) for spec in ss}
    return Result(section, S, data, used, {spec.net: spec for spec in ss})


def augmentation(S: Plan, runs: Runs, store: Store) -> Result:
    """Table 6."""
    return remedy(S, "augmentation", runs, store)


def conservative(S: Plan, runs: Runs, store: Store) -> Result:
    """Table 7."""
    return remedy(S, "conservative", runs, store)


def robust(S: Plan, runs: Runs, store: Store) -> Result:
    """E.3: the ``adversarial`` and ``stability`` sections, each with the plain LB baseline (the SB
    and LB baselines are the same runs for both), as one Result with each method's in ``parts``."""
    parts = {s: remedy(S, s, runs, store) for s in ROBUST_SECTIONS}
    frames = [p.data for p in parts.values() if not p.data.empty]
    used, specs = {}, {}
    for p in parts.values():
        for net, rs in p.runs.items():
            used[net] = list({r.name: r for r in used.get(net, []) + rs}.values())
        specs.update(p.specs)
    return Result("adversarial", S, pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(),
                  used, specs, parts)


def parametric(S: Plan, runs: Runs, store: Store) -> pd.DataFrame:
    """Linear parametric plots (:func:`lbsm.experiments.stored.path_between`) from the SB
    baseline (alpha 0) to each LB variant of E.3 (alpha 1: plain, adversarial, stability), first
    seed of each network, with the profile's ``alpha_points`` and the network's
    ``landscape_examples``; each curve cached in the results store."""
    R = robust(S, runs, store)
    P = S.profile
    if R.data.empty:
        return pd.DataFrame()
    frames = []
    d = R.data.drop_duplicates(["net", "regime", "remedy", "seed"])
    for net, g in d.groupby("net", sort=False):
        g = g[g.seed == g.seed.min()]
        sb = g[g.regime == "SB"].run.iloc[0]
        for _, r in g[g.regime != "SB"].drop_duplicates("run").iterrows():
            variant = "LB" if r.regime == "LB" else f"LB + {r.remedy}"
            sub = P.landscape_examples(net)
            params = dict(sb=sb, lb=r.run, points=P.alpha_points, subset=sub)

            def compute(r=r, sb=sb, sub=sub):
                df = stored.path_between(runs[sb], runs[r.run], points=P.alpha_points,
                                         train_subset=sub, test_subset=sub)
                return {"rows": df.to_dict("records")}
            rows = store.analysis("parametric_e3", params, compute, landscape.VERSION)["rows"]
            frames.append(pd.DataFrame(rows).assign(net=net, variant=variant, seed=int(g.seed.min())))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
