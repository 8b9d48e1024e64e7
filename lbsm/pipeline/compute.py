"""One compute step for the book: what a chapter needs, runs first and analyses after, as a task
graph on an executor.

    python -m lbsm compute gap --profile cpu                       # in this process
    python -m lbsm compute all --profile cpu --executor dask       # a LocalCluster sized to the machine
    python -m lbsm compute all --executor dask --scheduler tcp://host:8786   # an existing cluster

The graph of a chapter (``graph``): one task per training run (a warm-started run depends on the
run it starts from), then one task per part of the chapter (Table 3, Figure 4, ...), each
depending on every run of the chapter. The chapter's runs are loaded once and handed, with the
store, to every part as arguments: a part is ``fn(plan, runs, store)`` (``runs``: {name: Run}),
never looks a run up by name nor opens a store of its own, and changes none of its inputs. A part
computes its analyses through the results store's cache (:meth:`lbsm.core.store.Store.analysis`),
so running a part again, or a chapter whose results are all published, costs file reads. Everything is idempotent and resumable: a run or analysis is
computed once (a lock per key), a killed worker's task is redone by another (Dask's scheduler does
that), and nothing half-written is ever served (atomic writes).

The notebooks call :func:`chapter` (one call per chapter), which computes what is missing in
process and returns every part the chapter renders.
"""
from __future__ import annotations

import functools
import graphlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType

from ..core import catalog, datadir, memory
from ..core.store import Store
from ..experiments import (appendix_e, beyond, beyond_more, parameters, plans, sections, sensitivity,
                           stop_readings, trials)
from ..experiments.profiles import Profile
from ..train import ensemble
from ..train import protocol as train
from . import datasets

EXECUTORS = ("inprocess", "dask")


@dataclass(frozen=True)
class ChapterDef:
    """A registered chapter's compute half: its plan from a profile, the runs that plan trains, and
    its parts, each a function ``(plan, runs, store) -> value`` of the plan, the chapter's runs
    ({name: Run}, built once) and the store. ``plan`` None: as the catalog's entry says (the
    profile itself, or a plan of sections for a chapter whose runs are ``"sections"``)."""
    configs: Callable                   # plan -> list[TrainConfig]
    parts: dict[str, Callable] = field(default_factory=dict)
    plan: Callable | None = None        # (Profile, nets) -> the plan (a Profile, or a Plan of sections)


def _no_runs(plan) -> list:
    return []


# each chapter of the catalog (lbsm.core.catalog.REGISTRY) that computes, by name: its runs and
# parts (adding a part to a chapter: one entry in its ``parts``)
CHAPTER_DEFS: dict[str, ChapterDef] = {
    "intro": ChapterDef(_no_runs),
    "setup": ChapterDef(_no_runs, {"datasets": datasets.table}),
    "gap": ChapterDef(trials.trial_configs, {"trained": trials.trials,
                                             "stop_readings": stop_readings.frame}),
    "interpolation": ChapterDef(trials.trial_configs, {
        "trained": trials.trials, "linear": trials.linear, "curvilinear": trials.curvilinear,
        "distance": trials.distance}),
    "sharpness": ChapterDef(trials.trial_configs, {
        "trained": trials.trials, "table3": trials.table3, "table4": trials.table4,
        "kinds": trials.kinds, "hessian": trials.hessian_spectrum, "iterations": trials.iterations}),
    "small_batches": ChapterDef(sections.configs, {
        "fig4": sections.fig4, "fig5": sections.fig5, "fig6": sections.fig6, "cone": sections.cone}),
    "remedies": ChapterDef(appendix_e.configs, {
        "augmentation": appendix_e.augmentation, "conservative": appendix_e.conservative,
        "robust": appendix_e.robust, "parametric": appendix_e.parametric}),
    "sensitivity": ChapterDef(sensitivity.configs, {
        c: functools.partial(sensitivity.choice, name=c) for c in sensitivity.CHOICES}),
    "beyond": ChapterDef(beyond.configs, {
        "closing": beyond.closing, "reparam": beyond_more.reparam, "surfaces": beyond_more.surfaces,
        "noise": beyond_more.noise, "correlation": beyond_more.correlation}, plan=beyond.plan),
}

CHAPTERS = catalog.chapters(computed=True)  # the catalog's order


def chapter_def(chapter: str) -> ChapterDef:
    if chapter not in CHAPTER_DEFS or chapter not in catalog.REGISTRY:
        known = [c for c in catalog.REGISTRY if c in CHAPTER_DEFS]
        raise ValueError(f"unknown chapter {chapter!r}; choose one of {', '.join(known)} or all")
    return CHAPTER_DEFS[chapter]


def plan_of(chapter: str, P: Profile, nets=None):
    """Chapter ``chapter``'s plan under ``P``: its own ``plan``, else a plan of sections for a
    chapter the catalog registers with ``runs="sections"``, else the profile itself."""
    d = chapter_def(chapter)
    if d.plan is not None:
        return d.plan(P, nets)
    return plans.plan(P, chapter, nets=nets) if catalog.REGISTRY[chapter].runs == "sections" else P


def graph(chapter: str, plan) -> tuple[dict[str, train.TrainConfig], dict[str, tuple[str, ...]]]:
    """The run tasks of a chapter: {run name: config} and {run name: names it depends on}."""
    cfgs = {c.name: c for c in chapter_def(chapter).configs(plan)}
    deps = {name: tuple(d for d in [c.init.partition("@")[0]] if d in cfgs) if c.init else ()
            for name, c in cfgs.items()}
    return cfgs, deps


def _order(cfgs: dict, deps: dict) -> list[str]:
    """Run names in an order where every run comes after those it depends on."""
    return list(graphlib.TopologicalSorter({n: deps[n] for n in cfgs}).static_order())


# --------------------------------------------------------------------------- executors
def _in_process(chapter: str, plan, store: Store, progress: bool, use_ensemble: bool) -> tuple[dict, dict]:
    cfgs, deps = graph(chapter, plan)
    order = [cfgs[n] for n in _order(cfgs, deps)]
    missing = [c for c in order if not store.is_finished(store.run_dir(c.net, c.key))]
    if use_ensemble:  # seeds of one protocol together; the rest (warm starts too) one by one, in order
        ensemble.fit_ensemble(missing, store, progress=progress)
    else:
        train.sweep(missing, store, progress=progress, desc=f"{chapter}: runs")
    runs = {c.name: train.fit(c, store, progress=False) for c in order}  # each loaded once
    return {name: fn(plan, runs, store) for name, fn in chapter_def(chapter).parts.items()}, runs


def _on_worker(data: str, threads: int | None):
    """A Dask worker (maybe another machine) reads the data sets from the directory its task was
    handed as an argument (``data``: the submitting process's), made the worker's own."""
    datadir.choose_data_dir(data)
    memory.keep_freed_memory()  # a pure performance setting (lbsm.core.memory)
    if threads:
        import torch
        torch.set_num_threads(threads)


def _run_task(cfg: train.TrainConfig, store: Store, data: str, threads: int | None, *after) -> train.Run:
    """Dask task: train one run into the store (or find it there)."""
    _on_worker(data, threads)
    return train.fit(cfg, store, progress=False)


def _part_task(chapter: str, part: str, plan, store: Store, data: str, threads: int | None, *runs):
    """Dask task: one part of a chapter, on the chapter's runs (its analyses through the store's
    cache)."""
    _on_worker(data, threads)
    return chapter_def(chapter).parts[part](plan, {r.name: r for r in runs}, store)


def _dask(chapter: str, plan, store: Store, client, threads: int | None) -> tuple[dict, dict]:
    cfgs, deps = graph(chapter, plan)
    data = str(datadir.data_dir().resolve())  # handed to every task as an argument
    futures = {}
    for n in _order(cfgs, deps):
        futures[n] = client.submit(_run_task, cfgs[n], store, data, threads,
                                   *[futures[d] for d in deps[n]], key=f"run-{n}", pure=False, retries=2)
    runs = list(futures.values())
    parts = {name: client.submit(_part_task, chapter, name, plan, store, data, threads, *runs,
                                 key=f"{chapter}-{name}-{time.time_ns()}", pure=False, retries=2)
             for name in chapter_def(chapter).parts}
    values = client.gather(list(parts.values()) + runs)
    return dict(zip(parts, values)), {r.name: r for r in values[len(parts):]}


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
    """What one chapter renders: its plan (a Profile, or a Plan of sections), its parts, and the
    runs they were computed from ({name: Run}; their provenance and cost go into the captions),
    and ``data_ready``: which data sets the data directory held, md5-checked here ({name: bool},
    :func:`lbsm.pipeline.datasets.ready`), so the report says what is missing without checking."""
    name: str
    plan: object
    parts: dict
    seconds: float
    runs: dict = field(default_factory=dict)
    data_ready: dict = field(default_factory=dict)

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
    a ready Profile; ``nets``/``overrides``: papermill parameters, checked by
    :func:`lbsm.experiments.parameters.override`) and
    return each chapter's parts. Runs first, analyses after; ``executor``: ``"inprocess"`` or
    ``"dask"`` (``scheduler``: address of an existing cluster, else a LocalCluster).
    ``use_ensemble``: train the seeds of one protocol together (:mod:`lbsm.train.ensemble`); default:
    on a GPU, where one small step leaves the device mostly idle."""
    if executor not in EXECUTORS:
        raise ValueError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
    names = list(CHAPTERS) if chapters in ("all", None) else (
        [chapters] if isinstance(chapters, str) else list(chapters))
    for n in names:
        chapter_def(n)
    P = profile if isinstance(profile, Profile) else parameters.override(profile, nets=nets, **overrides)
    store = store or Store()
    if use_ensemble is None:
        use_ensemble = train.default_device().type == "cuda"
    client = dask_client(scheduler, workers, threads_per_worker) if executor == "dask" else None
    out, ready = {}, datasets.ready()
    try:
        for n in names:
            t0 = time.perf_counter()
            plan = plan_of(n, P, nets)
            parts, runs = (_dask(n, plan, store, client, threads_per_worker) if client is not None
                           else _in_process(n, plan, store, progress, use_ensemble))
            out[n] = Chapter(n, plan, parts, time.perf_counter() - t0, runs, ready)
    finally:
        if client is not None:
            cluster = client.cluster
            client.close()
            if cluster is not None and not scheduler:
                cluster.close()
    return out


def chapter(name: str, profile: str = "cpu", nets=None, store: Store | None = None,
            **overrides) -> Chapter:
    """Everything chapter ``name`` renders, from the results store (computing what is missing
    in this process): the one call each notebook makes, with its papermill parameters (an
    unknown one is an error naming the known ones)."""
    return compute(name, profile, nets=nets, store=store, **overrides)[name]


# the names an IPython kernel puts in a notebook's namespace besides the notebook's own
KERNEL_NAMES = {"In", "Out", "get_ipython", "exit", "quit", "open"}


def notebook_parameters(namespace: dict) -> dict:
    """A notebook's papermill parameters: the values its ``parameters`` cell and papermill's
    injected cell defined (every plain variable of ``namespace`` when the chapter's first code
    cell runs, but the results store that cell opened, which it passes as ``store``), so a
    misspelled ``-p`` name reaches :func:`chapter` and is refused there."""
    return {k: v for k, v in namespace.items()
            if not k.startswith("_") and k not in KERNEL_NAMES
            and not isinstance(v, (ModuleType, Store)) and not callable(v)}
