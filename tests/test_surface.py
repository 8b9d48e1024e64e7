"""lbsm.analyses.surface: filter-normalized directions and the 2-D loss surface, point by point."""
import copy

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lbsm.analyses.landscape import recalibrate_
from lbsm.analyses.surface import directions, loss_surface
from lbsm.core import models

pytestmark = pytest.mark.usefixtures("one_thread")
# an asymmetric grid: a point evaluated at the wrong (a, b) cannot go unnoticed
A = [-1.0, -0.25, 0.0, 0.5]
B = [-0.5, 0.0, 0.75]


def convnet(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 6 * 6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 3))


@pytest.fixture(scope="module")
def problem():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(120, 1, 6, 6, generator=g)
    y = torch.randint(0, 3, (120,), generator=g)
    return recalibrate_(convnet(), x), x, y


def direct(model, x, y, bn, batch_size):
    """Loss and accuracy written out here, independently of the module (plain loop, float64 sum)."""
    total, correct = 0.0, 0
    with torch.no_grad(), models.evaluation(model, bn):
        for i in range(0, len(x), batch_size):
            logits = model(x[i:i + batch_size])
            total += F.cross_entropy(logits, y[i:i + batch_size], reduction="sum").double().item()
            correct += int((logits.argmax(1) == y[i:i + batch_size]).sum())
    return total / len(x), 100.0 * correct / len(x)


@pytest.mark.parametrize("bn", ["batch", "running"])
def test_every_grid_point_is_a_direct_evaluation(problem, bn):
    model, x, y = problem
    before = copy.deepcopy(model.state_dict())
    surf = loss_surface(model, x, y, A, B, seed=5, bn=bn, batch_size=50)
    assert list(surf.columns) == ["a", "b", "loss", "accuracy"] and len(surf) == len(A) * len(B)
    assert list(zip(surf.a, surf.b)) == [(a, b) for a in A for b in B]
    d1, d2 = directions(model, seed=5)
    for row in surf.itertuples():
        net = copy.deepcopy(model)
        net.load_state_dict({k: v + row.a * d1[k] + row.b * d2[k] if k in d1 else v
                             for k, v in model.state_dict().items()})
        loss, acc = direct(net, x, y, bn, 50)
        assert row.loss == pytest.approx(loss, rel=1e-6, abs=1e-9), (row.a, row.b)
        assert row.accuracy == acc
    # the centre is the minimizer's own loss, and the surface is not flat
    centre = surf[(surf.a == 0) & (surf.b == 0)].iloc[0]
    assert centre.loss == pytest.approx(direct(model, x, y, bn, 50)[0], rel=1e-6)
    assert surf.loss.std() > 0.01
    # the weights are back, bit for bit (running statistics never moved)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())


def test_filter_norms_and_zeros(problem):
    model = problem[0]
    for d in directions(model, seed=2):
        assert set(d) == {k for k, _ in model.named_parameters()}
        for k, w in model.named_parameters():
            if w.dim() <= 1:  # biases and BatchNorm gamma/beta
                assert torch.count_nonzero(d[k]) == 0, k
            else:  # rows of Linear weights, output channels of Conv weights
                torch.testing.assert_close(d[k].reshape(len(w), -1).norm(dim=1),
                                           w.detach().reshape(len(w), -1).norm(dim=1), rtol=1e-5, atol=0)
                assert d[k].shape == w.shape


def test_book_networks_directions():
    # F1: 16 of its 22 parameters are 1-D (6 biases, 5 gammas, 5 betas) and are zero; the rows of
    # its Linear weights have their filters' norms. C1 (channels-last conv weights): per output channel.
    model = models.build("F1", seed=0)
    d1, _ = directions(model, seed=0)
    ones = [k for k, w in model.named_parameters() if w.dim() == 1]
    assert len(ones) == 16 and all(torch.count_nonzero(d1[k]) == 0 for k in ones)
    w = model[0].weight.detach()
    torch.testing.assert_close(d1["0.weight"].norm(dim=1), w.norm(dim=1), rtol=1e-5, atol=0)
    conv = models.build("C1", seed=0)
    d1, _ = directions(conv, seed=0)
    w = conv[0].weight.detach()
    torch.testing.assert_close(d1["0.weight"].reshape(64, -1).norm(dim=1), w.reshape(64, -1).norm(dim=1),
                               rtol=1e-5, atol=0)


def test_deterministic_per_seed(problem):
    model, x, y = problem
    a1, b1 = directions(model, seed=3)
    a2, b2 = directions(model, seed=3)
    a3, _ = directions(model, seed=4)
    assert all(torch.equal(a1[k], a2[k]) and torch.equal(b1[k], b2[k]) for k in a1)
    assert not torch.equal(a1["0.weight"], a3["0.weight"])
    assert not torch.equal(a1["0.weight"], b1["0.weight"])  # d2 is a second draw, not a copy
    s1 = loss_surface(model, x, y, [0.0, 1.0], [0.5], seed=3, bn="batch", batch_size=60)
    s2 = loss_surface(model, x, y, [0.0, 1.0], [0.5], seed=3, bn="batch", batch_size=60)
    s3 = loss_surface(model, x, y, [0.0, 1.0], [0.5], seed=4, bn="batch", batch_size=60)
    assert s1.equals(s2) and not np.allclose(s1.loss, s3.loss)


def test_weights_restored_after_an_error(problem):
    model, x, y = problem
    before = copy.deepcopy(model.state_dict())
    with pytest.raises(ValueError, match="BatchNorm policy"):
        loss_surface(model, x, y, [0.5], [0.5], bn="nonsense")
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in before.items())
