"""The SB/LB trials of Tables 2-4, Figs. 2, 3 and 7 and the distance ratio, and every analysis
of their final minimizers, each cached in the results store.

:func:`trained` arranges a chapter's runs into trials (:class:`Trained`); the chapter parts
(``table3(P, runs, store)``, ...) take the profile, the runs the compute step trained and the
store, and return the tidy frames the report renders.
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

import pandas as pd

from ..analyses import hessian, landscape, sharpness
from ..core import data as lbsm_data
from ..core import models, paper
from ..core.constants import eps_label
from ..core.serving import NotStored
from ..core.store import Store
from ..train.protocol import TrainConfig, default_device
from . import profiles, stored
from .plans import Runs, data_ready, dataset_of, pick


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


def trial_configs(P: profiles.Profile) -> list[TrainConfig]:
    """The SB and LB configs of every trial of every network whose data is there."""
    return [c for net in P.nets if data_ready(dataset_of(net)) for pair in P.trials(net) for c in pair]


def trained(P: profiles.Profile, runs: Runs, store: Store | None = None) -> Trained:
    """The profile's trials out of a chapter's runs; a network whose data set is not in the data
    directory is listed in ``missing``."""
    t0 = time.perf_counter()
    T = Trained(P)
    for net in P.nets:
        if not data_ready(dataset_of(net)):
            T.missing[net] = dataset_of(net)
            continue
        got = pick(runs, [c for pair in P.trials(net) for c in pair])
        T.pairs[net] = list(zip(got[0::2], got[1::2]))
    T.seconds = time.perf_counter() - t0
    return T


@functools.lru_cache(maxsize=4)
def _dataset(name: str, device: str):
    return lbsm_data.load(name, device=device)


def run_data(run, split: str = "train", n: int | None = None, device=None):
    """``(x, y)`` of a run's training or test set (its subset), first ``n`` examples, on device."""
    device = str(device or default_device())
    ds = _dataset(run.config.dataset, device).subset(run.config.train_subset, run.config.test_subset)
    x, y = (ds.x_train, ds.y_train) if split == "train" else (ds.x_test, ds.y_test)
    return (x[:n], y[:n]) if n else (x, y)


def sharpness_runs(T: Trained, net: str, seeds: int | None) -> list[tuple]:
    """The (SB, LB) pairs whose sharpness is solved: the first ``seeds`` trials (None: all)."""
    pairs = T.pairs[net]
    return pairs if seeds is None else pairs[:seeds]


def sharpness_values(T: Trained, store: Store, subspace: int | None = None) -> pd.DataFrame:
    """Metric 2.1 of every final SB/LB minimizer: one row per (net, seed, regime, eps).

    Settings from the profile: ``sharpness_iters`` L-BFGS-B iterations, ``sharpness_eps``, the first
    ``sharpness_subset`` training examples, the first ``sharpness_seeds`` trials (``subspace_seeds``
    with a subspace). ``subspace``: None for the full space (Table 3), p for a random n x p A
    (Table 4) drawn with the trial's seed. Solves are cached next to each run by
    ``lbsm.experiments.run_sharpness``.
    """
    P = T.profile
    seeds = P.subspace_seeds if subspace else P.sharpness_seeds
    rows = []
    for net in T.nets:
        for sb, lb in sharpness_runs(T, net, seeds):
            for regime, run in (("sb", sb), ("lb", lb)):
                if run.status != "done":
                    continue
                res = stored.run_sharpness(run, P.sharpness_eps, iters=P.sharpness_iters,
                                                subset=P.sharpness_examples(net), subspace=subspace,
                                                seed=run.config.seed, start=P.sharpness_start,
                                                store=store)
                for e, r in res.items():
                    rows.append(dict(net=net, seed=run.config.seed, regime=regime, eps=eps_label(e),
                                     value=r["value"], f0=r["f0"], fmax=r["fmax"],
                                     iterations=r["iterations"], iters=P.sharpness_iters,
                                     stop=sharpness.stop_reason(r.get("message", ""), r["iterations"],
                                                      P.sharpness_iters),
                                     message=r.get("message", ""), evaluations=r["evaluations"],
                                     seconds=r["seconds"]))
    return pd.DataFrame(rows, columns=["net", "seed", "regime", "eps", "value", "f0", "fmax",
                                       "iterations", "iters", "stop", "message", "evaluations",
                                       "seconds"])


ITER_COLUMNS = ["net", "seed", "regime", "eps", "iters", "value", "f0", "fmax", "reach", "on_face",
                "iterations", "evaluations", "message", "solve_iters", "seconds"]


def iteration_readings(T: Trained, store: Store) -> pd.DataFrame:
    """Table 3 read off at each of the profile's ``sharpness_iter_readings`` L-BFGS-B iteration
    counts: one row per (net, seed, regime, eps, iters). Each minimizer of the first
    ``iter_readings_seeds`` trials gets one full-space solve of the largest count (the profile's
    start, eps and examples: Table 3's settings but for the count); a smaller count k is read off
    the solve's trace, since L-BFGS-B's first k iterates do not depend on the count asked for:
    the largest f evaluated by the end of iteration k, and how far the k-th iterate is toward the
    box (``reach``: mean |y_i| / bound_i; ``on_face``: the fraction of coordinates on its face).
    A solve that stopped before k iterations is read at its end (``iterations`` < ``iters``).
    A serving store (``lbsm.core.serving``) leaves out the minimizers whose solve it does not hold."""
    P = T.profile
    counts = tuple(P.sharpness_iter_readings)
    rows = []
    for net in T.nets if counts else ():
        for sb, lb in sharpness_runs(T, net, P.iter_readings_seeds):
            for regime, run in (("sb", sb), ("lb", lb)):
                if run.status != "done":
                    continue
                try:
                    res = stored.run_sharpness(run, P.sharpness_eps, iters=max(counts),
                                               subset=P.sharpness_examples(net), seed=run.config.seed,
                                               start=P.sharpness_start, store=store)
                except NotStored:  # a serving store: published before this reading was computed
                    continue
                for e, r in res.items():
                    trace = r.get("trace")
                    if trace is None:
                        raise ValueError(f"the stored {max(counts)}-iteration solve of {run.name} at "
                                         f"eps {e:g} has no trace (computed before traces were kept); "
                                         "delete that analysis and compute again")
                    end = (r["iterations"], r["evaluations"], r["fmax"], r["reach"], r["on_face"])
                    for k in counts:
                        it, evals, fmax, reach, on_face = trace[k - 1] if k <= len(trace) else end
                        # why the solve stopped is known only where the reading is its end: an
                        # earlier reading stopped at its count, whatever the solve did later
                        why = r.get("message", "") if it >= r["iterations"] else \
                            f"read off the solve's trace at iteration {it} of {r['iterations']}"
                        rows.append(dict(net=net, seed=run.config.seed, regime=regime, eps=eps_label(e),
                                         iters=k, value=sharpness.phi(r["f0"], fmax), f0=r["f0"],
                                         fmax=fmax, reach=reach, on_face=on_face, iterations=it,
                                         evaluations=evals, message=why,
                                         solve_iters=max(counts), seconds=r["seconds"]))
    return pd.DataFrame(rows, columns=ITER_COLUMNS)


def subspace_kinds(T: Trained, store: Store) -> pd.DataFrame:
    """Table 4's value under each choice of the random A the paper leaves open
    (``lbsm.sharpness.SUBSPACE_KINDS``), for the first trial of the first network and the first eps:
    one row per kind with SB, LB, their ratio and the paper's values. Same settings as Table 4
    otherwise; solves are cached like Table 4's (the default kind is Table 4's own solve)."""
    P = T.profile
    pairs = [(n, T.pairs[n][0]) for n in T.nets
             if all(r.status == "done" for r in T.pairs[n][0])]
    if not pairs:
        return pd.DataFrame()
    net, (sb, lb) = pairs[0]
    eps = P.sharpness_eps[0]
    ptab = paper.table(4)
    rows = []
    for kind in sharpness.SUBSPACE_KINDS:
        res = {regime: stored.run_sharpness(run, [eps], iters=P.sharpness_iters,
                                                 subset=P.sharpness_examples(net),
                                                 subspace=P.subspace_dim, seed=run.config.seed,
                                                 subspace_kind=kind, start=P.sharpness_start,
                                                 store=store)[eps]
               for regime, run in (("SB", sb), ("LB", lb))}
        row = {"A": kind, "SB": res["SB"]["value"], "LB": res["LB"]["value"]}
        row["LB/SB"] = row["LB"] / row["SB"] if row["SB"] else float("nan")
        for regime, r in res.items():
            row[f"{regime} max f / f(x)"] = r["fmax"] / r["f0"] if r["f0"] else float("nan")
        rows.append(row)
    lab = eps_label(eps)
    df = pd.DataFrame(rows).set_index("A")
    df["paper SB"], df["paper LB"] = ptab.loc[net, f"sb_{lab}"], ptab.loc[net, f"lb_{lab}"]
    df.attrs.update(net=net, eps=eps, seed=sb.config.seed)
    return df


def hessian_values(T: Trained, store: Store) -> pd.DataFrame:
    """Top ``hessian_k`` Hessian eigenvalues and the Hutchinson trace of every final minimizer.

    On the first ``hessian_subset`` training examples, the run's BatchNorm policy, the first
    ``sharpness_seeds`` trials, the profile's ``hessian_nets``; each result is cached in the
    results store (``analyses/hessian``).
    """
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
                    model = run.model("final", restore=True)
                    x, y = run_data(run, "train", P.hessian_subset)
                    top = hessian.top_eigenvalues(model, x, y, k=P.hessian_k, bn=run.config.bn_eval,
                                                   batch_size=run.config.eval_batch_size,
                                                   seed=run.config.seed)
                    tr = hessian.hutchinson_trace(model, x, y, samples=P.hutchinson_samples,
                                                  bn=run.config.bn_eval,
                                                  batch_size=run.config.eval_batch_size,
                                                  seed=run.config.seed)
                    return {"eigenvalues": sorted(map(float, top.values), reverse=True),
                            "hvps": int(top.hvps), "trace": float(tr.mean),
                            "trace_stderr": float(tr.stderr), "seconds": time.perf_counter() - t0}
                r = store.analysis("hessian", params, compute, hessian.VERSION)
                rows.append(dict(net=net, seed=run.config.seed, regime=regime,
                                 **{f"lambda_{i + 1}": v for i, v in enumerate(r["eigenvalues"])},
                                 trace=r["trace"], trace_stderr=r["trace_stderr"], seconds=r["seconds"]))
    return pd.DataFrame(rows)


def interpolation(T: Trained, store: Store, kind: str = "linear", bn: str = "batch") -> pd.DataFrame:
    """Loss and accuracy along the SB-LB path (``lbsm.analyses.landscape``) for every trial of each net.

    The paper plots one "randomly chosen" pair; the figure shows the first trial (lowest seed) and
    says so, the verdict uses every trial (a paired comparison over seeds). ``kind``:
    ``linear`` (Fig. 3) or ``curvilinear`` (Fig. 7); ``profile.alpha_points`` points in [-1, 2], on
    the first ``landscape_subset`` training and test examples, Keras' probability clipping (so the
    loss saturates as in the paper). Each curve is cached in the results store.
    """
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
            df = stored.path_between(sb, lb, kind=kind, points=P.alpha_points, bn=bn,
                                     train_subset=tr, test_subset=te)
            return {"rows": df.to_dict("records")}
        r = store.analysis("interpolation", params, compute, landscape.VERSION)
        frames.append(pd.DataFrame(r["rows"]).assign(net=net, seed=sb.config.seed))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["alpha", "kind", "split", "loss", "accuracy", "bn", "net", "seed"])


def distance_ratios(T: Trained, store: Store) -> pd.DataFrame:
    """||x_s - x0|| / ||x_l - x0|| of every trial (trainable parameters; the paper: 3-10)."""
    rows = []
    r = paper.statement("distance_ratio")
    for net in T.nets:
        names = landscape.trainable_names(models.build(net))
        for sb, lb in T.pairs[net]:
            def compute(sb=sb, lb=lb):
                x0 = sb.state("x0", restore=True)
                final = sb.state("final", restore=True), lb.state("final", restore=True)
                return {"ratio": landscape.distance_ratio(x0, *final, names)}
            ratio = store.analysis("distance", dict(sb=sb.name, lb=lb.name), compute,
                                   landscape.VERSION)["ratio"]
            rows.append(dict(net=net, seed=sb.config.seed, ratio=ratio,
                             in_range=r["low"] <= ratio <= r["high"]))
    return pd.DataFrame(rows, columns=["net", "seed", "ratio", "in_range"])


# --------------------------------------------------------------------------- the chapters' parts
# What the compute step schedules for the gap, interpolation and sharpness chapters: each takes
# the profile, the chapter's runs and the store, and returns what the chapter renders.
def trials(P: profiles.Profile, runs: Runs, store: Store) -> Trained:
    """The trials themselves (Table 2, Fig. 2)."""
    return trained(P, runs)


def linear(P: profiles.Profile, runs: Runs, store: Store) -> pd.DataFrame:
    """Fig. 3 curves of every trial."""
    return interpolation(trained(P, runs), store, "linear", bn=P.landscape_bn)


def curvilinear(P: profiles.Profile, runs: Runs, store: Store) -> pd.DataFrame:
    """Fig. 7 curves of every trial."""
    return interpolation(trained(P, runs), store, "curvilinear", bn=P.landscape_bn)


def distance(P: profiles.Profile, runs: Runs, store: Store) -> pd.DataFrame:
    """The distance ratio of every trial."""
    return distance_ratios(trained(P, runs), store)


def table3(P: profiles.Profile, runs: Runs, store: Store) -> pd.DataFrame:
    """Metric 2.1 in the full space of every final minimizer."""
    return sharpness_values(trained(P, runs), store)


def table4(P: profiles.Profile, runs: Runs, store: Store) -> pd.DataFrame:
    """Metric 2.1 in a random ``subspace_dim``-dimensional subspace."""
    return sharpness_values(trained(P, runs), store, subspace=P.subspace_dim)


def iterations(P: profiles.Profile, runs: Runs, store: Store) -> pd.DataFrame:
    """Table 3 at each of the profile's L-BFGS-B iteration readings (none: an empty frame)."""
    return iteration_readings(trained(P, runs), store)


def kinds(P: profiles.Profile, runs: Runs, store: Store) -> pd.DataFrame:
    """Table 4 under each choice of the random A the paper leaves open."""
    return subspace_kinds(trained(P, runs), store)


def hessian_spectrum(P: profiles.Profile, runs: Runs, store: Store) -> pd.DataFrame:
    """Top Hessian eigenvalues and trace of every final minimizer (not in the paper)."""
    return hessian_values(trained(P, runs), store)
