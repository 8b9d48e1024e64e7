import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from lbsm.core import models
from lbsm.analyses.hessian import hutchinson_trace, top_eigenvalues
from lbsm.analyses.sharpness import Objective

N, BATCH = 64, 16  # four evaluation batches: BatchNorm "batch" statistics differ per batch


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(bn: bool, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    layers = [nn.Linear(3, 5)] + ([nn.BatchNorm1d(5)] if bn else []) + [nn.Tanh(), nn.Linear(5, 3)]
    return nn.Sequential(*layers).double()


def data(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(N, 3, generator=g, dtype=torch.float64), torch.randint(0, 3, (N,), generator=g)


def dense_hessian(model, x, y, bn="batch"):
    """The Hessian of the mean loss over the same batches, built independently of lbsm."""
    named = [(k, p) for k, p in model.named_parameters()]
    theta0 = torch.cat([p.detach().reshape(-1) for _, p in named])

    def f(theta):
        params, i = {}, 0
        for k, p in named:
            params[k] = theta[i:i + p.numel()].view(p.shape)
            i += p.numel()
        total = 0
        with models.evaluation(model, bn):
            for j in range(0, N, BATCH):
                total = total + F.cross_entropy(functional_call(model, params, (x[j:j + BATCH],)),
                                                y[j:j + BATCH], reduction="sum")
        return total / N
    return torch.autograd.functional.hessian(f, theta0)


@pytest.mark.parametrize("bn", [True, False])
def test_top_eigenvalues_match_dense_hessian(bn):
    model, (x, y) = tiny(bn), data()
    h = dense_hessian(model, x, y)
    assert torch.allclose(h, h.T, atol=1e-12)
    exact = torch.linalg.eigvalsh(h).flip(0)[:3].numpy()
    spec = top_eigenvalues(model, x, y, k=3, batch_size=BATCH, tol=1e-10)
    np.testing.assert_allclose(spec.values, exact, rtol=1e-4)
    assert list(spec.values) == sorted(spec.values, reverse=True) and spec.hvps > 0
    for lam, v in zip(spec.values, spec.vectors.T):  # and they are eigenpairs of that Hessian
        np.testing.assert_allclose(h.numpy() @ v, lam * v, atol=1e-6)


def test_hvp_matches_dense_hessian_under_running_policy():
    model, (x, y) = tiny(True), data(1)
    with torch.no_grad():  # nontrivial running statistics
        model.train()
        model(x * 2 + 1)
    h = dense_hessian(model, x, y, bn="running")
    v = torch.randn(h.shape[0], dtype=torch.float64)
    torch.testing.assert_close(Objective(model, x, y, "running", BATCH).hvp(v), h @ v)
    assert not torch.allclose(h, dense_hessian(model, x, y, bn="batch"))


def test_hutchinson_trace_close_to_dense_trace():
    model, (x, y) = tiny(True), data(2)
    trace = torch.trace(dense_hessian(model, x, y)).item()
    est = hutchinson_trace(model, x, y, samples=300, batch_size=BATCH, seed=0)
    assert est.samples == 300 and est.stderr > 0
    assert abs(est.mean - trace) < 4 * est.stderr
    assert est.stderr < 0.1 * abs(trace)
    assert hutchinson_trace(model, x, y, samples=5, batch_size=BATCH, seed=3) == \
        hutchinson_trace(model, x, y, samples=5, batch_size=BATCH, seed=3)


# --- H v through train-mode BatchNorm, against references that share no code with lbsm ----------
# The reference f below is the tiny network written out by hand (batch mean and biased variance
# per evaluation batch, as BatchNorm in train mode), so it uses neither models.evaluation,
# nn.BatchNorm1d nor functional_call. Its gradient is plain reverse mode; its Hessian comes from
# torch.autograd.functional.hessian (reverse over reverse). torch.func.jvp(jacrev(...)) is avoided:
# through train-mode BatchNorm it is wrong in torch 2.13, while jvp(grad) and double backward agree.
ACTIVATIONS = {"tanh": (nn.Tanh, torch.tanh), "softplus": (nn.Softplus, F.softplus)}


def smooth_bn_net(act: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 5), nn.BatchNorm1d(5), ACTIVATIONS[act][0](), nn.Linear(5, 3))
    with torch.no_grad():  # BN scale and shift away from their init: every term of H is exercised
        model[1].weight.copy_(1 + 0.3 * torch.randn(5))
        model[1].bias.copy_(0.2 * torch.randn(5))
    return model.double()


def reference_loss(act: str, x, y):
    """f(theta): the mean cross-entropy over batches of BATCH, each normalized by its own statistics."""
    fn = ACTIVATIONS[act][1]
    shapes = [(5, 3), (5,), (5,), (5,), (3, 5), (3,)]  # named_parameters order: 0.w 0.b 1.w 1.b 3.w 3.b

    def f(theta):
        parts, i = [], 0
        for s in shapes:
            parts.append(theta[i:i + math.prod(s)].view(s))
            i += math.prod(s)
        w1, b1, gamma, beta, w2, b2 = parts
        total = 0
        for j in range(0, N, BATCH):
            z = x[j:j + BATCH] @ w1.T + b1
            mean, var = z.mean(0), ((z - z.mean(0)) ** 2).mean(0)
            out = fn((z - mean) / torch.sqrt(var + 1e-5) * gamma + beta) @ w2.T + b2
            total = total - out.log_softmax(1)[torch.arange(len(out)), y[j:j + BATCH]].sum()
        return total / N
    return f


def reference_grad(f, theta):
    theta = theta.detach().clone().requires_grad_(True)
    return torch.autograd.grad(f(theta), theta)[0]


@pytest.mark.parametrize("act", list(ACTIVATIONS))
def test_hvp_through_train_mode_batchnorm_matches_finite_differences_and_dense_hessian(act):
    model, (x, y) = smooth_bn_net(act), data(3)
    buffers = {k: v.clone() for k, v in model.named_buffers()}
    obj = Objective(model, x, y, "batch", BATCH)
    f = reference_loss(act, x, y)
    theta0 = obj.theta0
    # the reference is the same f as lbsm's (value and gradient), at x and away from it
    assert obj.value() == pytest.approx(f(theta0).item(), rel=1e-12)
    g = torch.Generator().manual_seed(4)
    theta1 = theta0 + 0.1 * torch.randn(obj.n, generator=g, dtype=torch.float64)
    f1, g1 = obj.value_and_grad(theta1)
    assert f1 == pytest.approx(f(theta1).item(), rel=1e-12)
    torch.testing.assert_close(g1, reference_grad(f, theta1), rtol=1e-10, atol=1e-12)

    for theta in (theta0, theta1):
        v = torch.randn(obj.n, generator=g, dtype=torch.float64)
        v /= v.norm()
        hv = obj.hvp(v, theta)
        scale = hv.abs().max().item()
        assert scale > 1e-3  # a nontrivial product
        # central differences of the gradient: error O(h^2) (~1e-9 here), round-off ~1e-12
        h = 1e-4
        fd_ref = (reference_grad(f, theta + h * v) - reference_grad(f, theta - h * v)) / (2 * h)
        fd_lbsm = (obj.value_and_grad(theta + h * v)[1] - obj.value_and_grad(theta - h * v)[1]) / (2 * h)
        torch.testing.assert_close(hv, fd_ref, rtol=0, atol=1e-6 * scale)
        torch.testing.assert_close(hv, fd_lbsm, rtol=0, atol=1e-6 * scale)
        # the dense Hessian of the hand-written f, column by column (H e_i = lbsm's H v at v = e_i)
        dense = torch.autograd.functional.hessian(f, theta)
        torch.testing.assert_close(hv, dense @ v, rtol=1e-9, atol=1e-12)
        cols = torch.stack([obj.hvp(e, theta) for e in torch.eye(obj.n, dtype=torch.float64)], 1)
        torch.testing.assert_close(cols, dense, rtol=1e-9, atol=1e-11)
    # the batch statistics are part of f: one batch of all N examples is another function
    assert not torch.allclose(Objective(model, x, y, "batch", N).hvp(v, theta1), hv, atol=1e-6)
    for k, b in model.named_buffers():  # running statistics neither read nor updated
        assert torch.equal(b, buffers[k]), k
    assert model.training and all(m.training for m in model.modules())
