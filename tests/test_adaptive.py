"""lbsm.analyses.adaptive: closed forms of the worst and average case, rho = 0, positivity at a
minimizer, and invariance under the BatchNorm rescaling that Metric 2.1 is not invariant to."""
import copy

import pytest
import torch
from torch import nn

from lbsm.analyses.adaptive import (adaptive_average_case, adaptive_worst_case, average_case, project,
                                    worst_case)
from lbsm.analyses.reparam import rescale_before_batchnorm
from lbsm.analyses.landscape import recalibrate_

pytestmark = pytest.mark.usefixtures("one_thread")
f64 = torch.float64


def vectors(n=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(n, generator=g, dtype=f64)
    w[3] = 0.0  # a zero weight is never perturbed
    return w, torch.randn(n, generator=g, dtype=f64), g


def linear(gvec, c=0.7):
    return lambda z: ((gvec * z).sum().item() + c, gvec)


@pytest.mark.parametrize("iters", [1, 20])
def test_linear_loss_linf_closed_form(iters):
    # L(w) = g.w: the max over |delta_i| <= rho |w_i| is at delta = rho |w| sign(g), so
    # S_max = rho sum_i |g_i| |w_i|; the first step (size 2 rho, projected) lands on it
    w, gvec, _ = vectors()
    rho = 0.05
    res = worst_case(linear(gvec), w, rho, "inf", iters)
    exact = rho * (gvec.abs() * w.abs()).sum().item()
    assert res.value == pytest.approx(exact, rel=1e-12)
    assert res.f0 == pytest.approx((gvec * w).sum().item() + 0.7, rel=1e-12)
    assert res.u.abs().max() <= rho
    torch.testing.assert_close(res.u * w.abs(), rho * w.abs() * gvec.sign())


def test_linear_loss_l2_closed_form():
    # over ||delta / |w| ||_2 <= rho: delta = |w| u, max of (g |w|).u is rho ||g |w| ||_2
    w, gvec, _ = vectors()
    rho = 0.05
    res = worst_case(linear(gvec), w, rho, "2", iters=10)
    assert res.value == pytest.approx(rho * torch.linalg.vector_norm(gvec * w.abs()).item(), rel=1e-12)
    assert torch.linalg.vector_norm(res.u).item() == pytest.approx(rho, rel=1e-12)


def test_quadratic_linf_closed_form():
    # L(z) = 1/2 sum h_i (z_i - c_i)^2, away from its minimum: the box max moves every coordinate
    # outward, S_max = sum_i h_i ((|w_i - c_i| + rho |w_i|)^2 - (w_i - c_i)^2) / 2
    w, _, g = vectors()
    h = 1 + torch.rand(len(w), generator=g, dtype=f64)
    c = w - (0.5 + torch.rand(len(w), generator=g, dtype=f64)) * torch.sign(torch.randn(len(w), generator=g))
    rho = 0.01
    res = worst_case(lambda z: ((0.5 * h * (z - c) ** 2).sum().item(), h * (z - c)), w, rho, "inf", 20)
    d = (w - c).abs()
    assert res.value == pytest.approx((0.5 * h * ((d + rho * w.abs()) ** 2 - d ** 2)).sum().item(), rel=1e-10)


def test_average_case_quadratic():
    # at the minimizer of L(z) = 1/2 sum h_i (z_i - w_i)^2, L(w + |w| u) - L(w) = 1/2 sum h_i w_i^2 u_i^2
    # with u ~ N(0, rho^2): expectation rho^2 / 2 sum h_i w_i^2; and the estimate is exactly the mean
    # over the draws of torch.Generator().manual_seed(seed)
    w, _, g = vectors()
    h = 1 + torch.rand(len(w), generator=g, dtype=f64)
    rho, samples, seed = 0.1, 2000, 3
    mean, stderr, f0 = average_case(lambda z: (0.5 * h * (z - w) ** 2).sum().item(), w, rho, samples, seed)
    assert f0 == 0.0
    gen = torch.Generator().manual_seed(seed)
    draws = torch.stack([rho * torch.randn(len(w), generator=gen, dtype=f64) for _ in range(samples)])
    by_hand = (0.5 * h * w ** 2 * draws ** 2).sum(1)
    assert mean == pytest.approx(by_hand.mean().item(), rel=1e-12)
    assert stderr == pytest.approx((by_hand.std() / samples ** 0.5).item(), rel=1e-10)
    expected = 0.5 * rho ** 2 * (h * w ** 2).sum().item()
    assert abs(mean - expected) < 4 * stderr and stderr < 0.05 * expected


def test_project():
    u = torch.tensor([3.0, -4.0], dtype=f64)
    torch.testing.assert_close(project(u, 1.0, "inf"), torch.tensor([1.0, -1.0], dtype=f64))
    torch.testing.assert_close(project(u, 1.0, "2"), torch.tensor([0.6, -0.8], dtype=f64))
    torch.testing.assert_close(project(u, 10.0, "2"), u)
    with pytest.raises(ValueError, match="unknown norm"):
        worst_case(linear(u), u, 0.1, "1")


def mlp(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(10, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 32),
                         nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 4)).double()


def convnet(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 6 * 6, 3)).double()


def data(shape=(10,), classes=4, n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, *shape, generator=g, dtype=f64)
    return x, torch.randint(0, classes, (n,), generator=g)


@pytest.fixture(scope="module")
def minimizer():
    """The MLP trained full batch (train-mode BN, i.e. policy "batch") to a small gradient on a
    learnable task; running statistics recomputed at the end."""
    x, _ = data()
    y = (x[:, 0] > 0).long() + 2 * (x[:, 1] > 0).long()
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(300):
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
    return recalibrate_(model, x), x, y


MEASURES = {
    "worst-inf": lambda m, x, y, bn: adaptive_worst_case(m, x, y, rho=0.02, p="inf", iters=10, bn=bn),
    "worst-2": lambda m, x, y, bn: adaptive_worst_case(m, x, y, rho=0.2, p="2", iters=10, bn=bn),
    "average": lambda m, x, y, bn: adaptive_average_case(m, x, y, rho=0.1, samples=20, seed=1, bn=bn),
}


@pytest.mark.parametrize("kind", list(MEASURES))
@pytest.mark.parametrize("bn", ["batch", "running"])
def test_invariant_under_batchnorm_rescaling(minimizer, kind, bn):
    # the rescaled network computes the same function, and every u gives w' + |w'| u =
    # alpha (w + |w| u) on the rescaled layers: same loss along the same path (float64 here; in
    # float32 round-off flips the sign of near-zero gradient entries and the l_inf iterates drift)
    model, x, y = minimizer
    ref = MEASURES[kind](model, x, y, bn)
    assert ref.value > 0
    for alpha, layer in ((0.1, None), (10.0, None), (10.0, 1)):
        res = MEASURES[kind](rescale_before_batchnorm(model, alpha, layer), x, y, bn)
        assert res.value == pytest.approx(ref.value, rel=1e-9), (alpha, layer)
        assert res.f0 == pytest.approx(ref.f0, rel=1e-12)
        assert res.stderr == pytest.approx(ref.stderr, rel=1e-9)


@pytest.mark.parametrize("kind", list(MEASURES))
def test_invariant_on_a_conv_net(kind):
    x, y = data((1, 6, 6), classes=3, n=64, seed=1)
    model = recalibrate_(convnet(), x)
    ref = MEASURES[kind](model, x, y, "running")
    res = MEASURES[kind](rescale_before_batchnorm(model, 0.1), x, y, "running")
    assert res.value == pytest.approx(ref.value, rel=1e-9)


def test_positive_at_a_minimizer(minimizer):
    model, x, y = minimizer
    for kind, measure in MEASURES.items():
        res = measure(model, x, y, "batch")
        assert res.value > 0, kind
        assert res.f0 < 0.1, "the fixture should be near a minimizer"
        if kind == "average":
            assert res.value > 3 * res.stderr


def test_rho_zero_is_zero(minimizer):
    model, x, y = minimizer
    before = copy.deepcopy(model.state_dict())
    assert adaptive_worst_case(model, x, y, rho=0.0).value == 0.0
    assert adaptive_worst_case(model, x, y, rho=0.0, p="2").value == 0.0
    assert adaptive_average_case(model, x, y, rho=0.0, samples=3).value == 0.0
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())  # weights untouched
    with pytest.raises(ValueError):
        adaptive_worst_case(model, x, y, rho=-0.1)
