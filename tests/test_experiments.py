"""Section 3 / Appendix C / Appendix E on stored runs, from their typed specs, on a tiny MNIST
subset (the metric itself is tested in tests/test_sharpness.py); the knee, the cone fraction and
Appendix C's model on known answers."""
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from lbsm.analyses import cone, performance
from lbsm.analyses.knee import knee
from lbsm.experiments import appendix_e, sections, stored
from lbsm.experiments.specs import (Fig4Spec, Fig5Spec, Fig6Spec, RemedySpec, RunSettings,
                                   SharpnessSettings)
from lbsm.train import protocol
from lbsm.core import models
from lbsm.core.store import Store
from lbsm.train.protocol import Run, TrainConfig

TINY = RunSettings(train_subset=300, test_subset=200)
SHARP = SharpnessSettings(iters=2, subset=100)


def _have_mnist():
    from lbsm.core import data
    return not data.check("mnist")


needs_mnist = pytest.mark.skipif(not _have_mnist(), reason="MNIST not in $LBSM_DATA")


class FakeSharpness:
    """Records its calls; the value encodes eps and the weights so that rows can be told apart."""

    def __init__(self):
        self.calls = []

    def __call__(self, model, x, y, eps=1e-3, subspace=None, iters=10, bn="batch",
                 batch_size=5000, seed=0, subspace_kind="gaussian", start="sign"):
        self.calls.append(dict(eps=eps, n=len(x), iters=iters, bn=bn))
        w = float(next(model.parameters()).detach().abs().sum())
        return SimpleNamespace(value=eps * 1e3 + w * 1e-9, f0=1.0, fmax=1.0 + eps, eps=eps, p=None,
                               iterations=iters, evaluations=1, seconds=0.0)


def _run_dirs(store):
    return sorted(p.name for p in (store.root / "runs").glob("*"))


def _solves(store):
    return len(list((store.root / "analyses" / "sharpness").glob("*.json")))


def _trained(cfgs, store) -> dict:
    """The runs of ``cfgs`` as the compute step hands them to a part: {name: Run}."""
    return {r.name: r for r in protocol.sweep(list(cfgs), store, device="cpu", progress=False)}


# ----------------------------------------------------------------------------- knee

def test_knee_on_a_synthetic_hinge():
    bs = [100, 250, 500, 1000, 2000, 4000, 8000]
    acc = [80.0 if b <= 1000 else 80 - 3 * math.log2(b / 1000) for b in bs]
    k = knee(bs, acc)
    assert k.batch_size == 1000
    assert k.plateau_acc == pytest.approx(80)
    assert k.slope_per_decade == pytest.approx(-3 * math.log2(10))


def test_knee_with_noise_and_repeats():
    rng = np.random.default_rng(0)
    bs = np.repeat([64, 128, 256, 512, 1024, 2048, 4096], 3)
    acc = np.where(bs <= 256, 78.0, 78 - 2 * np.log2(bs / 256)) + rng.normal(0, 0.1, len(bs))
    assert knee(bs, acc).batch_size == 256


def test_knee_reproduces_the_papers_thresholds():
    c1 = ([100, 250, 500, 750, 1000, 1500, 2000, 3000, 4000, 5000],
          [79.06, 79.22, 77.98, 78.08, 77.78, 77.00, 76.79, 75.94, 76.20, 75.67])
    f2 = ([1500, 5000, 10000, 15000, 20000, 30000, 40000, 50000, 61500],
          [64.11, 63.13, 62.80, 63.08, 62.05, 61.38, 60.23, 60.12, 59.53])
    assert knee(*c1).batch_size == 250
    assert knee(*f2).batch_size == 15000


def test_knee_without_a_drop_and_with_too_few_points():
    k = knee([10, 100, 1000, 10000], [70.0, 70.5, 71.0, 71.2])  # rising: no drop
    assert k.batch_size == 10000 and k.slope_per_decade == 0
    with pytest.raises(ValueError, match="three distinct"):
        knee([10, 100], [1.0, 2.0])


# ----------------------------------------------------------------------------- Appendix C

def test_performance_model_papers_example():
    # f_s = 0.2 and B_s / B_l = 0.1: LB must converge in fewer than half the iterations
    pm = performance.performance_model(i_s=1000, i_l=499, b_s=256, b_l=2560, f_s=0.2)
    assert pm.bound == pytest.approx(0.5) and pm.ratio == pytest.approx(0.499) and pm.lb_faster
    assert not performance.performance_model(1000, 500, 256, 2560, 0.2).lb_faster  # strict inequality
    assert not performance.performance_model(1000, 800, 256, 2560, 0.2).lb_faster
    assert performance.performance_model(1000, 800, 256, 2560, 0.1).lb_faster  # bound 1.0
    with pytest.raises(ValueError):
        performance.performance_model(0, 1, 1, 1, 0.2)


HIST = pd.DataFrame(dict(epoch=[0, 1, 2, 3, 4], test_acc=[10.0, 50.0, 70.0, 69.0, 90.0]))


def test_iterations_to_accuracy_on_a_handmade_history():
    # ceil(1000 / 300) = 4 iterations per epoch; 70% first reached after epoch 2
    assert performance.iterations_to_accuracy(HIST, 70.0, 300, 1000) == 8
    assert performance.iterations_to_accuracy(HIST, 80.0, 300, 1000) == 16
    assert performance.iterations_to_accuracy(HIST, 5.0, 300, 1000) == 0
    assert performance.iterations_to_accuracy(HIST, 95.0, 300, 1000) is None
    assert performance.iterations_to_accuracy(HIST.to_dict("records"), 70.0, 1000, 1000) == 2


def test_compare_iterations_on_two_runs():
    sb = Run(TrainConfig("F1", 256), Path("sb"), HIST, {"n_train": 60000})
    lb_hist = pd.DataFrame(dict(epoch=[0, 1, 2], test_acc=[10.0, 60.0, 85.0]))
    lb = Run(TrainConfig("F1", 6000), Path("lb"), lb_hist, {"n_train": 60000})
    row = stored.compare_iterations(sb, lb, f_s=0.2)
    assert row["target_acc"] == 85.0  # the best accuracy both reach
    assert row["i_s"] == 4 * 235 and row["i_l"] == 2 * 10
    assert row["bound"] == pytest.approx(256 / (0.2 * 6000))
    assert row["lb_faster"] is True


# ----------------------------------------------------------------------------- cone fraction

def _tiny_model():
    torch.manual_seed(0)
    return models.glorot_init_(models.fully_connected(20, 2, 32, 10))


def test_cone_fraction_properties():
    m = _tiny_model()
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(64, 20, generator=g), torch.randint(0, 10, (64,), generator=g)
    before = [p.detach().clone() for p in m.parameters()]
    zero = cone.cone_fraction(m, x, y, directions=5, radius=0.0, threshold=0.5, reference=1.0)
    assert np.all(zero.rises == 0) and zero.fraction == 0.0
    assert cone.cone_fraction(m, x, y, directions=5, radius=0.0, threshold=0.0, reference=1.0).fraction == 1.0
    small = cone.cone_fraction(m, x, y, directions=20, radius=1e-3, reference=1.0, seed=1)
    big = cone.cone_fraction(m, x, y, directions=20, radius=1e-1, reference=1.0, seed=1)
    assert np.abs(big.rises).mean() > 10 * np.abs(small.rises).mean() > 0
    again = cone.cone_fraction(m, x, y, directions=20, radius=1e-3, reference=1.0, seed=1)
    assert np.array_equal(small.rises, again.rises)  # reproducible from the seed
    assert all(torch.equal(a, b) for a, b in zip(before, m.parameters()))  # weights restored
    # the reference comes from the sharpness function at eps = radius when not given
    fake = FakeSharpness()
    res = cone.cone_fraction(m, x, y, directions=3, radius=2e-3, sharpness_fn=fake)
    assert fake.calls[0]["eps"] == 2e-3 and res.reference == pytest.approx(2.0, rel=1e-2)
    assert 0 <= res.fraction <= 1 and len(res.rises) == 3


# ----------------------------------------------------------------------------- sections on MNIST

@needs_mnist
def test_fig4_rows_and_reuse(tmp_path):
    store = Store(tmp_path)
    spec = Fig4Spec("F1", (30, 100, 300), epochs=1, train=TINY, sharpness=SHARP)
    runs = _trained(sections.fig4_configs(spec), store)
    df = sections.fig4_frame(spec, runs, store)
    assert list(df.batch_size) == [30, 100, 300]
    assert {"test_acc", "train_loss", "sharpness_1e-03", "sharpness_5e-04", "status"} <= set(df)
    assert (df.status == "done").all() and (df.epochs_run == 1).all()
    assert (df["sharpness_1e-03"] > 0).all() and _solves(store) == 6
    dirs = _run_dirs(store)
    again = sections.fig4_frame(spec, _trained(sections.fig4_configs(spec), store), store)
    assert _solves(store) == 6 and _run_dirs(store) == dirs  # everything came from the store
    pd.testing.assert_frame_equal(df, again)
    assert knee(df.batch_size, df.test_acc).batch_size in (30, 100, 300)
    with pytest.raises(KeyError, match="not among this chapter's runs"):
        sections.fig4_frame(Fig4Spec("F1", (60,), epochs=1, train=TINY, sharpness=SHARP), runs, store)


@needs_mnist
def test_warm_starts_and_sharpness_along_training(tmp_path):
    store = Store(tmp_path)
    spec = Fig5Spec("F1", sb_epochs=1, lb_epochs=1, train=TINY, sharpness=SHARP)
    cfgs = sections.fig5_configs(spec)
    assert cfgs[0].checkpoints and all(c.init == f"{cfgs[0].name}@{e}" for e, c in enumerate(cfgs[1:]))
    runs = _trained(cfgs, store)
    df = sections.fig5_frame(spec, runs, store)
    assert list(df.sb_epoch) == [0, 1]
    assert (df.lb_batch == 30).all() and (df.sb_batch == 256).all()  # LB = 10% of 300
    assert df.lb_test_acc.notna().all() and df["sharpness_1e-03"].notna().all()
    assert len(_run_dirs(store)) == 3 and _solves(store) == 4
    # the LB run of epoch e started from the SB iterate of epoch e
    sb_run = runs[cfgs[0].name]
    lb_runs = [runs[r] for r in df.run]
    assert df.sb_test_acc.tolist() == sb_run.history.test_acc.tolist()
    for e, lb in zip(df.sb_epoch, lb_runs):
        assert lb.config.init == f"{sb_run.name}@{e}"
        for a, b in zip(lb.state("x0").values(), sb_run.state(int(e)).values()):
            assert torch.equal(a, b)
    # a subset of epochs reuses the same runs and solves
    sub = sections.fig5_frame(Fig5Spec("F1", sb_epochs=1, lb_epochs=1, sb_epoch_subset=(1,),
                                       train=TINY, sharpness=SHARP), runs, store)
    assert list(sub.sb_epoch) == [1] and len(_run_dirs(store)) == 3 and _solves(store) == 4

    # Fig. 6 with the same settings reuses the SB run; LB trains with checkpoints
    spec6 = Fig6Spec("F1", sb_epochs=1, lb_epochs=1, train=TINY, sharpness=SHARP)
    runs6 = _trained(sections.fig6_configs(spec6), store)
    assert sb_run.name in runs6 and len(_run_dirs(store)) == 4
    fig6 = sections.fig6_frame(spec6, runs6, store)
    assert list(fig6.regime) == ["SB"] * 2 + ["LB"] * 2 and list(fig6.epoch) == [0, 1] * 2
    assert fig6.train_loss.notna().all() and (fig6.batch_size == [256] * 2 + [30] * 2).all()
    assert _solves(store) == 4 + 8  # 2 epochs x 2 regimes x 2 eps
    assert fig6.loc[fig6.epoch == 0, "sharpness_1e-03"].nunique() == 1  # both start from x0

    # the cone remark at the final weights of both runs, reference from the (cached) solve
    lb6 = runs6[sections.fig6_configs(spec6)[1].name]
    table = stored.cone_table({"SB": sb_run, "LB": lb6}, directions=4, radius=1e-3, subset=100,
                              sharpness_iters=2, device="cpu", store=store)
    assert len(table) == 8 and set(table.label) == {"SB", "LB"}
    assert table.groupby("label").steep.mean().between(0, 1).all()


def test_sample_epochs():
    assert stored.sample_epochs(4, None) == [0, 1, 2, 3, 4]
    assert stored.sample_epochs(100, 5) == [0, 25, 50, 75, 100]
    assert stored.sample_epochs(3, 10) == [0, 1, 2, 3]
    assert stored.sample_epochs(10, [0, 5, 20]) == [0, 5]


@needs_mnist
def test_remedy_rows(tmp_path):
    store = Store(tmp_path)
    spec = RemedySpec("F1", method="conservative", sb_epochs=1, lb_epochs=1, plain_lb=True,
                      train=TINY, sharpness=SHARP)
    runs = _trained(appendix_e.remedy_configs(spec), store)
    df = appendix_e.remedy_frame(spec, runs, store)
    assert list(df.regime) == ["SB", "LB+remedy", "LB"]
    assert list(df.batch_size) == [256, 30, 30] and list(df.method) == ["adam", "conservative", "adam"]
    assert df.loc[df.regime == "SB", "sharpness_1e-03"].isna().all()
    assert df.loc[df.regime != "SB", "sharpness_1e-03"].notna().all()
    assert runs[df.run[1]].config.method_args == {"lam": 1e-3, "inner_steps": 3}  # stored resolved
    # the SB baseline is the same run as a plain SB trial with these settings
    plain_sb = TrainConfig("F1", 256, epochs=1, train_subset=300, test_subset=200)
    assert store.run_dir("F1", plain_sb.key).name == df.run[0]
    table = stored.summarize(df)
    assert list(table.regime) == ["SB", "LB+remedy", "LB"] and (table.n == 1).all()
    assert {"test_acc_mean", "test_acc_std", "sharpness_1e-03_mean"} <= set(table)
