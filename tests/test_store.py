"""The results store: one cache rule for analyses, locks, the precisions a run may name."""
import json
import multiprocessing as mp
import time

import pytest

from lbsm.core.store import Store


def test_analysis_is_computed_once_and_served_from_the_store(store):
    calls = []

    def compute():
        calls.append(1)
        return {"value": 3.0}
    params = dict(run="F1-abc", eps=1e-3, iters=10, start="sign")
    assert store.analysis("sharpness", params, compute, version=1) == {"value": 3.0}
    assert store.analysis("sharpness", params, compute, version=1) == {"value": 3.0}
    assert len(calls) == 1
    rec = json.loads(store.analysis_path("sharpness", params, 1).read_text())
    assert rec["params"] == params and rec["version"] == 1
    assert {"device", "torch", "commit", "seconds", "cpu"} <= set(rec["provenance"])


@pytest.mark.parametrize("change", [dict(start="zero"), dict(iters=30), dict(eps=5e-4),
                                    dict(run="F1-def"), dict(subset=1000)])
def test_changing_any_argument_recomputes(store, change):
    calls = []
    params = dict(run="F1-abc", eps=1e-3, iters=10, start="sign", subset=None)
    store.analysis("sharpness", params, lambda: calls.append(1) or {"v": 1}, version=1)
    store.analysis("sharpness", {**params, **change}, lambda: calls.append(1) or {"v": 2}, version=1)
    assert len(calls) == 2


def test_a_new_code_version_recomputes(store):
    params = dict(run="F1-abc")
    assert store.analysis("cone", params, lambda: {"v": 1}, version=1) == {"v": 1}
    assert store.analysis("cone", params, lambda: {"v": 2}, version=2) == {"v": 2}
    assert store.analysis("cone", params, lambda: {"v": 3}, version=1) == {"v": 1}


def test_a_failed_computation_leaves_nothing_behind(store):
    def boom():
        raise RuntimeError("solver died")
    with pytest.raises(RuntimeError):
        store.analysis("hessian", dict(run="x"), boom, version=1)
    assert not store.has_analysis("hessian", dict(run="x"), 1)
    assert store.analysis("hessian", dict(run="x"), lambda: {"ok": True}, version=1) == {"ok": True}


def _slow_analysis(root, out):
    def compute():
        with open(out, "a") as f:
            f.write("computed\n")
        time.sleep(0.5)
        return {"v": 1}
    return Store(root).analysis("hessian", dict(run="shared"), compute, version=1)


def test_concurrent_processes_compute_an_analysis_once(tmp_path):
    out = tmp_path / "log"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_slow_analysis, args=(tmp_path / "r", out)) for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert all(p.exitcode == 0 for p in procs)
    assert out.read_text().count("computed") == 1


def test_weights_live_outside_the_published_tree(tmp_path, monkeypatch):
    from lbsm.cli import located, read_environment
    assert Store(tmp_path / "r").weights_root == tmp_path / "r" / "weights"
    monkeypatch.setenv("LBSM_WEIGHTS", str(tmp_path / "w"))
    assert Store(tmp_path / "r").weights_root == tmp_path / "r" / "weights"  # Store reads no environment
    with located(read_environment()):  # what a command does with $LBSM_WEIGHTS
        assert Store(tmp_path / "r").weights_root == tmp_path / "w"
    assert Store(tmp_path / "r", weights=tmp_path / "v").weights_root == tmp_path / "v"
    assert Store(tmp_path / "r").weights_root == tmp_path / "r" / "weights"  # restored after it


@pytest.mark.parametrize("precision", ["auto", "fp16"])
def test_a_precision_the_protocol_does_not_name_is_refused(precision):
    from lbsm.train.protocol import TrainConfig
    with pytest.raises(ValueError, match=f"precision {precision!r}"):
        TrainConfig("F1", 256, precision=precision)
