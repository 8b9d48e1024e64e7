"""What the paper left open, and what it changes: Metric 2.1 and the gap under each unstated choice.

The paper states Metric 2.1 (eps, 10 L-BFGS-B iterations, the box) but not the start point of
L-BFGS-B, the data f averages over, the BatchNorm statistics inside f, the batch f is evaluated
in, how long "until the loss ceased to improve" is, or the arithmetic. Each ``CHOICES`` entry
varies one of them, everything else at the profile's own settings (the ``baseline``, the numbers
of the sharpness and gap chapters), on the first trial of one network (``Profile.sensitivity``):

* ``start``, ``iters``: L-BFGS-B from the gradient's box vertex or from y = 0; 10, 30, 100 steps;
* ``tol``: L-BFGS-B's stopping tolerances off (every iteration runs: the paper's "10 iterations")
  or SciPy's defaults (a solve may stop at its start);
* ``subset``: f over the first N training examples (the paper: the training set);
* ``bn``: f with batch statistics (the official code's mode) or the running ones;
* ``eval_batch``: the batch f is evaluated in (with batch statistics it changes f itself);
* ``stop``: the plateau rule (the profile's, ``lbsm.train.protocol``) or fixed SB / LB epochs, retrained;
* ``precision``: the profile's fp32 (the paper's) against bf16 autocast, retrained for the first
  ``precision_seeds`` trials (``per_seed`` gives Table 3 and the gap of each).

Every value is an analysis of the results store, so the chapter only renders. ``closing`` says
which choice moves Table 3 toward the paper's values, and by how many decades.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from ..core import paper
from ..core.constants import eps_label
from ..core.store import Store
from ..train import protocol as training
from . import profiles, stored
from .plans import Runs, data_ready, dataset_of, pick

CHOICES = ("start", "iters", "tol", "subset", "bn", "eval_batch", "stop", "precision")
LABELS = {"start": "L-BFGS-B start", "iters": "L-BFGS-B iterations",
          "tol": "L-BFGS-B stopping tolerances", "subset": "training examples in f",
          "bn": "BatchNorm statistics in f", "eval_batch": "evaluation batch of f",
          "stop": "stop rule", "precision": "precision"}
RETRAINED = ("stop", "precision")


def _spec(P: profiles.Profile) -> profiles.Sensitivity:
    if P.sensitivity is None:
        raise ValueError(f"profile {P.name} runs no sensitivity study (Profile.sensitivity)")
    return P.sensitivity


def baseline_trial(P: profiles.Profile) -> tuple[training.TrainConfig, training.TrainConfig]:
    """The (SB, LB) configs of the first trial of the study's network, as the gap chapter trains."""
    s = _spec(P)
    return P.trial(s.net, P.net(s.net).seeds[0])


def _other_stop(c: training.TrainConfig, epochs: int, cap: int) -> training.TrainConfig:
    """``c`` under the other stop rule: fixed ``epochs`` if it plateaus, else the plateau rule
    capped at ``cap`` epochs."""
    if c.stop == "plateau":
        return dataclasses.replace(c, stop="epochs", epochs=epochs)
    return dataclasses.replace(c, stop="plateau", epochs=cap)


def _stop_label(sb: training.TrainConfig, lb: training.TrainConfig) -> str:
    """The stop rule of a retrained pair, as the tables name it (SB's and LB's epochs apart)."""
    if sb.stop == "plateau":
        return "plateau"
    return f"fixed {sb.epochs} SB / {lb.epochs} LB epochs"


def variant_trials(P: profiles.Profile) -> dict[tuple[str, str, int], tuple]:
    """The retrained (SB, LB) pairs: {(choice, setting, seed): (sb, lb)}."""
    s = _spec(P)
    sb, lb = baseline_trial(P)
    other = (_other_stop(sb, s.fixed_epochs[0], s.plateau_cap),
             _other_stop(lb, s.fixed_epochs[1], s.plateau_cap))
    out = {("stop", _stop_label(*other), sb.seed): other}
    for prec in s.precisions:
        for seed in P.net(s.net).seeds[:s.precision_seeds]:
            pair = P.trial(s.net, seed)
            out[("precision", prec, seed)] = tuple(dataclasses.replace(c, precision=prec) for c in pair)
    return out


def configs(P: profiles.Profile) -> list[training.TrainConfig]:
    """Every run the study needs: the baseline trials (the first ``precision_seeds``) and the
    retrained variants."""
    if P.sensitivity is None or not data_ready(dataset_of(P.sensitivity.net)):
        return []
    s = P.sensitivity
    base = [c for seed in P.net(s.net).seeds[:max(1, s.precision_seeds)] for c in P.trial(s.net, seed)]
    return base + [c for pair in variant_trials(P).values() for c in pair]


def _solve(run, P: profiles.Profile, store: Store, **kw) -> dict:
    s = _spec(P)
    args = dict(iters=P.sharpness_iters, subset=P.sharpness_examples(s.net), start=P.sharpness_start)
    args.update(kw)
    return stored.run_sharpness(run, (s.eps,), store=store, **args)[s.eps]


def _row(choice, setting, regime, run, res, baseline: bool) -> dict:
    f = run.final
    return dict(choice=choice, setting=str(setting), baseline=baseline, regime=regime,
                seed=run.config.seed,
                sharpness=res["value"], f0=res["f0"], iterations=res.get("iterations"),
                evaluations=res.get("evaluations"), test_acc=f["test_acc"],
                train_loss=f["train_loss"], epochs=int(f["epoch"]),
                precision=run.meta.get("precision"), device=run.meta.get("device"),
                commit=run.meta.get("commit"), run=run.name)


def choice(P: profiles.Profile, runs: Runs, store: Store, name: str) -> pd.DataFrame:
    """One tidy frame for ``name`` (one of ``CHOICES``): a row per (setting, regime) with the
    sharpness at ``eps``, the run's final test accuracy and whether it is the baseline."""
    if P.sensitivity is None or not runs:
        return pd.DataFrame()
    s = _spec(P)
    sb_cfg, lb_cfg = baseline_trial(P)
    pair = pick(runs, (sb_cfg, lb_cfg))
    base = dict(start=P.sharpness_start, iters=P.sharpness_iters, tol="none",
                subset=P.sharpness_examples(s.net), bn=sb_cfg.bn_eval,
                eval_batch=sb_cfg.eval_batch_size, stop=_stop_label(sb_cfg, lb_cfg),
                precision=sb_cfg.precision)
    rows = []
    if name in RETRAINED:
        variants = [(k[1], v) for k, v in variant_trials(P).items() if k[0] == name]
        seeds = sorted({v[0].seed for _, v in variants})
        baselines = [(base[name], P.trial(s.net, seed)) for seed in seeds]
        for setting, cfgs in baselines + variants:
            for regime, run in zip(("SB", "LB"), pick(runs, cfgs)):
                rows.append(_row(name, setting, regime, run, _solve(run, P, store),
                                 baseline=setting == base[name]))
    else:
        values = {"start": s.starts, "iters": s.iters, "tol": s.tolerances, "subset": s.subsets,
                  "bn": s.bn_policies, "eval_batch": s.eval_batches}[name]
        kw = {"start": "start", "iters": "iters", "tol": "tol", "subset": "subset", "bn": "bn",
              "eval_batch": "batch_size"}[name]
        for v in values:
            for regime, run in zip(("SB", "LB"), pair):
                rows.append(_row(name, "all" if v is None else v, regime, run,
                                 _solve(run, P, store, **{kw: v}), baseline=v == base[name]))
    df = pd.DataFrame(rows)
    df.attrs.update(net=s.net, eps=s.eps, seed=sb_cfg.seed)
    return df


def study(parts: dict) -> pd.DataFrame:
    """The frames of every choice (the chapter's parts), stacked, with the study's attributes."""
    frames = [parts[c] for c in CHOICES if c in parts and len(parts[c])]
    if not frames:
        return pd.DataFrame()
    df = pd.concat(frames, ignore_index=True)
    df.attrs.update(frames[0].attrs)
    return df


def _paper_values(net: str, eps: float) -> tuple[float, float]:
    t3 = paper.table(3)
    ref = net if net in t3.index else "F1"
    lab = eps_label(eps)
    return float(t3.loc[ref, f"sb_{lab}"]), float(t3.loc[ref, f"lb_{lab}"])


def distance(sb: float, lb: float, p_sb: float, p_lb: float) -> float:
    """Decades from the paper's Table 3: |log10(SB / paper SB)| + |log10(LB / paper LB)|."""
    if min(sb, lb) <= 0:
        return math.inf
    return abs(math.log10(sb / p_sb)) + abs(math.log10(lb / p_lb))


def summary(df: pd.DataFrame) -> pd.DataFrame:
    """Per (choice, setting): SB and LB sharpness, LB/SB, SB - LB test accuracy, and the distance
    in decades from the paper's Table 3 (``distance``)."""
    if df.empty:
        return pd.DataFrame()
    net, eps = df.attrs.get("net", "F1"), df.attrs.get("eps", 1e-3)
    p_sb, p_lb = _paper_values(net, eps)
    rows = []
    seed0 = df.attrs.get("seed", df.seed.min())
    first = df[df.seed == seed0] if "seed" in df else df  # every choice on the same (first) trial
    for (c, setting), g in first.groupby(["choice", "setting"], sort=False):
        sb, lb = g[g.regime == "SB"].iloc[0], g[g.regime == "LB"].iloc[0]
        rows.append(dict(choice=c, setting=setting, baseline=bool(sb.baseline),
                         sharpness_sb=sb.sharpness, sharpness_lb=lb.sharpness,
                         ratio=lb.sharpness / sb.sharpness if sb.sharpness > 0 else np.nan,
                         gap=sb.test_acc - lb.test_acc,
                         iterations=f"{sb.iterations} / {lb.iterations}",
                         decades_from_paper=distance(sb.sharpness, lb.sharpness, p_sb, p_lb)))
    out = pd.DataFrame(rows)
    out.attrs.update(df.attrs, paper_sb=p_sb, paper_lb=p_lb)
    return out


def per_seed(df: pd.DataFrame, name: str = "precision") -> pd.DataFrame:
    """Per (setting, seed) of a retrained choice: SB and LB sharpness, LB/SB, the test gap SB - LB
    (points) and the epochs each run trained; one row each."""
    d = df[df.choice == name] if len(df) else df
    if d.empty:
        return pd.DataFrame()
    rows = []
    for (setting, seed), g in d.groupby(["setting", "seed"], sort=False):
        sb, lb = g[g.regime == "SB"].iloc[0], g[g.regime == "LB"].iloc[0]
        rows.append(dict(setting=setting, seed=int(seed), sharpness_sb=sb.sharpness,
                         sharpness_lb=lb.sharpness,
                         ratio=lb.sharpness / sb.sharpness if sb.sharpness > 0 else np.nan,
                         test_sb=sb.test_acc, test_lb=lb.test_acc, gap=sb.test_acc - lb.test_acc,
                         epochs_sb=sb.epochs, epochs_lb=lb.epochs))
    return pd.DataFrame(rows)


def closing(summ: pd.DataFrame) -> pd.DataFrame:
    """Per choice: the baseline's distance from the paper's Table 3, the setting that comes
    closest, how many decades it moves toward the paper (positive: closer), and the LB/SB ratio
    there; sorted by that move, largest first."""
    if summ.empty:
        return pd.DataFrame()
    rows = []
    for c, g in summ.groupby("choice", sort=False):
        base = g[g.baseline].iloc[0]
        best = g.loc[g.decades_from_paper.idxmin()]
        rows.append({"choice": LABELS[c], "baseline": base.setting, "closest setting": best.setting,
                     "decades from paper (baseline)": base.decades_from_paper,
                     "decades from paper (closest)": best.decades_from_paper,
                     "moves toward the paper (decades)": base.decades_from_paper - best.decades_from_paper,
                     "LB/SB (baseline)": base.ratio, "LB/SB (closest)": best.ratio})
    out = pd.DataFrame(rows).sort_values("moves toward the paper (decades)", ascending=False)
    return out.set_index("choice")
