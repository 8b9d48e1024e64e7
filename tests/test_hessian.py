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
