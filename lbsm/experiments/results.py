"""The book's results: what each chapter shows, computed from (or read out of) the results store.

This is the layer between the experiments and the report: it trains or loads the runs a profile
asks for (``trained``), and computes or loads every analysis a chapter shows (sharpness, Hessian,
parametric plots, Section 3, Appendix E), each through the results store's one cache
(:meth:`lbsm.store.Store.analysis`). Nothing here formats or plots: :mod:`lbsm.report`,
:mod:`lbsm.tables`, :mod:`lbsm.figures`, :mod:`lbsm.text` and :mod:`lbsm.status` only render what
these functions return, and :mod:`lbsm.compute`
schedules them (runs first, analyses after) on an executor.

Two kinds of plans:

* ``profile(name, **papermill parameters)`` -> a :class:`lbsm.profiles.Profile`; ``trained(P)``
  -> :class:`Trained` (the SB/LB trials of the gap, interpolation and sharpness chapters).
* ``plan(P, chapter)`` -> :class:`Plan` (the per-network knobs of the ``small_batches`` and
  ``remedies`` chapters, what is skipped and why); each section gives a :class:`Result`.
"""
from __future__ import annotations

import dataclasses
import functools
import inspect
import time
from dataclasses import dataclass, field

import pandas as pd

from ..core import data as lbsm_data
from . import sections as experiments
from ..core import models
from ..core import paper
from . import profiles
from ..train import remedies
from ..train import protocol as training
from ..core.store import Store

NETPLAN_FIELDS = {f.name for f in dataclasses.fields(profiles.NetPlan)}


PROFILE_FIELDS = {f.name for f in dataclasses.fields(profiles.Profile)} - {"name", "description", "nets"}


def profile(name: str, nets=None, seeds=None, **overrides) -> profiles.Profile:
    """The profile ``name`` with the papermill parameters of a chapter applied.

    ``None`` means "as the profile says". ``nets``: a list (or comma string) of networks to keep
    (networks not in the profile get the paper profile's plan); ``seeds``: an int (the first k
    seeds) or a list; any NetPlan field (``sb_epochs``, ``train_subset``, ...) applies to every
    network; any other Profile field (``sharpness_iters``, ``alpha_points``, ...) to the profile.
    """
    P = profiles.get(name)
    overrides = {k: v for k, v in overrides.items() if v is not None}
    unknown = set(overrides) - NETPLAN_FIELDS - PROFILE_FIELDS
    if unknown:
        raise ValueError(f"unknown profile knob(s) {', '.join(sorted(unknown))}; the knobs are "
                         f"{', '.join(sorted((NETPLAN_FIELDS | PROFILE_FIELDS) - {'seeds'}))}")
    overrides = {k: check_knob(k, v) for k, v in overrides.items()}
    plans = dict(P.nets)
    if nets is not None:
        names = [n.strip() for n in nets.split(",")] if isinstance(nets, str) else list(nets)
        full = profiles.get("paper").nets
        plans = {n: plans.get(n) or full[models.check_net(n)] for n in names}
    net_changes = {k: v for k, v in overrides.items() if k in NETPLAN_FIELDS and k != "seeds"}
    for n, plan in plans.items():
        s = plan.seeds
        if seeds is not None:
            s = check_seeds(seeds)
        plans[n] = dataclasses.replace(plan, seeds=s, **net_changes)
    return profiles.replace(P, nets=plans, **{k: v for k, v in overrides.items() if k in PROFILE_FIELDS})


# papermill parameters / profile knobs: how each is checked where it enters
POSITIVE_KNOBS = {"sb_epochs", "lb_epochs", "sharpness_iters", "subspace_dim", "hessian_k",
                  "hutchinson_samples", "patience"}
SUBSET_KNOBS = {"train_subset", "test_subset", "sharpness_subset", "hessian_subset",
                "landscape_subset", "sharpness_seeds", "subspace_seeds"}
def check_knob(name: str, value):
    """A papermill parameter or profile override, checked (ValueError naming it and the fix)."""
    from ..analyses import landscape
    from ..core import machine
    from ..core import validate
    choices = {"stop": training.STOPS, "landscape_bn": landscape.BN_POLICIES,
               "precision": machine.PRECISIONS}
    if name in POSITIVE_KNOBS:
        return validate.positive_int(name, value)
    if name in SUBSET_KNOBS:
        return validate.optional_subset(name, value)
    if name == "alpha_points":
        return validate.at_least(name, value, 2)
    if name in choices:
        return validate.choice(name, value, choices[name])
    return value


def check_seeds(seeds) -> tuple[int, ...]:
    """``seeds``: an int k >= 1 (seeds 0..k-1) or a list of distinct non-negative ints."""
    from ..core import validate
    if isinstance(seeds, (list, tuple)):
        out = tuple(validate.non_negative_int("seeds", s) for s in seeds)
        if not out or len(set(out)) != len(out):
            raise ValueError(f"seeds = {list(seeds)}: give a non-empty list of distinct seeds, "
                             "e.g. [0, 1, 2], or an int k for seeds 0..k-1")
        return out
    try:
        return tuple(range(validate.positive_int("seeds", seeds)))
    except ValueError:
        raise ValueError(f"seeds = {seeds!r}: give an int k >= 1 (seeds 0..k-1) or a list of "
                         "seeds such as [0, 1, 2]") from None


@functools.lru_cache(maxsize=None)
def _data_problems(dataset: str, root: str) -> tuple[str, ...]:
    return tuple(lbsm_data.check(dataset, root))


def data_ready(dataset: str) -> bool:
    """Whether a data set's files are in the data directory with the right md5 (cached)."""
    return not _data_problems(dataset, str(lbsm_data.data_dir()))


def dataset_of(net: str) -> str:
    """The data set a network trains on (``mnist``, ``timit``, ``cifar10``, ``cifar100``)."""
    return models.NETWORKS[net][0]


DATASET_NAMES = {"mnist": "MNIST", "timit": "TIMIT", "cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}


@dataclass
class Trained:
    """The (SB, LB) runs of every trial a profile trains, and the networks it had to skip."""
    profile: profiles.Profile
    pairs: dict = field(default_factory=dict)      # net -> [(sb_run, lb_run), ...]
    missing: dict = field(default_factory=dict)    # net -> data set name lacking
    seconds: float = 0.0

    @property
    def nets(self) -> list[str]:
        """Networks that were trained (those skipped are in ``missing``)."""
        return list(self.pairs)

    def runs(self, net: str | None = None) -> list:
        """Every run (SB and LB) of one network, or of all."""
        nets = [net] if net else self.nets
        return [r for n in nets for pair in self.pairs[n] for r in pair]


def trained(P: profiles.Profile, store: Store | None = None, progress: bool = False) -> Trained:
    """Train (or load from the results store) every SB/LB trial of the profile.

    A network whose data set is not in the data directory is skipped and listed in ``missing``.
    """
    t0 = time.perf_counter()
    T = Trained(P)
    for net in P.nets:
        if not data_ready(dataset_of(net)):
            T.missing[net] = dataset_of(net)
            continue
        trials = P.trials(net)
        runs = train_sweep([c for pair in trials for c in pair], store, progress)
        T.pairs[net] = list(zip(runs[0::2], runs[1::2]))
    T.seconds = time.perf_counter() - t0
    return T


def train_sweep(configs, store, progress):
    """``lbsm.training.sweep`` (kept apart so tests can stub training)."""
    return training.sweep(configs, store or Store(), progress=progress, desc="runs")


def analysis(kind: str, params: dict, compute, version: int, store: Store | None = None) -> dict:
    """``compute()`` (a JSON-able dict) as analysis ``kind`` of the results store
    (:meth:`lbsm.store.Store.analysis`: one cache, one rule)."""
    return (store or Store()).analysis(kind, params, compute, version)


@functools.lru_cache(maxsize=4)
def _dataset(name: str, device: str):
    return lbsm_data.load(name, device=device)


def run_data(run, split: str = "train", n: int | None = None, device=None):
    """``(x, y)`` of a run's training or test set (its subset), first ``n`` examples, on device."""
    device = str(device or training.default_device())
    ds = _dataset(run.config.dataset, device).subset(run.config.train_subset, run.config.test_subset)
    x, y = (ds.x_train, ds.y_train) if split == "train" else (ds.x_test, ds.y_test)
    return (x[:n], y[:n]) if n else (x, y)


def _eps_label(eps: float) -> str:
    """1e-3 -> "1e-3", 5e-4 -> "5e-4" (the paper's column names)."""
    m, e = f"{eps:.0e}".split("e")
    return f"{m}e{int(e)}"


def sharpness_runs(T: Trained, net: str, seeds: int | None) -> list[tuple]:
    """The (SB, LB) pairs whose sharpness is solved: the first ``seeds`` trials (None: all)."""
    pairs = T.pairs[net]
    return pairs if seeds is None else pairs[:seeds]


def sharpness_values(T: Trained, subspace: int | None = None) -> pd.DataFrame:
    """Metric 2.1 of every final SB/LB minimizer: one row per (net, seed, regime, eps).

    Settings from the profile: ``sharpness_iters`` L-BFGS-B iterations, ``sharpness_eps``, the first
    ``sharpness_subset`` training examples, the first ``sharpness_seeds`` trials (``subspace_seeds``
    with a subspace). ``subspace``: None for the full space (Table 3), p for a random n x p A
    (Table 4) drawn with the trial's seed. Solves are cached next to each run by
    ``lbsm.experiments.run_sharpness``.
    """
    from . import sections as experiments
    from ..analyses.sharpness import stop_reason
    P = T.profile
    seeds = P.subspace_seeds if subspace else P.sharpness_seeds
    rows = []
    for net in T.nets:
        for sb, lb in sharpness_runs(T, net, seeds):
            for regime, run in (("sb", sb), ("lb", lb)):
                if run.status != "done":
                    continue
                res = experiments.run_sharpness(run, P.sharpness_eps, iters=P.sharpness_iters,
                                                subset=P.sharpness_examples(net), subspace=subspace,
                                                seed=run.config.seed)
                for e, r in res.items():
                    rows.append(dict(net=net, seed=run.config.seed, regime=regime, eps=_eps_label(e),
                                     value=r["value"], f0=r["f0"], fmax=r["fmax"],
                                     iterations=r["iterations"], iters=P.sharpness_iters,
                                     stop=stop_reason(r.get("message", ""), r["iterations"],
                                                      P.sharpness_iters),
                                     message=r.get("message", ""), evaluations=r["evaluations"],
                                     seconds=r["seconds"]))
    return pd.DataFrame(rows, columns=["net", "seed", "regime", "eps", "value", "f0", "fmax",
                                       "iterations", "iters", "stop", "message", "evaluations",
                                       "seconds"])


def subspace_kinds(T: Trained) -> pd.DataFrame:
    """Table 4's value under each choice of the random A the paper leaves open
    (``lbsm.sharpness.SUBSPACE_KINDS``), for the first trial of the first network and the first eps:
    one row per kind with SB, LB, their ratio and the paper's values. Same settings as Table 4
    otherwise; solves are cached like Table 4's (the default kind is Table 4's own solve)."""
    from . import sections as experiments
    from ..analyses.sharpness import SUBSPACE_KINDS
    P = T.profile
    pairs = [(n, T.pairs[n][0]) for n in T.nets
             if all(r.status == "done" for r in T.pairs[n][0])]
    if not pairs:
        return pd.DataFrame()
    net, (sb, lb) = pairs[0]
    eps = P.sharpness_eps[0]
    ptab = paper.table(4)
    rows = []
    for kind in SUBSPACE_KINDS:
        res = {regime: experiments.run_sharpness(run, [eps], iters=P.sharpness_iters,
                                                 subset=P.sharpness_examples(net),
                                                 subspace=P.subspace_dim, seed=run.config.seed,
                                                 subspace_kind=kind)[eps]
               for regime, run in (("SB", sb), ("LB", lb))}
        row = {"A": kind, "SB": res["SB"]["value"], "LB": res["LB"]["value"]}
        row["LB/SB"] = row["LB"] / row["SB"] if row["SB"] else float("nan")
        for regime, r in res.items():
            row[f"{regime} max f / f(x)"] = r["fmax"] / r["f0"] if r["f0"] else float("nan")
        rows.append(row)
    lab = _eps_label(eps)
    df = pd.DataFrame(rows).set_index("A")
    df["paper SB"], df["paper LB"] = ptab.loc[net, f"sb_{lab}"], ptab.loc[net, f"lb_{lab}"]
    df.attrs.update(net=net, eps=eps, seed=sb.config.seed)
    return df


def hessian_values(T: Trained) -> pd.DataFrame:
    """Top ``hessian_k`` Hessian eigenvalues and the Hutchinson trace of every final minimizer.

    On the first ``hessian_subset`` training examples, the run's BatchNorm policy, the first
    ``sharpness_seeds`` trials, the profile's ``hessian_nets``; each result is cached in the
    results store (``analyses/hessian``).
    """
    from ..analyses import hessian
    P = T.profile
    rows = []
    for net in (n for n in T.nets if P.hessian_nets is None or n in P.hessian_nets):
        for sb, lb in sharpness_runs(T, net, P.sharpness_seeds):
            for regime, run in (("SB", sb), ("LB", lb)):
                if run.status != "done":
                    continue
                params = dict(run=run.name, k=P.hessian_k, subset=P.hessian_subset,
                              samples=P.hutchinson_samples, bn=run.config.bn_eval, seed=run.config.seed,
                              batch=run.config.eval_batch_size)

                def compute(run=run):
                    t0 = time.perf_counter()
                    model = run.model("final")
                    x, y = run_data(run, "train", P.hessian_subset)
                    spec = hessian.top_eigenvalues(model, x, y, k=P.hessian_k, bn=run.config.bn_eval,
                                                   batch_size=run.config.eval_batch_size,
                                                   seed=run.config.seed)
                    tr = hessian.hutchinson_trace(model, x, y, samples=P.hutchinson_samples,
                                                  bn=run.config.bn_eval,
                                                  batch_size=run.config.eval_batch_size,
                                                  seed=run.config.seed)
                    return {"eigenvalues": sorted(map(float, spec.values), reverse=True),
                            "hvps": int(spec.hvps), "trace": float(tr.mean),
                            "trace_stderr": float(tr.stderr), "seconds": time.perf_counter() - t0}
                r = analysis("hessian", params, compute, hessian.VERSION)
                rows.append(dict(net=net, seed=run.config.seed, regime=regime,
                                 **{f"lambda_{i + 1}": v for i, v in enumerate(r["eigenvalues"])},
                                 trace=r["trace"], trace_stderr=r["trace_stderr"], seconds=r["seconds"]))
    return pd.DataFrame(rows)


def interpolation(T: Trained, kind: str = "linear", bn: str = "batch") -> pd.DataFrame:
    """Loss and accuracy along the SB-LB path (``lbsm.landscape``) for every trial of each net.

    The paper plots one "randomly chosen" pair; the figure shows the first trial (lowest seed) and
    says so, the verdict uses every trial (a paired comparison over seeds). ``kind``:
    ``linear`` (Fig. 3) or ``curvilinear`` (Fig. 7); ``profile.alpha_points`` points in [-1, 2], on
    the first ``landscape_subset`` training and test examples, Keras' probability clipping (so the
    loss saturates as in the paper). Each curve is cached in the results store.
    """
    from ..analyses import landscape
    P = T.profile
    frames = []
    for net, sb, lb in ((n, sb, lb) for n in T.nets for sb, lb in T.pairs[n]):
        if sb.status != "done" or lb.status != "done":
            continue
        sub = P.landscape_examples(net)
        tr = min(sub, sb.meta["n_train"]) if sub else None
        te = min(sub, sb.meta["n_test"]) if sub else None
        params = dict(sb=sb.name, lb=lb.name, kind=kind, points=P.alpha_points, bn=bn,
                      train_subset=tr, test_subset=te)

        def compute(sb=sb, lb=lb, tr=tr, te=te):
            df = landscape.interpolate_runs(sb.name, lb.name, kind=kind, points=P.alpha_points,
                                            bn=bn, train_subset=tr, test_subset=te,
                                            results=sb.path.parent.parent)
            return {"rows": df.to_dict("records")}
        r = analysis("interpolation", params, compute, landscape.VERSION)
        frames.append(pd.DataFrame(r["rows"]).assign(net=net, seed=sb.config.seed))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["alpha", "kind", "split", "loss", "accuracy", "bn", "net", "seed"])


def distance_ratios(T: Trained) -> pd.DataFrame:
    """||x_s - x0|| / ||x_l - x0|| of every trial (trainable parameters; the paper: 3-10)."""
    from ..analyses import landscape
    rows = []
    r = paper.statement("distance_ratio")
    for net in T.nets:
        names = landscape.trainable_names(models.build(net))
        for sb, lb in T.pairs[net]:
            def compute(sb=sb, lb=lb):
                x0 = sb.state("x0")
                return {"ratio": landscape.distance_ratio(x0, sb.state("final"), lb.state("final"), names)}
            ratio = analysis("distance", dict(sb=sb.name, lb=lb.name), compute, landscape.VERSION)["ratio"]
            rows.append(dict(net=net, seed=sb.config.seed, ratio=ratio,
                             in_range=r["low"] <= ratio <= r["high"]))
    return pd.DataFrame(rows, columns=["net", "seed", "ratio", "in_range"])



SECTIONS = {
    "small_batches": {"fig4": experiments.batch_size_sweep, "fig5": experiments.warm_starts,
                      "fig6": experiments.sharpness_along_training, "cone": experiments.cone_table,
                      "appendix_c": experiments.compare_iterations},
    "remedies": {"augmentation": experiments.remedy_trials, "conservative": experiments.remedy_trials,
                 "adversarial": experiments.remedy_trials, "stability": experiments.remedy_trials},
}


GLOBAL_SECTIONS = {"appendix_c"}  # knobs shared by all networks, not per network
# sections whose runs ``robust`` trains with the plain LB baseline whatever the knobs say
ROBUST_SECTIONS = ("adversarial", "stability")


TIMIT_STANDIN = ("F2", "F1")  # F1 on MNIST stands in for F2 when the TIMIT features are missing


def bind(fn, kwargs: dict, first=None) -> inspect.BoundArguments:
    """``fn``'s arguments with the knobs ``kwargs`` bound (a TypeError for an unknown knob) and
    the defaults applied; ``first`` is the positional argument (a network, runs, ...)."""
    sig = inspect.signature(fn)
    params = list(sig.parameters)
    positional = {} if params[0] in kwargs else {params[0]: first}
    if fn is experiments.compare_iterations:
        positional = {"sb": first, "lb": first}
    b = sig.bind(**positional, **kwargs)
    b.apply_defaults()
    return b


def check_knobs(P: profiles.Profile) -> list[str]:
    """Bind every knob of a profile to its function (and every remedy's ``method_args`` to
    ``remedies.resolve_args``); returns what was checked, raises on the first knob that does not bind."""
    checked = []
    for chapter, sections in SECTIONS.items():
        knobs = getattr(P, chapter)
        unknown = set(knobs) - set(sections)
        if unknown:
            raise ValueError(f"profile {P.name}: unknown {chapter} section(s) {sorted(unknown)}")
        for section, kw in knobs.items():
            fn = sections[section]
            per_net = {"*": kw} if section in GLOBAL_SECTIONS else kw
            for net, args in per_net.items():
                b = bind(fn, args, net)
                if fn is experiments.remedy_trials:
                    remedies.resolve_args(b.arguments["method"], net, b.arguments["method_args"])
                checked.append(f"{chapter}.{section}.{net}")
    return checked


def _scaled_batches(kw: dict, src: str, dst: str) -> dict:
    """``kw`` with its batch sizes scaled to the same fractions of ``dst``'s training set."""
    if "batch_sizes" not in kw:
        return dict(kw)
    r = training.lb_batch(dst) / training.lb_batch(src)
    return {**kw, "batch_sizes": tuple(sorted({max(1, round(b * r)) for b in kw["batch_sizes"]}))}


@dataclass
class Plan:
    """A chapter's knobs under a profile: what runs, what is skipped and why."""
    profile: profiles.Profile
    chapter: str
    knobs: dict = field(default_factory=dict)       # section -> net -> kwargs (only what runs)
    skipped: dict = field(default_factory=dict)     # section -> net -> reason
    stand_ins: dict = field(default_factory=dict)   # section -> {stand-in net: replaced net}
    shared: dict = field(default_factory=dict)      # section -> kwargs (GLOBAL_SECTIONS)


def plan(profile: str | profiles.Profile, chapter: str, nets=None) -> Plan:
    """The knobs of ``chapter`` under ``profile``, keeping the networks whose data is there.

    ``nets``: a list (or comma string) restricting the networks (None: the profile's). In the
    ``small_batches`` chapter F1 (MNIST) stands in for F2 when the TIMIT features are missing, with
    Fig. 4's batch sizes scaled to the same fractions of the training set.
    """
    P = profiles.get(profile) if isinstance(profile, str) else profile
    if chapter not in SECTIONS:
        raise ValueError(f"unknown chapter {chapter!r}; choose one of {', '.join(SECTIONS)}")
    keep = None if nets is None else [n.strip() for n in (nets.split(",") if isinstance(nets, str) else nets)]
    S = Plan(P, chapter)
    for section, kw in getattr(P, chapter).items():
        if section in GLOBAL_SECTIONS:
            S.shared[section] = dict(kw)
            continue
        S.knobs[section], S.skipped[section], S.stand_ins[section] = {}, {}, {}
        for net, args in kw.items():
            if not data_ready(dataset_of(net)):
                old, new = TIMIT_STANDIN
                if chapter == "small_batches" and net == old and new not in kw \
                        and data_ready(dataset_of(new)) and (keep is None or new in keep):
                    S.knobs[section][new] = _scaled_batches(args, old, new)
                    S.stand_ins[section][new] = old
                S.skipped[section][net] = f"needs data: {DATASET_NAMES[dataset_of(net)]}"
            elif keep is not None and net not in keep:
                S.skipped[section][net] = f"not selected (nets = {','.join(keep)})"
            else:
                S.knobs[section][net] = dict(args)
    return S


@dataclass
class Result:
    """A section's tidy data, the runs behind it (net -> [Run]) and the knobs used (net -> kwargs)."""
    section: str
    plan: Plan
    data: pd.DataFrame
    runs: dict = field(default_factory=dict)
    knobs: dict = field(default_factory=dict)

    @property
    def nets(self) -> list[str]:
        return list(self.knobs)


def _store() -> Store:
    return Store()


def load_run(name: str, store: Store | None = None) -> training.Run:
    """A stored run from its directory name (``<net>-<key>``)."""
    store = store or _store()
    return training.Run.load(store.root / "runs" / name, store)


def _runs_of(names, store=None) -> list:
    return [load_run(n, store) for n in dict.fromkeys(names)]


def fig4(S: Plan) -> Result:
    """Fig. 4: ``experiments.batch_size_sweep`` for every network of the ``fig4`` knobs."""
    frames, runs = [], {}
    for net, kw in S.knobs.get("fig4", {}).items():
        df = experiments.batch_size_sweep(net, progress=False, **kw)
        frames.append(df)
        runs[net] = _runs_of(df.run)
    return Result("fig4", S, pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(),
                  runs, dict(S.knobs.get("fig4", {})))


def fig5(S: Plan) -> Result:
    """Fig. 5: ``experiments.warm_starts`` for every network of the ``fig5`` knobs."""
    frames, runs = [], {}
    for net, kw in S.knobs.get("fig5", {}).items():
        df = experiments.warm_starts(net, progress=False, **kw)
        frames.append(df)
        lbs = _runs_of(df.run)
        sb = {r.config.init.partition("@")[0] for r in lbs}
        runs[net] = _runs_of(sb) + lbs
    return Result("fig5", S, pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(),
                  runs, dict(S.knobs.get("fig5", {})))


def _fig6_runs(net: str, kw: dict) -> list:
    """The SB and LB runs ``experiments.sharpness_along_training`` trained (rebuilt from the knobs)."""
    a = bind(experiments.sharpness_along_training, kw, net).arguments
    common = dict(seed=a["seed"], train_subset=a["train_subset"], test_subset=a["test_subset"],
                  precision=a["precision"], **(a["config"] or {}), checkpoints=True)
    lb = a["lb_batch"] or training.lb_batch(net, a["train_subset"])
    cfgs = [training.TrainConfig(net, a["sb_batch"], epochs=a["sb_epochs"], **common),
            training.TrainConfig(net, lb, epochs=a["lb_epochs"], **common)]
    store = _store()
    return [training.Run.load(store.run_dir(net, c.key), store) for c in cfgs]


def fig6(S: Plan) -> Result:
    """Fig. 6: ``experiments.sharpness_along_training`` for every network of the ``fig6`` knobs."""
    frames, runs = [], {}
    for net, kw in S.knobs.get("fig6", {}).items():
        frames.append(experiments.sharpness_along_training(net, progress=False, **kw))
        runs[net] = _fig6_runs(net, kw)
    return Result("fig6", S, pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(),
                  runs, dict(S.knobs.get("fig6", {})))


def cone(S: Plan, P: profiles.Profile | None = None) -> Result:
    """``experiments.cone_table`` at the final SB and LB minimizers of the first trial of every
    network of the ``cone`` knobs, i.e. the runs of the gap and sharpness chapters (trained here if
    the results store lacks them). A network the profile does not train is skipped."""
    P = P or S.profile
    frames, runs, knobs = [], {}, {}
    for net, kw in S.knobs.get("cone", {}).items():
        if net not in P.nets:
            S.skipped["cone"][net] = f"no trial of {net} in profile {P.name}"
            continue
        sb_cfg, lb_cfg = P.trial(net, P.net(net).seeds[0])
        pair = [training.fit(c, _store(), progress=False) for c in (sb_cfg, lb_cfg)]
        frames.append(experiments.cone_table({"SB": pair[0], "LB": pair[1]}, **kw))
        runs[net], knobs[net] = pair, kw
    return Result("cone", S, pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(),
                  runs, knobs)


def remedy(S: Plan, section: str, plain_lb: bool | None = None) -> Result:
    """``experiments.remedy_trials`` for every network of a remedies section (``augmentation``,
    ``conservative``, ``adversarial``, ``stability``). ``plain_lb``: force the unmodified LB run
    (E.3 compares with it even where the profile's knobs leave it out)."""
    frames, runs = [], {}
    for net, kw in S.knobs.get(section, {}).items():
        kw = kw if plain_lb is None else {**kw, "plain_lb": plain_lb}
        df = experiments.remedy_trials(net, progress=False, **kw)
        frames.append(df)
        runs[net] = _runs_of(df.run)
    knobs = {n: (kw if plain_lb is None else {**kw, "plain_lb": plain_lb})
             for n, kw in S.knobs.get(section, {}).items()}
    return Result(section, S, pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(),
                  runs, knobs)


def robust(S: Plan) -> Result:
    """E.3: the ``adversarial`` and ``stability`` sections, each with the plain LB baseline (and the
    SB baseline; both are the same runs for the two methods), as one Result."""
    parts = [remedy(S, s, plain_lb=True) for s in ROBUST_SECTIONS]
    data = pd.concat([p.data for p in parts if not p.data.empty], ignore_index=True) \
        if any(not p.data.empty for p in parts) else pd.DataFrame()
    runs = {}
    for p in parts:
        for net, rs in p.runs.items():
            runs[net] = list({r.name: r for r in runs.get(net, []) + rs}.values())
    knobs = {}
    for p in parts:
        knobs.update(p.knobs)
    R = Result("adversarial", S, data, runs, knobs)
    R.parts = {p.section: p for p in parts}
    return R


def parametric(R: Result, P: profiles.Profile | None = None) -> pd.DataFrame:
    """Linear parametric plots (``lbsm.landscape.interpolate``) from the SB baseline (alpha 0) to
    each LB variant of E.3 (alpha 1: plain, adversarial, stability), first seed of each network,
    with the profile's ``alpha_points`` and the network's ``landscape_examples``; cached in the
    results store."""
    from ..analyses import landscape
    P = P or R.plan.profile
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
                df = landscape.interpolate_runs(sb, r.run, points=P.alpha_points,
                                                train_subset=sub, test_subset=sub)
                return {"rows": df.to_dict("records")}
            rows = analysis("parametric_e3", params, compute, landscape.VERSION)["rows"]
            frames.append(pd.DataFrame(rows).assign(net=net, variant=variant))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


# --------------------------------------------------------------------------- chapter parts
# What lbsm.compute schedules: each part takes the chapter's plan (a Profile, or a Plan of
# sections) and returns what the chapter renders; the runs a plan trains come from
# ``Profile.trials`` and ``section_configs``.
def part_linear(P: profiles.Profile) -> pd.DataFrame:
    """Fig. 3 curves (first trial of each network)."""
    return interpolation(trained(P), "linear", bn=P.landscape_bn)


def part_curvilinear(P: profiles.Profile) -> pd.DataFrame:
    """Fig. 7 curves (first trial of each network)."""
    return interpolation(trained(P), "curvilinear", bn=P.landscape_bn)


def part_distance(P: profiles.Profile) -> pd.DataFrame:
    return distance_ratios(trained(P))


def part_table3(P: profiles.Profile) -> pd.DataFrame:
    """Metric 2.1 in the full space of every final minimizer (Table 3)."""
    return sharpness_values(trained(P))


def part_table4(P: profiles.Profile) -> pd.DataFrame:
    """Metric 2.1 in a random ``subspace_dim``-dimensional subspace (Table 4)."""
    return sharpness_values(trained(P), subspace=P.subspace_dim)


def part_kinds(P: profiles.Profile) -> pd.DataFrame:
    return subspace_kinds(trained(P))


def part_hessian(P: profiles.Profile) -> pd.DataFrame:
    return hessian_values(trained(P))


def part_augmentation(S: Plan) -> Result:
    """Table 6."""
    return remedy(S, "augmentation")


def part_conservative(S: Plan) -> Result:
    """Table 7."""
    return remedy(S, "conservative")


def part_parametric(S: Plan) -> pd.DataFrame:
    """E.3 parametric plots (from the runs of ``robust``)."""
    return parametric(robust(S))


def section_configs(S: Plan) -> list[training.TrainConfig]:
    """Every run the sections of ``S`` train, in an order where a warm start follows its SB run."""
    cfgs = []
    for section, per_net in S.knobs.items():
        fn = SECTIONS[S.chapter][section]
        for net, kw in per_net.items():
            if section == "cone":
                if net in S.profile.nets:
                    cfgs += S.profile.trial(net, S.profile.net(net).seeds[0])
                continue
            if section in ROBUST_SECTIONS:
                kw = {**kw, "plain_lb": True}
            cfgs += fn(net, **kw, configs_only=True)
    return list({c.key: c for c in cfgs}.values())
