"""Section 3 (Figs. 4-6, the "not a cone" remark) and Appendix C, on stored runs.

Each section has two functions of its spec (:mod:`lbsm.experiments.specs`): ``*_configs(spec)``,
the runs it trains (what the compute step schedules), and ``*_frame(spec, runs, store)``, its
tidy frame from those runs once trained, every sharpness solve through the store's cache
(:mod:`lbsm.experiments.stored`). The chapter's parts (``fig4(plan, runs, store)``, ...) apply them
to every network of the plan and return a :class:`lbsm.experiments.plans.Result`.
"""
from __future__ import annotations

import pandas as pd

from ..core.store import Store
from ..train.protocol import TrainConfig, lb_batch
from . import stored
from .plans import Plan, Result, Runs, pick, section_configs
from .specs import ConeSpec, Fig4Spec, Fig5Spec, Fig6Spec


def _lb(spec) -> int:
    return spec.lb_batch or lb_batch(spec.net, spec.train.train_subset)


def _sharpness(run, spec, store, **kw) -> dict:
    s = spec.sharpness
    return stored.sharpness_cells(run, s.eps, iters=s.iters, subset=s.subset, store=store, **kw)


# --------------------------------------------------------------------------- Fig. 4
def fig4_configs(spec: Fig4Spec) -> list[TrainConfig]:
    """``spec.epochs`` at each batch size and seed (the paper: 100 epochs; its batch sizes and
    repeats are not given)."""
    return [TrainConfig(spec.net, int(b), epochs=spec.epochs, **spec.train.common(s))
            for s in spec.seeds for b in spec.batch_sizes]


def fig4_frame(spec: Fig4Spec, runs: Runs, store: Store) -> pd.DataFrame:
    """The final iterate's test accuracy and sharpness: one row per (batch size, seed)."""
    return pd.DataFrame([dict(net=spec.net, batch_size=run.config.batch_size, seed=run.config.seed,
                              **stored.final_cells(run), **_sharpness(run, spec, store), run=run.name)
                         for run in pick(runs, fig4_configs(spec))])


# --------------------------------------------------------------------------- Fig. 5
def fig5_configs(spec: Fig5Spec) -> list[TrainConfig]:
    """The SB run (every epoch's weights kept) first, then one LB run warm-started from each kept
    epoch (epoch 0 = x0 included): ``TrainConfig(..., init="<SB run>@e")`` starts from those
    weights with a fresh ADAM state (the paper does not say; a new LB optimizer is the natural
    reading of "train with the LB method")."""
    sb = TrainConfig(spec.net, spec.sb_batch, epochs=spec.sb_epochs,
                     **spec.train.common(spec.seed), checkpoints=True)
    epochs = range(spec.sb_epochs + 1) if spec.sb_epoch_subset is None else spec.sb_epoch_subset
    return [sb] + [TrainConfig(spec.net, _lb(spec), epochs=spec.lb_epochs,
                               **spec.train.common(spec.seed), init=f"{sb.name}@{int(e)}")
                   for e in epochs]


def fig5_frame(spec: Fig5Spec, runs: Runs, store: Store) -> pd.DataFrame:
    """One row per SB epoch: the SB iterate's test accuracy and training loss, the warm-started LB
    solution's test accuracy and sharpness."""
    sb, *lbs = pick(runs, fig5_configs(spec))
    hist = sb.history.set_index("epoch")
    rows = []
    for run in lbs:
        e = int(run.config.init.rpartition("@")[2])
        if e not in hist.index:
            raise ValueError(f"SB run {sb.name} has no weights for epoch {e}; it kept epochs "
                             f"{int(hist.index[0])}..{int(hist.index[-1])}")
        f = run.final
        rows.append(dict(net=spec.net, seed=spec.seed, sb_epoch=e, sb_batch=spec.sb_batch,
                         lb_batch=_lb(spec), sb_train_loss=hist.loc[e, "train_loss"],
                         sb_test_acc=hist.loc[e, "test_acc"], lb_status=run.status,
                         lb_train_loss=f["train_loss"], lb_test_acc=f["test_acc"],
                         **_sharpness(run, spec, store), run=run.name))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- Fig. 6
def fig6_configs(spec: Fig6Spec) -> list[TrainConfig]:
    """One SB and one LB run (same seed, so the same x0), every epoch's weights kept; with the
    same settings as Fig. 5 the SB run is Fig. 5's."""
    common = dict(**spec.train.common(spec.seed), checkpoints=True)
    return [TrainConfig(spec.net, spec.sb_batch, epochs=spec.sb_epochs, **common),
            TrainConfig(spec.net, _lb(spec), epochs=spec.lb_epochs, **common)]


def fig6_frame(spec: Fig6Spec, runs: Runs, store: Store) -> pd.DataFrame:
    """Sharpness of the iterate at the sampled epochs against its training loss (the paper's
    x-axis "cross entropy loss", read as the full training loss the history records, under the
    run's BatchNorm evaluation policy). One row per (regime, epoch)."""
    rows = []
    for regime, run in zip(("SB", "LB"), pick(runs, fig6_configs(spec))):
        hist = run.history.set_index("epoch")
        last = int(hist.index[-1]) - (run.status != "done")  # a diverged epoch keeps no weights
        for e in stored.sample_epochs(last, spec.epochs):
            rows.append(dict(net=spec.net, seed=spec.seed, regime=regime,
                             batch_size=run.config.batch_size, epoch=e,
                             train_loss=hist.loc[e, "train_loss"], test_acc=hist.loc[e, "test_acc"],
                             **_sharpness(run, spec, store, which=e)))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- the cone remark
def cone_configs(spec: ConeSpec, P) -> list[TrainConfig]:
    """The first trial of ``spec.net`` under profile ``P``: the gap and sharpness chapters' runs."""
    return list(P.trial(spec.net, P.net(spec.net).seeds[0]))


def cone_frame(spec: ConeSpec, runs: Runs, store: Store, P) -> pd.DataFrame:
    """:func:`lbsm.experiments.stored.cone_table` at the trial's final SB and LB minimizers."""
    sb, lb = pick(runs, cone_configs(spec, P))
    return stored.cone_table({"SB": sb, "LB": lb}, directions=spec.directions, radius=spec.radius,
                             threshold=spec.threshold, subset=spec.subset,
                             sharpness_iters=spec.sharpness_iters, seed=spec.seed, store=store)


# --------------------------------------------------------------------------- the chapter
CONFIGS = {"fig4": fig4_configs, "fig5": fig5_configs, "fig6": fig6_configs}
FRAMES = {"fig4": fig4_frame, "fig5": fig5_frame, "fig6": fig6_frame}


def configs(S: Plan) -> list[TrainConfig]:
    """Every run the chapter trains, each once, a warm start after its SB run."""
    return section_configs(S, lambda section, spec: cone_configs(spec, S.profile) if section == "cone"
                           else CONFIGS[section](spec))


def _result(section: str, S: Plan, runs: Runs, store: Store) -> Result:
    frames, used = [], {}
    for spec in S.specs.get(section, ()):
        if section == "cone":
            frames.append(cone_frame(spec, runs, store, S.profile))
            used[spec.net] = pick(runs, cone_configs(spec, S.profile))
        else:
            frames.append(FRAMES[section](spec, runs, store))
            used[spec.net] = pick(runs, CONFIGS[section](spec))
    data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return Result(section, S, data, used, {s.net: s for s in S.specs.get(section, ())})


def fig4(S: Plan, runs: Runs, store: Store) -> Result:
    """Fig. 4 for every network of the plan."""
    return _result("fig4", S, runs, store)


def fig5(S: Plan, runs: Runs, store: Store) -> Result:
    """Fig. 5 for every network of the plan."""
    return _result("fig5", S, runs, store)


def fig6(S: Plan, runs: Runs, store: Store) -> Result:
    """Fig. 6 for every network of the plan."""
    return _result("fig6", S, runs, store)


def cone(S: Plan, runs: Runs, store: Store) -> Result:
    """The cone remark at the first trial of every network of the plan that the profile trains."""
    return _result("cone", S, runs, store)

