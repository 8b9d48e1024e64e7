import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from lbsm.train import protocol as train
from lbsm.core.data import Dataset
from lbsm.experiments.stored import interpolate_runs
from lbsm.analyses import landscape
from lbsm.analyses.landscape import (combine, distance_ratio, interpolate,
                            loss_and_accuracy, recalibrate_)

BATCH = 50


pytestmark = pytest.mark.usefixtures("one_thread")


def net(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))


def toy() -> Dataset:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(300, 4, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    return Dataset("toy", x[:200], y[:200], x[200:], y[200:], 3)


def fitted(seed, ds, steps=60):
    """A briefly trained net: distinct weights and running statistics per seed."""
    model = net(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for i in range(steps):
        idx = torch.arange(i * 20, i * 20 + 20) % len(ds.x_train)
        opt.zero_grad()
        nn.functional.cross_entropy(model(ds.x_train[idx]), ds.y_train[idx]).backward()
        opt.step()
    return model


@pytest.mark.parametrize("kind", ["linear", "curvilinear"])
@pytest.mark.parametrize("bn", ["batch", "interpolate"])
def test_endpoints_are_the_two_minimizers(kind, bn):
    ds = toy()
    sb, lb = fitted(0, ds), fitted(1, ds, steps=30)
    df = interpolate(sb, sb.state_dict(), lb.state_dict(), ds, kind=kind, alphas=np.linspace(-1, 2, 7),
                     bn=bn, batch_size=BATCH, prob_clip=None)
    assert len(df) == 14 and set(df.columns) >= {"alpha", "split", "loss", "accuracy", "kind"}
    policy = "batch" if bn == "batch" else "running"
    for alpha, model in ((0.0, sb), (1.0, lb)):
        for split, x, y in (("train", ds.x_train, ds.y_train), ("test", ds.x_test, ds.y_test)):
            row = df[(df.alpha == alpha) & (df.split == split)].iloc[0]
            loss, acc = train.evaluate(model, x, y, batch_size=BATCH, bn=policy)
            assert row.loss == pytest.approx(loss, rel=1e-6, abs=1e-7)
            assert row.accuracy == acc
    inner = df[(df.alpha == 0.5) & (df.split == "train")].loss.item()
    assert inner != pytest.approx(df[(df.alpha == 0.0) & (df.split == "train")].loss.item())


def test_interpolate_policy_never_mixes_integer_buffers():
    ds = toy()
    sb, lb = fitted(0, ds), fitted(1, ds, steps=30)
    s, l = sb.state_dict(), lb.state_dict()
    assert s["1.num_batches_tracked"] != l["1.num_batches_tracked"]
    mid = combine(sb, s, l, 0.5, 0.5, bn="interpolate")
    assert mid["1.num_batches_tracked"] == s["1.num_batches_tracked"]
    assert mid["1.num_batches_tracked"].dtype == torch.int64
    torch.testing.assert_close(mid["1.running_mean"], (s["1.running_mean"] + l["1.running_mean"]) / 2)
    torch.testing.assert_close(mid["0.weight"], (s["0.weight"] + l["0.weight"]) / 2)
    # "batch" leaves the buffers at the SB values; a negative variance is clamped
    assert torch.equal(combine(sb, s, l, 0.5, 0.5, bn="batch")["1.running_mean"], s["1.running_mean"])
    assert (combine(sb, s, l, -1.0, 0.0, bn="interpolate")["1.running_var"] == 0).all()


def test_recalibrate_policy_recomputes_statistics():
    ds = toy()
    sb = fitted(0, ds)
    ref = recalibrate_(copy.deepcopy(sb), ds.x_train, batch_size=BATCH)
    means = torch.stack([ref[0](ds.x_train[i:i + BATCH]).mean(0).detach() for i in range(0, 200, BATCH)])
    torch.testing.assert_close(ref[1].running_mean, means.mean(0))
    df = interpolate(sb, sb.state_dict(), sb.state_dict(), ds, alphas=[0.0], bn="recalibrate",
                     batch_size=BATCH, prob_clip=None)
    loss, _ = train.evaluate(ref, ds.x_train, ds.y_train, batch_size=BATCH, bn="running")
    assert df[df.split == "train"].loss.item() == pytest.approx(loss, rel=1e-6)


def test_prob_clip_saturates_like_keras():
    model = nn.Linear(2, 3)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[100.0, 0], [0, 0], [0, 0]]))
        model.bias.zero_()
    x, y = torch.tensor([[1.0, 0.0], [1.0, 0.0]]), torch.tensor([1, 0])  # one hopeless, one certain
    clipped, acc = loss_and_accuracy(model, x, y, bn="running")
    plain, _ = loss_and_accuracy(model, x, y, bn="running", prob_clip=None)
    assert clipped == pytest.approx((math.log(1e7) + 1e-7) / 2, rel=1e-6)  # ln(1e7) = 16.118
    assert plain == pytest.approx(100 / 2, rel=1e-4) and acc == 50.0


def test_distance_ratio():
    x0 = {"w": torch.zeros(3), "bn.running_mean": torch.full((3,), 100.0)}
    xs = {"w": torch.tensor([3.0, 4.0, 0.0]), "bn.running_mean": torch.zeros(3)}
    xl = {"w": torch.tensor([0.0, 1.0, 0.0]), "bn.running_mean": torch.zeros(3)}
    assert distance_ratio(x0, xs, xl) == pytest.approx(5.0)
    # the distance itself (the chapter "Beyond the paper"'s distance from x0): running stats left out
    assert landscape.distance(x0, xs) == 5.0 and landscape.distance(xs, xl) == pytest.approx(math.sqrt(18))
    assert landscape.distance(x0, xs, names=["bn.running_mean"]) == pytest.approx(100 * math.sqrt(3))
    a, b, c = net(0), net(1), net(2)
    flat = lambda m: torch.cat([p.detach().reshape(-1) for p in m.parameters()])  # noqa: E731
    assert distance_ratio(a, b, c) == pytest.approx(((flat(b) - flat(a)).norm() /
                                                     (flat(c) - flat(a)).norm()).item(), rel=1e-6)


def test_interpolate_stored_runs(mnist, store):
    cfg = dict(epochs=1, seed=3, train_subset=300, test_subset=100, precision="fp32")
    sb = train.fit(train.TrainConfig("F1", 50, **cfg), store, dataset=mnist, progress=False)
    lb = train.fit(train.TrainConfig("F1", 300, **cfg), store, dataset=mnist, progress=False)
    df = interpolate_runs(sb.path.name, lb.key[:10], kind="curvilinear", points=3, bn="batch",
                          results=store.root, device="cpu")
    assert list(df.alpha.unique()) == [-1.0, 0.5, 2.0] and len(df) == 6
    df = interpolate_runs(sb.path.name, lb.path.name, points=4, results=store.root, device="cpu")
    for alpha, run in ((0.0, sb), (1.0, lb)):
        got = df[df.alpha == alpha].set_index("split")
        assert got.loc["train", "loss"] == pytest.approx(run.final["train_loss"], abs=1e-6)
        assert got.loc["test", "accuracy"] == pytest.approx(run.final["test_acc"])
    assert df.attrs["distance_ratio"] > 0
