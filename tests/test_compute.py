"""The compute step: task graph, in-process vs a real Dask LocalCluster, a killed worker."""
import os
import signal
import time

import pandas as pd
import pytest

from lbsm.pipeline import compute
from lbsm.experiments import appendix_e, parameters, plans, sections
from lbsm.train import protocol as train
from lbsm.core import data as lbsm_data
from lbsm.core.store import Store

# a profile small enough for a test: F1, one trial, one epoch each on 1,000 examples
TINY = dict(nets="F1", seeds=1, sb_epochs=1, lb_epochs=1, train_subset=1000, test_subset=500,
            sharpness_iters=2, sharpness_subset=300, precision="fp32")


def test_graph_orders_a_warm_start_after_its_sb_run():
    S = plans.plan(parameters.override("smoke"), "small_batches", nets="F1")
    cfgs, deps = compute.graph("small_batches", S)
    warm = [n for n, c in cfgs.items() if c.init]
    assert warm and all(deps[n] == (cfgs[n].init.partition("@")[0],) for n in warm)
    order = compute._order(cfgs, deps)
    assert all(order.index(deps[n][0]) < order.index(n) for n in warm)
    assert len(cfgs) == len({c.key for c in cfgs.values()})  # a shared run is scheduled once


def test_every_run_a_section_needs_is_in_its_graph(tmp_path):
    """Training exactly the graph's runs leaves nothing for the parts to train."""
    P = parameters.override("smoke")
    for chapter in ("small_batches", "remedies"):
        S = plans.plan(P, chapter)
        names = set(compute.graph(chapter, S)[0])
        for section, specs in S.specs.items():
            for spec in specs:
                cfgs = (sections.cone_configs(spec, P) if section == "cone" else
                        sections.CONFIGS[section](spec) if chapter == "small_batches" else
                        appendix_e.remedy_configs(spec))
                assert cfgs and all(c.name in names for c in cfgs), (chapter, section, spec.net)


def test_unknown_chapter_and_executor_are_refused():
    with pytest.raises(ValueError, match="unknown chapter 'nope'"):
        compute.compute("nope", "smoke")
    with pytest.raises(ValueError, match="unknown executor 'ray'"):
        compute.compute("gap", "smoke", executor="ray")


def test_a_second_compute_serves_everything_from_the_store(mnist, tmp_path, monkeypatch, one_thread):
    store = Store(tmp_path / "r")
    first = compute.compute(["gap", "sharpness"], "smoke", store=store, **TINY)
    monkeypatch.setattr(train, "_train", lambda *a, **k: pytest.fail("trained again"))
    calls = []
    real = Store.analysis

    def counting(self, kind, params, compute_fn, version, device=None):
        return real(self, kind, params, lambda: calls.append(kind) or compute_fn(), version, device)
    monkeypatch.setattr(Store, "analysis", counting)
    again = compute.compute(["gap", "sharpness"], "smoke", store=Store(tmp_path / "r"), **TINY)
    assert calls == []
    pd.testing.assert_frame_equal(first["sharpness"].table3, again["sharpness"].table3)


def test_dask_local_cluster_gives_the_in_process_results(mnist, tmp_path, one_thread):
    local = compute.compute(["gap", "sharpness"], "smoke", store=Store(tmp_path / "a"), **TINY)
    dask = compute.compute(["gap", "sharpness"], "smoke", store=Store(tmp_path / "b"),
                           executor="dask", workers=2, threads_per_worker=1, **TINY)
    for (sb_a, lb_a), (sb_b, lb_b) in zip(local["gap"].trained.pairs["F1"], dask["gap"].trained.pairs["F1"]):
        for a, b in ((sb_a, sb_b), (lb_a, lb_b)):
            assert a.name == b.name
            cols = ["epoch", "train_loss", "train_acc", "test_loss", "test_acc"]
            pd.testing.assert_frame_equal(a.history[cols], b.history[cols], check_exact=False, rtol=1e-5)
    for part in ("table3", "table4"):
        a, b = local["sharpness"].parts[part], dask["sharpness"].parts[part]
        pd.testing.assert_frame_equal(a.drop(columns="seconds"), b.drop(columns="seconds"),
                                      check_exact=False, rtol=1e-4)


def test_a_killed_worker_loses_no_finished_run(mnist, tmp_path):
    """kill -9 of a Dask worker mid-sweep: its task is redone elsewhere, finished runs are kept."""
    store = Store(tmp_path / "r")
    cfgs = [train.TrainConfig("F1", 256, seed=s, epochs=12, train_subset=3000, test_subset=500,
                              precision="fp32") for s in range(4)]
    client = compute.dask_client(workers=2, threads_per_worker=1)
    try:
        data = str(lbsm_data.data_dir())
        futures = [client.submit(compute._run_task, c, store, data, 1, key=f"run-{c.key}", pure=False)
                   for c in cfgs]
        deadline = time.time() + 300
        while not any(f.done() for f in futures) and time.time() < deadline:
            time.sleep(0.2)
        finished = {p.parent.name: p.stat().st_mtime_ns for p in store.root.glob("runs/*/meta.json")}
        assert finished, "no run finished in time"
        # kill -9 the worker that is busy with an unfinished run
        busy = client.processing()
        victim = next(w for w, keys in busy.items() if keys)
        pid = client.run(os.getpid, workers=[victim])[victim]
        os.kill(pid, signal.SIGKILL)
        names = [r.name for r in client.gather(futures)]
    finally:
        cluster = client.cluster
        client.close()
        cluster.close()
    assert sorted(names) == sorted(f"F1-{c.key}" for c in cfgs)
    for name, mtime in finished.items():  # finished before the kill: kept, not trained again
        assert (store.root / "runs" / name / "meta.json").stat().st_mtime_ns == mtime
    for c in cfgs:
        run = train.Run.load(store.run_dir("F1", c.key), store)
        assert run.status == "done" and run.meta["epochs_run"] == 12


def test_compute_into_a_given_store_writes_nothing_elsewhere(mnist, tmp_path, monkeypatch, one_thread):
    """The parts get the store ``compute`` was given, as an argument: none opens a store of its own
    (a ``Store()`` below the compute step fails the test)."""
    from lbsm.core.store import results_dir
    default = results_dir()
    given = Store(tmp_path / "given")
    monkeypatch.setattr(Store, "__init__", lambda *a, **k: pytest.fail("a part opened a store"))
    compute.compute(["gap", "interpolation"], "smoke", store=given, **TINY)
    monkeypatch.undo()
    assert len(list((tmp_path / "given").glob("runs/*/meta.json"))) == 2
    assert list((tmp_path / "given").glob("analyses/interpolation/*.json"))
    assert not default.exists() or not list(default.glob("runs/*"))


def test_parts_change_none_of_their_inputs(mnist, tmp_path, one_thread):
    """A part gets the plan, the runs and the store, and leaves the plan as it found it (under
    Dask a change would be lost and the chapter differ from an in-process one)."""
    import copy
    P = parameters.override("smoke", nets="F1")
    S = plans.plan(P, "small_batches", nets="F1")
    before = copy.deepcopy((S.specs, S.skipped, S.stand_ins))
    out, runs = compute._in_process("small_batches", S, Store(tmp_path / "r"), False, False)
    assert (S.specs, S.skipped, S.stand_ins) == before
    assert set(out) == {"fig4", "fig5", "fig6", "cone"} and all(r.status == "done" for r in runs.values())


def test_notebook_parameters_reach_the_profile_check():
    """A notebook passes every parameter papermill injected: a misspelled one is refused by name."""
    import types
    ns = {"profile": "smoke", "nets": None, "precison": "bf16", "compute": types, "In": [],
          "_i1": "x", "get_ipython": print}
    assert compute.notebook_parameters(ns) == {"profile": "smoke", "nets": None, "precison": "bf16"}
    with pytest.raises(ValueError, match="unknown parameter.*precison.*precision"):
        compute.chapter("gap", **compute.notebook_parameters(ns))
