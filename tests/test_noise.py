"""lbsm.analyses.noise: per-example gradients (vmap) and the noise scale B_simple = tr(Sigma) / |G|^2."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lbsm.analyses.landscape import recalibrate_
from lbsm.analyses.noise import noise_scale, noise_scale_from_grads, per_example_grads
from lbsm.core import models

pytestmark = pytest.mark.usefixtures("one_thread")


def softmax_regression(d=5, k=3, n=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    model = nn.Linear(d, k).double()
    with torch.no_grad():
        model.weight.copy_(torch.randn(k, d, generator=g, dtype=torch.float64))
        model.bias.copy_(torch.randn(k, generator=g, dtype=torch.float64))
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    return model, x, torch.randint(0, k, (n,), generator=g)


def test_known_answer_softmax_regression():
    # cross-entropy of logits W x + b: the gradient of example i is (p_i - e_{y_i}) x_i^T for W and
    # p_i - e_{y_i} for b; B_simple = tr(cov(g)) / |mean g|^2 with numpy's n - 1 covariance
    model, x, y = softmax_regression()
    W, b, X, Y = (t.detach().numpy() for t in (model.weight, model.bias, x, y))
    z = X @ W.T + b
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    r = p - np.eye(3)[Y]
    by_hand = np.concatenate([(r[:, :, None] * X[:, None, :]).reshape(len(X), -1), r], axis=1)
    np.testing.assert_allclose(per_example_grads(model, x, y).numpy(), by_hand, rtol=1e-12, atol=1e-14)
    G = by_hand.mean(0)
    trace = np.trace(np.cov(by_hand, rowvar=False))
    res = noise_scale(model, x, y, chunk_size=7)  # chunks of 7, 7, ..., 5
    assert res.n == 40
    assert res.trace_sigma == pytest.approx(trace, rel=1e-12)
    assert res.grad_norm_sq == pytest.approx(G @ G, rel=1e-12)
    assert res.b_simple == pytest.approx(trace / (G @ G), rel=1e-12)
    assert res.grad_norm_sq_unbiased == pytest.approx(G @ G - trace / 40, rel=1e-12)


def test_small_constructed_case():
    # g_1 = (1, 0), g_2 = (3, 0): G = (2, 0), tr Sigma = (1 + 1) / (2 - 1) = 2, B_simple = 2 / 4
    res = noise_scale_from_grads(torch.tensor([[1.0, 0.0], [3.0, 0.0]]))
    assert (res.b_simple, res.trace_sigma, res.grad_norm_sq, res.n) == (0.5, 2.0, 4.0, 2)
    # the same rows in two chunks merge to the same moments
    assert noise_scale_from_grads([torch.tensor([[1.0, 0.0]]), torch.tensor([[3.0, 0.0]])]) == res
    with pytest.raises(ValueError, match="at least 2"):
        noise_scale_from_grads(torch.ones(1, 3))


def test_chunks_do_not_change_the_value():
    g = torch.Generator().manual_seed(1)
    rows = 5 + torch.randn(101, 30, generator=g, dtype=torch.float64)
    whole = noise_scale_from_grads(rows)
    for size in (1, 8, 50):
        part = noise_scale_from_grads(rows[i:i + size] for i in range(0, 101, size))
        assert part.b_simple == pytest.approx(whole.b_simple, rel=1e-12)
    centred = rows - rows.mean(0)
    assert whole.trace_sigma == pytest.approx(float((centred ** 2).sum() / 100), rel=1e-12)


def test_identical_gradients_give_zero():
    # one example repeated: every per-example gradient is the same, so tr Sigma = 0 exactly
    model, x, y = softmax_regression()
    xs, ys = x[:1].repeat(13, 1), y[:1].repeat(13)
    res = noise_scale(model, xs, ys, chunk_size=5)
    assert res.trace_sigma == 0.0 and res.b_simple == 0.0 and res.grad_norm_sq > 0


def bn_net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                         nn.Linear(3 * 5 * 5, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(8, 4))


def loop_grads(model, x, y):
    """Per-example gradients by one backward pass per example, running BN statistics, dropout off."""
    out = []
    with models.evaluation(model, "running"):
        for i in range(len(x)):
            model.zero_grad()
            F.cross_entropy(model(x[i:i + 1]), y[i:i + 1]).backward()
            out.append(torch.cat([p.grad.reshape(-1) for p in model.parameters()]))
    return torch.stack(out)


def test_vmap_equals_a_loop_of_backward_passes():
    g = torch.Generator().manual_seed(2)
    x = torch.randn(24, 1, 5, 5, generator=g)
    y = torch.randint(0, 4, (24,), generator=g)
    model = recalibrate_(bn_net(), x)
    vm = per_example_grads(model, x, y)
    assert vm.shape == (24, sum(p.numel() for p in model.parameters()))
    torch.testing.assert_close(vm, loop_grads(model, x, y), rtol=1e-5, atol=1e-6)
    assert model.training  # the module's own modes are left as they were
    assert noise_scale(model, x, y, chunk_size=10).b_simple == pytest.approx(
        noise_scale_from_grads(loop_grads(model, x, y).double()).b_simple, rel=1e-4)


def test_f1_per_example_gradients():
    # the book's F1 (1.3M parameters): vmap over 3 MNIST-shaped examples matches the loop
    g = torch.Generator().manual_seed(3)
    x, y = torch.randn(3, 784, generator=g), torch.randint(0, 10, (3,), generator=g)
    model = recalibrate_(models.build("F1", seed=0), torch.randn(64, 784, generator=g))
    torch.testing.assert_close(per_example_grads(model, x, y), loop_grads(model, x, y), rtol=1e-4, atol=1e-6)


def test_batch_policy_is_refused():
    model, x, y = softmax_regression()
    with pytest.raises(ValueError, match="running"):
        noise_scale(model, x, y, bn="batch")
