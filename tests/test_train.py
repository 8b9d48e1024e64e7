import json
import math

import pandas as pd
import pytest
import torch

from lbsm.train import protocol as train
from lbsm.train.protocol import TrainConfig, fit

SMALL = dict(train_subset=2000, test_subset=1000)


def test_short_f1_training_reaches_90_percent(mnist, store):
    run = fit(TrainConfig("F1", 128, epochs=2, train_subset=5000, test_subset=2000), store,
              dataset=mnist, progress=False)
    assert run.status == "done"
    assert run.final["test_acc"] > 90.0
    assert list(run.history.epoch) == [0, 1, 2]
    assert run.history.train_loss.iloc[-1] < run.history.train_loss.iloc[0]


def test_same_config_same_history(mnist, tmp_path):
    from lbsm.core.store import Store
    cfg = TrainConfig("F1", 100, epochs=2, seed=5, train_subset=600, test_subset=200)
    a = fit(cfg, Store(tmp_path / "a"), dataset=mnist, progress=False)
    b = fit(cfg, Store(tmp_path / "b"), dataset=mnist, progress=False)
    cols = ["train_loss", "train_acc", "test_loss", "test_acc", "minibatch_loss"]
    pd.testing.assert_frame_equal(a.history[cols], b.history[cols])
    for (k, v), w in zip(a.state().items(), b.state().values()):
        assert torch.equal(v, w), k


def test_sb_and_lb_share_x0(mnist, store):
    sb = fit(TrainConfig("F1", 256, epochs=1, seed=2, **SMALL), store, dataset=mnist, progress=False)
    lb = fit(TrainConfig("F1", 200, epochs=1, seed=2, **SMALL), store, dataset=mnist, progress=False)
    assert sb.key != lb.key
    for k in sb.state("x0"):
        assert torch.equal(sb.state("x0")[k], lb.state("x0")[k])


def test_store_round_trip_loads_instead_of_training(mnist, store, monkeypatch):
    cfg = TrainConfig("F1", 500, epochs=1, **SMALL)
    first = fit(cfg, store, dataset=mnist, progress=False)
    files = {p.name for p in first.path.iterdir()}
    assert files == {"config.json", "meta.json", "history.csv"}  # no weights in the published store
    weights = {p.name for p in first.weights.iterdir()}
    assert weights == {"x0.pt", "final.pt"}  # resume.pt is gone once the run is done
    assert json.loads((first.path / "config.json").read_text())["batch_size"] == 500
    monkeypatch.setattr(train, "adam_step", lambda *a: pytest.fail("trained again"))
    again = fit(cfg, store, dataset=mnist, progress=False)
    pd.testing.assert_frame_equal(first.history, again.history)
    assert store.runs().shape[0] == 1


def test_key_covers_the_whole_config():
    base = TrainConfig("F1", 256)
    keys = {base.key, TrainConfig("F1", 257).key, TrainConfig("F1", 256, seed=1).key,
            TrainConfig("F1", 256, epochs=99).key, TrainConfig("F1", 256, bn_eval="running").key,
            TrainConfig("F1", 256, lr=1e-4).key, TrainConfig("C1", 256).key}
    assert len(keys) == 7
    assert TrainConfig("F1", 256).key == base.key


def test_interrupted_run_resumes_to_the_same_result(mnist, tmp_path, monkeypatch):
    from lbsm.core.store import Store
    cfg = TrainConfig("F1", 200, epochs=3, seed=1, train_subset=1000, test_subset=200)
    ref = fit(cfg, Store(tmp_path / "ref"), dataset=mnist, progress=False)

    store = Store(tmp_path / "int")
    calls = {"n": 0}
    real = train.adam_step

    def dies_in_epoch_3(*a):
        calls["n"] += 1
        if calls["n"] > 2 * 5 + 2:  # 5 steps per epoch: die inside the third epoch
            raise KeyboardInterrupt
        return real(*a)
    monkeypatch.setattr(train, "adam_step", dies_in_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        fit(cfg, store, dataset=mnist, progress=False)
    path = store.run_dir("F1", cfg.key)
    assert (store.weights_dir(path.name) / "resume.pt").is_file() and not (path / "meta.json").exists()
    monkeypatch.setattr(train, "adam_step", real)
    resumed = fit(cfg, store, dataset=mnist, progress=False)
    cols = ["epoch", "train_loss", "test_acc", "minibatch_loss"]
    pd.testing.assert_frame_equal(ref.history[cols], resumed.history[cols])
    assert not (store.weights_dir(path.name) / "resume.pt").exists()


def test_damaged_resume_checkpoint_is_set_aside(mnist, store):
    cfg = TrainConfig("F1", 500, epochs=1, **SMALL)
    wdir = store.weights_dir(f"F1-{cfg.key}")
    wdir.mkdir(parents=True)
    (wdir / "resume.pt").write_bytes(b"PK\x03\x04 truncated")
    with pytest.warns(UserWarning, match="resume.pt could not be read"):
        run = fit(cfg, store, dataset=mnist, progress=False)
    assert run.status == "done" and (wdir / "resume.pt.damaged").is_file()


def test_resume_checkpoint_is_never_unpickled(mnist, store, tmp_path):
    """A crafted resume.pt (a pickle that runs code) is refused by weights_only loading."""
    cfg = TrainConfig("F1", 500, epochs=1, **SMALL)
    wdir = store.weights_dir(f"F1-{cfg.key}")
    wdir.mkdir(parents=True)
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))
    torch.save({"model": Evil()}, wdir / "resume.pt")
    with pytest.warns(UserWarning):
        fit(cfg, store, dataset=mnist, progress=False)
    assert not marker.exists()


def test_missing_weights_are_retrained_and_the_deviation_recorded(mnist, store):
    cfg = TrainConfig("F1", 500, epochs=2, precision="fp32", **SMALL)
    run = fit(cfg, store, dataset=mnist, progress=False)
    final = run.state("final")
    import shutil
    shutil.rmtree(run.weights)  # a fresh clone: the published run without its weights
    again = train.Run.load(run.path, store)
    with pytest.raises(train.WeightsMissing, match="never trains"):   # reading a run: no training
        again.model("final")
    assert not run.weights.exists() and not (run.path / "retrained.json").exists()
    for k, v in again.state("final", restore=True).items():  # same machine, same seed: same weights
        assert torch.equal(v, final[k]), k
    rec = json.loads((run.path / "retrained.json").read_text())["records"][-1]
    assert rec["epochs_compared"] == 3 and set(rec["max_abs_deviation"]) == set(train.HISTORY_METRICS)
    assert max(rec["max_abs_deviation"].values()) == 0.0
    pd.testing.assert_frame_equal(again.history, run.history)  # the published history is kept


def test_precision_is_fp32_by_default_and_part_of_the_key(mnist, store):
    from lbsm.core import machine
    run = fit(TrainConfig("F1", 500, epochs=1, **SMALL), store, dataset=mnist, progress=False)
    assert run.config.precision == "fp32" and run.meta["precision"] == "fp32"
    assert json.loads((run.path / "config.json").read_text())["precision"] == "fp32"
    assert TrainConfig("F1", 500, precision="bf16").key != TrainConfig("F1", 500).key
    assert {"device", "cpu", "cpu_flags", "torch", "commit", "wall_seconds", "stopped_by"} <= set(run.meta)
    assert run.meta["stopped_by"] == "epochs"
    with pytest.raises(ValueError, match="unknown precision 'auto'"):
        TrainConfig("F1", 500, precision="auto")
    with pytest.raises(ValueError, match="tf32.*needs a CUDA device"):
        machine.check_precision("tf32", "cpu")


def test_plateau_rule_is_absolute_with_patience():
    from lbsm.train.protocol import plateaued
    h = lambda losses: [{"train_loss": float("nan")}] + [{"train_loss": v} for v in losses]  # noqa: E731
    # LB-like: shrinking by 3 % per epoch from 2.5e-4: under 1e-4 in 5 epochs, so it has ceased
    lb = [2.5e-4 * 0.97 ** i for i in range(12)]
    assert plateaued(h(lb), patience=5, min_delta=1e-4)
    assert not plateaued(h(lb), patience=5, min_delta=1e-6)   # a stricter threshold goes on
    # still falling by more than min_delta within the window: not yet
    assert not plateaued(h([1.0, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]), patience=5, min_delta=1e-4)
    # a noisy SB-like curve whose best is 5 epochs old
    sb = [0.03, 0.02, 0.0057, 0.0099, 0.0104, 0.007, 0.0061, 0.0058]
    assert plateaued(h(sb), patience=5, min_delta=1e-4)
    assert not plateaued(h(sb[:4]), patience=5, min_delta=1e-4)  # too few epochs to tell


def test_plateau_run_records_why_it_stopped(mnist, store):
    cfg = TrainConfig("F1", 500, epochs=2, stop="plateau", patience=1, min_delta=10.0, **SMALL)
    run = fit(cfg, store, dataset=mnist, progress=False)
    assert run.meta["stopped_by"] == "plateau" and run.meta["epochs_run"] == 2
    capped = fit(TrainConfig("F1", 500, epochs=1, stop="plateau", **SMALL), store, dataset=mnist,
                 progress=False)
    assert capped.meta["stopped_by"] == "cap"


def test_diverged_run_is_recorded_not_raised(mnist, store):
    bad = type(mnist)("mnist", torch.full((300, 784), float("nan")), mnist.y_train[:300],
                      mnist.x_test[:100], mnist.y_test[:100], 10)
    run = fit(TrainConfig("F1", 100, epochs=5), store, dataset=bad, progress=False)
    assert run.status == "diverged"
    assert run.meta["epochs_run"] == 1
    assert math.isnan(run.final["minibatch_loss"])
    # a sweep goes on past it and the stored status survives a reload
    assert train.Run.load(run.path).status == "diverged"


def test_plateau_rule():
    h = [{"train_loss": v} for v in [9, 1.0, 0.5, 0.4, 0.4]]  # epoch 0 (x0) does not count
    assert not train.plateaued(h, patience=2, min_delta=1e-3)       # 0.4 beat 0.5 within 2
    assert train.plateaued(h + [{"train_loss": 0.4}], 2, 1e-3)
    assert not train.plateaued(h + [{"train_loss": 0.3}], 2, 1e-3)


def test_plateau_stop_ends_early(mnist, store):
    cfg = TrainConfig("F1", 1000, epochs=50, stop="plateau", patience=1, min_delta=0.5,
                      train_subset=1000, test_subset=100)
    run = fit(cfg, store, dataset=mnist, progress=False)
    assert run.meta["epochs_run"] < 50


def test_bf16_option_trains(mnist, store):
    run = fit(TrainConfig("F1", 256, epochs=1, precision="bf16", **SMALL), store, dataset=mnist,
              progress=False)
    assert run.final["test_acc"] > 85.0


def test_warm_start_from_stored_epoch(mnist, store):
    sb = fit(TrainConfig("F1", 256, epochs=2, checkpoints=True, **SMALL), store, dataset=mnist,
             progress=False)
    assert (sb.weights / "epochs/0002.pt").is_file()
    lb = fit(TrainConfig("F1", 200, epochs=1, init=f"{sb.path.name}@1", **SMALL), store,
             dataset=mnist, progress=False)
    for k, v in sb.state(1).items():
        assert torch.equal(v, lb.state("x0")[k])


def test_lb_batch_is_ten_percent():
    assert train.lb_batch("F1") == 6000 and train.lb_batch("C1") == 5000
    assert train.lb_batch("F2") == 72133 and train.lb_batch("F1", 2000) == 200


@pytest.mark.parametrize("bad, match", [
    (dict(net="F9"), "unknown network"), (dict(stop="never"), "unknown stop rule"),
    (dict(precision="fp8"), "unknown precision"), (dict(bn_eval="x"), "BatchNorm policy")])
def test_config_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**{"net": "F1", "batch_size": 256, **bad})


def test_unknown_method(mnist, store):
    with pytest.raises(ValueError, match="unknown training method"):
        fit(TrainConfig("F1", 256, epochs=1, method="lamb", **SMALL), store, dataset=mnist,
            progress=False)
