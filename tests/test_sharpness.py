import io
import warnings
from contextlib import redirect_stdout

import numpy as np
import pytest
import scipy.optimize
import torch
from torch import nn

from lbsm.core import models
from lbsm.train import protocol as train
from lbsm.analyses.sharpness import (Objective, SharpnessResult, Subspace, keskar_sharpness, lbfgsb,
                            maximize_in_box, phi)
from lbsm.experiments.stored import sharpness_of_run


@pytest.fixture(autouse=True)
def _one_thread():
    # tiny tensors: with 2 threads on a busy 2-core machine, OpenMP synchronization dominates
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def quadratic(h: torch.Tensor, c: float):
    """f(z) = 1/2 z^T diag(h) z + c and its gradient."""
    return lambda z: (0.5 * (h * z * z).sum().item() + c, h * z)


def test_quadratic_matches_closed_form():
    # A convex quadratic is maximized over a box at a vertex. We start away from its minimum
    # (at z = 0 the gradient vanishes and L-BFGS-B would stop at once): the max moves every
    # coordinate outward, y_i = sign(x_i) b_i with b_i = eps (|x_i| + 1), so
    # max f = sum_i h_i (|x_i| + b_i)^2 / 2 + c. With b_i small against h_i |x_i| the first
    # projected step already reaches that vertex.
    g = torch.Generator().manual_seed(0)
    n, eps, c = 50, 1e-2, 0.3
    h = 1 + 9 * torch.rand(n, generator=g, dtype=torch.float64)
    x = (0.5 + torch.rand(n, generator=g, dtype=torch.float64)) * torch.sign(torch.randn(n, generator=g))
    box = maximize_in_box(quadratic(h, c), x, eps, start="zero")
    b = eps * (x.abs() + 1)
    fmax = (0.5 * h * (x.abs() + b) ** 2).sum().item() + c
    f0 = (0.5 * h * x * x).sum().item() + c
    assert box.f0 == pytest.approx(f0, rel=1e-12)
    assert box.fmax == pytest.approx(fmax, rel=1e-10)
    np.testing.assert_allclose(box.y, (torch.sign(x) * b).numpy(), rtol=1e-10)
    np.testing.assert_allclose(box.bound, b.numpy(), rtol=1e-12)
    assert phi(box.f0, box.fmax) == pytest.approx((fmax - f0) / (1 + f0) * 100, rel=1e-9)
    assert 1 <= box.iterations <= 10 and box.evaluations >= 2
    # from the first-order vertex the maximum is reached as well, at the price of one evaluation
    signed = maximize_in_box(quadratic(h, c), x, eps, start="sign")
    assert signed.f0 == box.f0 and signed.fmax == pytest.approx(fmax, rel=1e-10)


def test_sign_start_is_the_gradient_vertex():
    # a linear f is maximized over the box exactly at y = b sign(grad f): the first point evaluated
    # after y = 0, whatever L-BFGS-B does afterwards
    w = torch.tensor([1.0, -2.0, 0.5, -0.1], dtype=torch.float64)
    x = torch.tensor([0.3, 0.0, -1.0, 2.0], dtype=torch.float64)
    box = maximize_in_box(lambda z: ((w * z).sum().item(), w), x, 0.1, start="sign")
    b = 0.1 * (x.abs() + 1)
    assert box.fmax == pytest.approx((w * x).sum().item() + (w.abs() * b).sum().item(), rel=1e-12)
    np.testing.assert_allclose(box.y, (torch.sign(w) * b).numpy())
    with pytest.raises(ValueError):
        maximize_in_box(lambda z: (0.0, 0 * z), x, 0.1, start="middle")


@pytest.mark.parametrize("start", ["sign", "zero"])
def test_the_solve_starts_where_the_reading_says(start):
    """The first points the objective sees: y = 0 (f(x), the minimizer itself), then for
    ``start="sign"`` the vertex b sign(grad f) (a start at the opposite vertex, or anywhere else,
    fails here even when L-BFGS-B would end at the same maximum); for ``"zero"`` L-BFGS-B begins at
    y = 0 itself, and its first step is an ascent step inside the box, not a jump to a vertex."""
    w = torch.tensor([1.0, -2.0, 0.5, -0.1], dtype=torch.float64)
    x = torch.tensor([0.3, 0.0, -1.0, 2.0], dtype=torch.float64)
    seen = []

    def f(z):  # near a minimizer: a small gradient (1e-3 w) at x, the box's scale is 0.1
        d = z - x
        seen.append(z.clone())
        return 1e-3 * (w * d).sum().item() + 0.5 * (d * d).sum().item(), 1e-3 * w + d
    maximize_in_box(f, x, 0.1, start=start)
    b = 0.1 * (x.abs() + 1)
    torch.testing.assert_close(seen[0], x, rtol=0, atol=0)
    if start == "sign":
        torch.testing.assert_close(seen[1], x + torch.sign(w) * b, rtol=0, atol=1e-15)
    else:
        step = seen[1] - x
        assert (step * w).sum() > 0 and (step.abs() < b / 10).all()


def test_maximum_stays_in_box_for_concave_function():
    # f = -|z|^2 / 2 is maximal at z = 0: the solver must not wander off, and phi is 0
    g = torch.Generator().manual_seed(1)
    x = torch.rand(20, generator=g, dtype=torch.float64) * 1e-3
    box = maximize_in_box(quadratic(-torch.ones(20, dtype=torch.float64), 0.0), x, 1.0)
    assert np.all(np.abs(box.y) <= box.bound + 1e-15)
    assert box.fmax == pytest.approx(0.0, abs=1e-12)
    assert phi(box.f0, box.fmax) >= 0


def test_identity_subspace_equals_full_space():
    g = torch.Generator().manual_seed(2)
    n = 30
    h = torch.linspace(-2, 5, n, dtype=torch.float64)  # indefinite: an interior, nontrivial problem
    x = torch.randn(n, generator=g, dtype=torch.float64)
    full = maximize_in_box(quadratic(h, 1.0), x, 0.05)
    sub = maximize_in_box(quadratic(h, 1.0), x, 0.05, A=torch.eye(n, dtype=torch.float64))
    assert sub.fmax == full.fmax and sub.f0 == full.f0
    np.testing.assert_array_equal(sub.y, full.y)
    assert (sub.iterations, sub.evaluations) == (full.iterations, full.evaluations)


def _driver_problem(n=40, seed=3):
    rng = np.random.default_rng(seed)
    lb, ub = -rng.uniform(0.1, 1, n), rng.uniform(0.1, 1, n)

    def fun(z):  # nonconvex, bounded below: several iterations with line searches
        return np.sum(np.cos(3 * z) + 0.2 * (z - 0.3) ** 2), -3 * np.sin(3 * z) + 0.4 * (z - 0.3)
    return fun, lb, ub


def check_driver_matches_scipy_minimize():
    """The fast path (SciPy's setulb driven directly) gives scipy.optimize.minimize's iterates.
    It must be the fast path that ran: were lbfgsb to fall back to minimize, comparing it with
    minimize would compare SciPy with itself and could not fail."""
    fun, lb, ub = _driver_problem()
    for iters in (1, 3, 10):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", RuntimeWarning)
            ours = lbfgsb(fun, lb, ub, maxiter=iters)
        why = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
        assert ours.get("path") == "setulb" and not why, \
            f"lbfgsb did not take its fast path (path {ours.get('path')!r}): {why}"
        ref = scipy.optimize.minimize(fun, np.zeros(len(lb)), jac=True, method="L-BFGS-B",
                                      bounds=scipy.optimize.Bounds(lb, ub), options={"maxiter": iters})
        np.testing.assert_array_equal(ours.x, ref.x)
        assert ours.fun == ref.fun and ours.nit == ref.nit and ours.nfev == ref.nfev
        assert ours.message == ref.message and ours.success == ref.success


def test_lbfgsb_driver_matches_scipy_minimize():
    check_driver_matches_scipy_minimize()


def break_fast_path(monkeypatch):
    """Make SciPy's private setulb look like a future one with another signature (what sends
    lbfgsb to its fallback). The stand-in still computes, so scipy.optimize.minimize works."""
    from scipy.optimize import _lbfgsb
    real = _lbfgsb.setulb

    def setulb(*args):
        return real(*args)
    setulb.__doc__ = "setulb(m,x,l,u,nbd,f,g,factr,pgtol,wa,iwa,task,lsave,isave,dsave,maxls,ln_task,new)"
    monkeypatch.setattr(_lbfgsb, "setulb", setulb)


def test_lbfgsb_fallback_warns_and_says_so(monkeypatch):
    fun, lb, ub = _driver_problem()
    normal = lbfgsb(fun, lb, ub, maxiter=3)
    assert normal.path == "setulb"  # the normal path is the fast one
    break_fast_path(monkeypatch)
    with pytest.warns(RuntimeWarning, match=r"falls back to scipy\.optimize\.minimize: .*signature"):
        res = lbfgsb(fun, lb, ub, maxiter=3)
    assert res.path == "minimize"
    np.testing.assert_array_equal(res.x, normal.x)  # the same iterates, the slow way
    assert res.nit == normal.nit and res.nfev == normal.nfev
    # and the comparison test notices a fallback instead of comparing SciPy with itself
    with pytest.raises(AssertionError, match="did not take its fast path"):
        check_driver_matches_scipy_minimize()


def test_qr_pseudo_inverse_equals_numpy_pinv():
    rng = np.random.default_rng(4)
    a, x = rng.standard_normal((40, 6)), rng.standard_normal(40)
    sub = Subspace.from_matrix(torch.from_numpy(a))
    np.testing.assert_allclose(sub.pinv(torch.from_numpy(x)).numpy(), np.linalg.pinv(a) @ x,
                               rtol=1e-10, atol=1e-12)
    # the random matrix, in several row chunks (tall-skinny QR), cached or regenerated
    xr = torch.from_numpy(rng.standard_normal(1000))
    for cache in (2 << 30, 0):
        r = Subspace.random(1000, 7, seed=5, kind="gaussian-unit", chunk_rows=128, cache_bytes=cache)
        dense = r.dense().numpy()
        np.testing.assert_allclose(np.linalg.norm(dense, axis=0), 1.0, rtol=1e-12)
        np.testing.assert_allclose(r.pinv(xr).numpy(), np.linalg.pinv(dense) @ xr.numpy(), rtol=1e-9)
        y = torch.from_numpy(rng.standard_normal(7))
        np.testing.assert_allclose(r.matvec(y).numpy(), dense @ y.numpy(), rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(r.rmatvec(xr).numpy(), dense.T @ xr.numpy(), rtol=1e-5, atol=1e-6)
    a1 = Subspace.random(1000, 7, seed=5, chunk_rows=128).dense()
    a2 = Subspace.random(1000, 7, seed=5, chunk_rows=128, cache_bytes=0).dense()
    assert torch.equal(a1, a2)
    assert not torch.equal(a1, Subspace.random(1000, 7, seed=6, chunk_rows=128).dense())
    uni = Subspace.random(1000, 7, seed=5, kind="uniform-unit").dense()
    assert (uni >= 0).all() and torch.allclose(uni.norm(dim=0), torch.ones(7, dtype=torch.float64))


def test_subspace_kinds_scale_and_distribution():
    # the default: raw N(0, 1) entries, columns of norm ~ sqrt(n); unit kinds: the same
    # directions scaled to norm 1; uniform: entries in [0, 1), mean 1/2
    n, p = 20000, 5
    raw = Subspace.random(n, p, seed=1).dense()
    unit = Subspace.random(n, p, seed=1, kind="gaussian-unit").dense()
    np.testing.assert_allclose(raw.norm(dim=0).numpy() / np.sqrt(n), 1.0, atol=0.03)
    np.testing.assert_allclose(unit.numpy(), (raw / raw.norm(dim=0)).numpy(), rtol=1e-6, atol=1e-9)
    uni = Subspace.random(n, p, seed=1, kind="uniform").dense()
    assert (uni >= 0).all() and (uni < 1).all() and abs(uni.mean().item() - 0.5) < 0.01
    with pytest.raises(ValueError, match="unknown subspace kind 'cauchy'"):
        Subspace.random(n, p, kind="cauchy")


def tiny_net(seed=0, bn=True):
    torch.manual_seed(seed)
    layers = [nn.Linear(4, 16)] + ([nn.BatchNorm1d(16)] if bn else []) + [nn.ReLU(), nn.Linear(16, 3)]
    return nn.Sequential(*layers)


def toy_data(n=300, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0.5).long()
    return x, y


def trained_tiny(steps=300):
    model, (x, y) = tiny_net(), toy_data()
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for i in range(steps):
        idx = torch.arange(i * 32, i * 32 + 32) % len(x)
        opt.zero_grad()
        nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
        opt.step()
    return model, x, y


def test_objective_matches_evaluate_and_autograd():
    model, x, y = trained_tiny(50)
    obj = Objective(model, x, y, bn="batch", batch_size=128)
    f, g = obj.value_and_grad()
    assert f == pytest.approx(train.evaluate(model, x, y, batch_size=128, bn="batch")[0], rel=1e-6)
    assert obj.value() == pytest.approx(f, rel=1e-12)
    # the same gradient from plain autograd on the module, batch by batch
    model.zero_grad()
    with models.evaluation(model, "batch"):
        for i in range(0, len(x), 128):
            (nn.functional.cross_entropy(model(x[i:i + 128]), y[i:i + 128], reduction="sum")
             / len(x)).backward()
    ref = torch.cat([p.grad.reshape(-1) for p in model.parameters()]).double()
    torch.testing.assert_close(g, ref, rtol=1e-5, atol=1e-7)
    assert g.dtype == torch.float64 and obj.n == sum(p.numel() for p in model.parameters())
    # buffers untouched by evaluation under the batch policy
    before = {k: v.clone() for k, v in model.state_dict().items()}
    obj.value_and_grad(obj.theta0 + 0.1)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k]), k


def test_sharpness_of_trained_model_nonnegative_with_diagnostics():
    model, x, y = trained_tiny()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    res = keskar_sharpness(model, x, y, eps=1e-3, batch_size=100)
    assert isinstance(res, SharpnessResult)
    assert res.value >= 0 and res.fmax >= res.f0 > 0
    assert res.value == pytest.approx((res.fmax - res.f0) / (1 + res.f0) * 100)
    assert res.p is None and res.eps == 1e-3 and res.n == 163 and res.examples == 300
    assert 1 <= res.iterations <= 10 and res.evaluations >= res.iterations and res.seconds > 0
    assert "sharpness" in str(res) and "full space" in str(res)
    big = keskar_sharpness(model, x, y, eps=1e-2, batch_size=100)
    assert big.value > res.value  # a larger box cannot lower the maximum found (here it raises it)
    sub = keskar_sharpness(model, x, y, eps=1e-3, subspace=10, batch_size=100, seed=1)
    assert sub.p == 10 and sub.value >= 0 and sub.f0 == res.f0
    for k, v in model.state_dict().items():  # the model's weights and buffers are left as they were
        assert torch.equal(v, state[k]), k


def test_sharpness_of_stored_run_via_cli(mnist, store):
    from lbsm import cli
    run = train.fit(train.TrainConfig("F1", 100, epochs=1, train_subset=300, test_subset=100),
                    store, dataset=mnist, progress=False)
    res = sharpness_of_run(run.path.name, eps=1e-3, iters=3, train_subset=200, results=store.root,
                           device="cpu")
    assert res.examples == 200 and res.iterations <= 3 and res.value >= 0
    assert res.f0 == pytest.approx(train.evaluate(run.model("final", "cpu"), mnist.x_train[:200],
                                                  mnist.y_train[:200])[0], rel=1e-6)
    out = io.StringIO()
    with redirect_stdout(out):
        rc = cli.main(["sharpness", run.key[:8], "--results", str(store.root), "--subset", "200",
                       "--iters", "3", "--device", "cpu"])
    assert rc == 0 and f"{res.value:.4f}" in out.getvalue()


@pytest.mark.parametrize("profile, start", [("cpu", "sign"), ("cpu-v2", "zero")])
def test_each_profile_solves_from_its_own_start(profile, start, monkeypatch):
    """Tables 3 and 4 hand Metric 2.1 the profile's L-BFGS-B start (``cpu``: the gradient-sign
    vertex, the earlier reading; ``cpu-v2``: y = 0, the adopted one): a solve from another start
    fails here before any number is computed."""
    from types import SimpleNamespace

    from lbsm.experiments import profiles, stored, trials
    P = profiles.get(profile)
    seen = []

    def solve(run, eps, **kw):
        seen.append(kw["start"])
        return {e: dict(value=1.0, f0=0.1, fmax=0.2, iterations=10, evaluations=12, seconds=0.0)
                for e in eps}
    monkeypatch.setattr(stored, "run_sharpness", solve)
    run = SimpleNamespace(status="done", config=SimpleNamespace(seed=0))
    T = trials.Trained(P, pairs={"F1": [(run, run)]})
    for subspace in (None, P.subspace_dim):
        trials.sharpness_values(T, store=None, subspace=subspace)
    assert seen == [start] * 4 and P.sharpness_start == start
