"""One compute step for the book: what a chapter needs, runs first and analyses after, as a task
graph on an executor.

    python -m lbsm compute gap --profile cpu                       # in this process
    python -m lbsm compute all --profile cpu --executor dask       # a LocalCluster sized to the machine
    python -m lbsm compute all --executor dask --scheduler tcp://host:8786   # an existing cluster

The graph of a chapter (``graph``): one task per training run (a warm-started run depends on the
run it starts from), then one task per part of the chapter (Table 3, Figure 4, ...), each
depending on every run of the chapter. A part computes its analyses through the results store's
cache (:meth:`lbsm.store.Store.analysis`), so running a part again, or a chapter whose results are
all published, costs file reads. Everything is idempotent and resumable: a run or analysis is
computed once (a lock per key), a killed worker's task is redone by another (Dask's scheduler does
that), and nothing half-written is ever served (atomic writes).

The notebooks call :func:`chapter` (one call per chapter), which computes what is missing in
process and returns every part the chapter renders.
"""
from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..train import ensemble
from ..experiments import results
from ..experiments import sensitivity
from ..train import protocol as train
from ..experiments.profiles import Profile
from ..core.store import Store

EXECUTORS = ("inprocess", "dask")


@dataclass(frozen=True)
class Spec:
    """A chapter: how to build its plan from a profile, the runs it trains, the parts it computes."""
    plan: Callable                      # (Profile, nets) -> the argument of ``runs`` and the parts
    runs: Callable                      # plan -> list[TrainConfig]
    parts: dict[str, Callable] = field(default_factory=dict)  # part name -> plan -> value


def _trials(P: Profile) -> list[train.TrainConfig]:
    return [c for net in P.nets if results.data_ready(results.dataset_of(net))
            for pair in P.trials(net) for c in pair]


def _profile_plan(P: Profile, nets) -> Profile:
    return P


def _sections_plan(chapter: str) -> Callable:
    return lambda P, nets: results.plan(P, chapter, nets=nets)


SPECS: dict[str, Spec] = {
    "intro": Spec(_profile_plan, lambda P: []),
    "setup": Spec(_profile_plan, lambda P: []),
    "gap": Spec(_profile_plan, _trials, {"trained": results.trained}),
    "interpolation": Spec(_profile_plan, _trials, {
        "trained": results.trained,
        "linear": results.part_linear, "curvilinear": results.part_curvilinear,
        "distance": results.part_distance}),
    "sharpness": Spec(_profile_plan, _trials, {
        "trained": results.trained,
        "table3": results.part_table3, "table4": results.part_table4,
        "kinds": results.part_kinds, "hessian": results.part_hessian}),
    "small_batches": Spec(_sections_plan("small_batches"), results.section_configs, {
        "fig4": results.fig4, "fig5": results.fig5, "fig6": results.fig6, "cone": results.cone}),
    "remedies": Spec(_sections_plan("remedies"), results.section_configs, {
        "augmentation": results.part_augmentation, "conservative": results.part_conservative,
        "robust": results.robust, "parametric": results.part_parametric}),
    "sensitivity": Spec(_profile_plan, sensitivity.configs, {
        c: functools.partial(sensitivity.choice, name=c) for c in sensitivity.CHOICES}),
}
CHAPTERS = tuple(SPECS)


def spec(chapter: str) -> Spec:
    if chapter not in SPECS:
        raise ValueError(f"unknown chapter {chapter!r}; choose one of {', '.join(SPECS)} or all")
    return SPECS[chapter]


def graph(chapter: str, plan) -> tuple[dict[str, train.TrainConfig], dict[str, tuple[str, ...]]]:
    """The run tasks of a chapter: {run name: config} and {run name: names it depends on}."""
    cfgs = {c.name: c for c in spec(chapter).runs(plan)}
    deps = {name: tuple(d for d in [c.init.partition("@")[0]] if d in cfgs) if c.init else ()
            for name, c in cfgs.items()}
    return cfgs, deps


def _order(cfgs: dict, deps: dict) -> list[str]:
    """Run names in an order where every run comes after those it depends on."""
    done, out = set(), []

    def visit(n):
        if n not in done:
            done.add(n)
            for d in deps[n]:
                visit(d)
            out.append(n)
    for n in cfgs:
        visit(n)
    return out


# --------------------------------------------------------------------------- executors
def _in_process(chapter: str, plan, store: Store, progress: bool, use_ensemble: bool) -> dict:
    cfgs, deps = graph(chapter, plan)
    missing = [cfgs[n] for n in _order(cfgs, deps)
               if not store.is_finished(store.run_dir(cfgs[n].net, cfgs[n].key))]
    if use_ensemble:  # seeds of one protocol together; the rest (warm starts too) one by one, in order
        ensemble.fit_ensemble(missing, store, progress=progress)
    else:
        train.sweep(missing, store, progress=progress, desc=f"{chapter}: runs")
    with _using(store):  # the parts open Store() themselves, as on a Dask worker
        return {name: fn(plan) for name, fn in spec(chapter).parts.items()}


def _env(store: Store) -> dict:
    """What a worker needs to find the same store and data (they may be other machines)."""
    from ..core.data import data_dir
    return {"LBSM_RESULTS": str(store.root.resolve()), "LBSM_WEIGHTS": str(store.weights_root.resolve()),
            "LBSM_DATA": str(data_dir().resolve())}


@contextlib.contextmanager
def _using(store: Store):
    """Within: every ``Store()`` (the parts, the runs they load) is ``store``, through the same
    environment a Dask worker gets (``_env``); the environment is restored after."""
    env = _env(store)
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _with_env(env: dict, threads: int | None):
    os.environ.update(env)
    if threads:
        import torch
        torch.set_num_threads(threads)


def _run_task(cfg: train.TrainConfig, env: dict, threads: int | None, *after) -> str:
    """Dask task: train one run into the store (or find it there); returns its name."""
    _with_env(env, threads)
    return train.fit(cfg, Store(), progress=False).name


def _part_task(chapter: str, part: str, plan, env: dict, threads: int | None, *after):
    """Dask task: one part of a chapter (its analyses through the store's cache)."""
    _with_env(env, threads)
    return spec(chapter).parts[part](plan)


def _dask(chapter: str, plan, store: Store, client, threads: int | None) -> dict:
    cfgs, deps = graph(chapter, plan)
    env = _env(store)
    futures = {}
    for n in _order(cfgs, deps):
        futures[n] = client.submit(_run_task, cfgs[n], env, threads, *[futures[d] for d in deps[n]],
                                   key=f"run-{n}", pure=False, retries=2)
    runs = list(futures.values())
    parts = {name: client.submit(_part_task, chapter, name, plan, env, threads, *runs,
                                 key=f"{chapter}-{name}-{time.time_ns()}", pure=False, retries=2)
             for name in spec(chapter).parts}
    return dict(zip(parts, client.gather(list(parts.values()))))


def dask_client(scheduler: str | None = None, workers: int | None = None,
                threads_per_worker: int = 1):
    """A ``dask.distributed.Client``: on an existing scheduler, else on a ``LocalCluster`` of
    ``workers`` processes (default: one per core) with ``threads_per_worker`` threads each."""
    from dask.distributed import Client, LocalCluster
    if scheduler:
        return Client(scheduler)
    n = workers or os.cpu_count() or 1
    return Client(LocalCluster(n_workers=n, threads_per_worker=threads_per_worker, processes=True,
                               dashboard_address=None))


@dataclass
class Chapter:
    """What one chapter renders: its plan (a Profile, or a Plan of sections) and its parts."""
    name: str
    plan: object
    parts: dict
    seconds: float

    def __getattr__(self, name):
        parts = self.__dict__.get("parts", {})
        if name in parts:
            return parts[name]
        raise AttributeError(f"chapter {self.__dict__.get('name')!r} has no part {name!r}; "
                             f"it has {', '.join(parts)}")

    @property
    def profile(self) -> Profile:
        return self.plan if isinstance(self.plan, Profile) else self.plan.profile


def compute(chapters, profile: str | Profile = "cpu", executor: str = "inprocess",
            scheduler: str | None = None, workers: int | None = None, threads_per_worker: int = 1,
            nets=None, store: Store | None = None, progress: bool = False,
            use_ensemble: bool | None = None, **overrides) -> dict[str, Chapter]:
    """Compute what ``chapters`` (a name, a list, or ``"all"``) need under ``profile`` (a name or
    a ready Profile; ``nets``/``overrides``: the papermill parameters of ``results.profile``) and
    return each chapter's parts. Runs first, analyses after; ``executor``: ``"inprocess"`` or
    ``"dask"`` (``scheduler``: address of an existing cluster, else a LocalCluster).
    ``use_ensemble``: train the seeds of one protocol together (:mod:`lbsm.ensemble`); default:
    on a GPU, where one small step leaves the device mostly idle."""
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
    names = list(CHAPTERS) if chapters in ("all", None) else (
        [chapters] if isinstance(chapters, str) else list(chapters))
    for n in names:
        spec(n)
    P = profile if isinstance(profile, Profile) else results.profile(profile, nets=nets, **overrides)
    store = store or Store()
    if use_ensemble is None:
        use_ensemble = train.default_device().type == "cuda"
    client = dask_client(scheduler, workers, threads_per_worker) if executor == "dask" else None
    out = {}
    try:
        for n in names:
            t0 = time.perf_counter()
            plan = spec(n).plan(P, nets)
            parts = (_dask(n, plan, store, client, threads_per_worker) if client is not None
                     else _in_process(n, plan, store, progress, use_ensemble))
            out[n] = Chapter(n, plan, parts, time.perf_counter() - t0)
    finally:
        if client is not None:
            cluster = client.cluster
            client.close()
            if cluster is not None and not scheduler:
                cluster.close()
    return out


def chapter(name: str, profile: str = "cpu", nets=None, **overrides) -> Chapter:
    """Everything chapter ``name`` renders, from the results store (computing what is missing
    in this process): the one call each notebook makes."""
    return compute(name, profile, nets=nets, **overrides)[name]
