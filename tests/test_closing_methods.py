"""What closes the gap (lbsm.train.closing): SAM, ASAM, ghost batch normalization and learning-rate
scaling with warm-up, against known answers: the degenerate settings are plain ADAM bit for bit, the
perturbation and the ghost statistics equal a hand computation, the schedule equals its formula and
survives a resume."""
from __future__ import annotations

import copy
import math

import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lbsm.train import protocol as train
from lbsm.core import models
from lbsm.train import closing, remedies
from lbsm.train.config import TrainConfig
from lbsm.train.protocol import adam_step, fit
from lbsm.train.remedies import resolve_args

D_IN = 40


def _problem(n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, D_IN, generator=g), torch.randint(0, 10, (n,), generator=g)


def _model_opt(seed=0, dropout=False):
    torch.manual_seed(seed)
    if dropout:
        m = models.glorot_init_(nn.Sequential(*models.dense_bn_relu(D_IN, 64), nn.Dropout(0.5),
                                              nn.Linear(64, 10)))
    else:
        m = models.glorot_init_(models.fully_connected(D_IN, 2, 64, 10))
    m.train()
    return m, torch.optim.Adam(m.parameters(), lr=1e-3)


def _twin(m):
    m2 = copy.deepcopy(m)
    return m2, torch.optim.Adam(m2.parameters(), lr=1e-3)


def _assert_same_state(m1, m2):
    for (k, a), b in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(a, b), k


def _same_as_adam(method, method_args, batch=32, steps=3, dropout=False):
    """``steps`` steps of ``method`` and of plain ADAM from the same weights and generator state
    leave the same weights, buffers, losses and generator state, bit for bit."""
    xb, yb = _problem(batch)
    m1, o1 = _model_opt(dropout=dropout)
    m2, o2 = _twin(m1)
    cfg = TrainConfig("F1", batch, method=method, method_args=method_args)
    step = train.step_function(method)
    for i in range(steps):
        torch.manual_seed(100 + i)
        loss = step(m1, o1, xb, yb, cfg)
        rng = torch.get_rng_state()
        torch.manual_seed(100 + i)
        ref = adam_step(m2, o2, xb, yb, TrainConfig("F1", batch))
        assert torch.equal(loss, ref)
        assert torch.equal(rng, torch.get_rng_state())  # same random numbers drawn
    _assert_same_state(m1, m2)


# ----------------------------------------------------------------------------- registry, arguments

def test_methods_are_registered_with_recorded_defaults():
    assert {"sam", "asam", "ghost", "scaled"} <= set(remedies.METHODS)
    assert train.step_function("sam") is closing.sam_step
    assert train.step_function("scaled") is closing.scaled_step
    assert resolve_args("sam", "F1") == {"rho": 0.05}
    assert resolve_args("asam", "C1") == {"rho": 0.5, "eta": 0.01}
    assert resolve_args("ghost", "C1") == {"ghost": 256}
    assert resolve_args("scaled", "F1") == {"rule": "linear", "base_batch": 256, "warmup_epochs": 5.0}
    # one type per number: the same run has one key
    assert resolve_args("sam", "F1", {"rho": 1}) == resolve_args("sam", "F1", {"rho": 1.0})
    assert resolve_args("ghost", "F1", {"ghost": 128.0}) == {"ghost": 128}
    with pytest.raises(ValueError, match="unknown argument"):
        resolve_args("sam", "F1", {"radius": 0.1})
    with pytest.raises(ValueError, match="rule"):
        resolve_args("scaled", "F1", {"rule": "square"})
    for bad in (0, 1.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            resolve_args("ghost", "F1", {"ghost": bad})
    with pytest.raises(ValueError, match=">= 0"):
        resolve_args("sam", "F1", {"rho": -0.1})


# ----------------------------------------------------------------------------- SAM, ASAM

@pytest.mark.parametrize("method", ["sam", "asam"])
@pytest.mark.parametrize("dropout", [False, True])
def test_rho_zero_is_plain_adam_bit_for_bit(method, dropout):
    _same_as_adam(method, {"rho": 0.0}, dropout=dropout)


class _Quadratic(nn.Module):
    """L(w, b) = 1/2 [w; b]^T A [w; b] - c^T [w; b], parameters named like a layer's."""

    def __init__(self, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.weight = nn.Parameter(torch.randn(5, generator=g, dtype=torch.float64))
        self.bias = nn.Parameter(torch.randn(2, generator=g, dtype=torch.float64))
        r = torch.randn(7, 7, generator=g, dtype=torch.float64)
        self.A = r @ r.T + torch.eye(7, dtype=torch.float64)
        self.c = torch.randn(7, generator=g, dtype=torch.float64)

    def loss(self, v=None):
        v = torch.cat([self.weight, self.bias]) if v is None else v
        return 0.5 * v @ self.A @ v - self.c @ v

    def grad(self, v):
        return self.A @ v - self.c


def test_sam_gradient_on_a_quadratic_is_the_gradient_at_the_hand_ascent_point():
    q = _Quadratic()
    v = torch.cat([q.weight, q.bias]).detach().clone()
    rho = 0.3
    g = q.grad(v)
    expected = q.grad(v + rho * g / g.norm())
    loss = closing.sam_gradient(q, q.loss, rho)
    got = torch.cat([q.weight.grad, q.bias.grad])
    assert torch.allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert torch.equal(torch.cat([q.weight, q.bias]).detach(), v)  # w restored exactly
    assert loss.item() == pytest.approx(q.loss(v).item(), rel=1e-12)
    assert not torch.allclose(got, g)


def test_asam_gradient_on_a_quadratic_uses_the_weight_normalized_ascent():
    q = _Quadratic(seed=1)
    v = torch.cat([q.weight, q.bias]).detach().clone()
    rho, eta = 0.5, 0.01
    g = q.grad(v)
    # T_w = |w| + eta on the weights, 1 on the biases (the authors' code)
    t = torch.cat([v[:5].abs() + eta, torch.ones(2, dtype=torch.float64)])
    delta = rho * t ** 2 * g / (t * g).norm()
    expected = q.grad(v + delta)
    closing.sam_gradient(q, q.loss, rho, eta)
    got = torch.cat([q.weight.grad, q.bias.grad])
    assert torch.allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert torch.equal(torch.cat([q.weight, q.bias]).detach(), v)
    # not SAM's ascent point
    plain = q.grad(v + rho * g / g.norm())
    assert not torch.allclose(expected, plain)


def test_zero_gradient_gives_no_perturbation():
    p = nn.Parameter(torch.ones(3))
    p.grad = torch.zeros(3)
    (e,) = closing.perturbation([("weight", p)], 0.05)
    assert torch.equal(e, torch.zeros(3))


def test_sam_gradient_of_a_network_is_the_hand_gradient_at_the_ascent_point():
    xb, yb = _problem(64)
    m1, _ = _model_opt()
    probe = copy.deepcopy(m1)
    rho = 0.2
    closing.sam_gradient(m1, lambda: F.cross_entropy(m1(xb), yb), rho)
    grads = torch.autograd.grad(F.cross_entropy(probe(xb), yb), list(probe.parameters()))
    norm = torch.sqrt(sum((g ** 2).sum() for g in grads))
    with torch.no_grad():
        for p, g in zip(probe.parameters(), grads):
            p.add_(rho * g / norm)
    at_ascent = torch.autograd.grad(F.cross_entropy(probe(xb), yb), list(probe.parameters()))
    for (k, p), g in zip(m1.named_parameters(), at_ascent):
        assert torch.allclose(p.grad, g, rtol=1e-4, atol=1e-7), k
    assert any(not torch.allclose(a, b, atol=1e-6) for a, b in zip(grads, at_ascent))


def test_sam_step_is_one_adam_step_with_that_gradient_and_updates_bn_once():
    xb, yb = _problem(64)
    m1, o1 = _model_opt()
    m2, o2 = _twin(m1)       # sam_gradient, then ADAM
    m3, o3 = _twin(m1)       # plain ADAM: the BatchNorm buffers after one pass at w
    cfg = TrainConfig("F1", 64, method="sam", method_args={"rho": 0.2})
    for _ in range(2):
        closing.sam_step(m1, o1, xb, yb, cfg)
        o2.zero_grad(set_to_none=True)
        closing.sam_gradient(m2, lambda: F.cross_entropy(m2(xb), yb), 0.2)
        o2.step()
    _assert_same_state(m1, m2)
    assert o1.state_dict()["state"][0]["step"] == 2  # one ADAM step per SAM step
    adam_step(m3, o3, xb, yb, TrainConfig("F1", 64))
    m1, o1 = _model_opt()
    closing.sam_step(m1, o1, xb, yb, cfg)
    # running statistics: one update, from the pass at w (the same as plain ADAM's)
    for (k, a), b in zip(m1.named_buffers(), m3.buffers()):
        assert torch.equal(a, b), k
    assert all(int(bn.num_batches_tracked) == 1 for bn in models.batchnorms(m1))
    # and the step is not plain ADAM's
    assert any(not torch.allclose(a, b) for a, b in zip(m1.parameters(), m3.parameters()))


def test_sam_returns_the_loss_at_w():
    xb, yb = _problem(32)
    m1, o1 = _model_opt()
    m2, _ = _twin(m1)
    loss = closing.sam_step(m1, o1, xb, yb, TrainConfig("F1", 32, method="sam"))
    assert torch.equal(loss, F.cross_entropy(m2(xb), yb).detach())


# ----------------------------------------------------------------------------- ghost batch norm

def test_ghost_sizes():
    assert closing.ghost_sizes(10, 4) == [4, 4, 2]
    assert closing.ghost_sizes(9, 4) == [4, 5]      # one example left over joins the last chunk
    assert closing.ghost_sizes(8, 4) == [4, 4]
    assert closing.ghost_sizes(3, 4) == [3]
    assert closing.ghost_sizes(5000, 256) == [256] * 19 + [136]


@pytest.mark.parametrize("ghost", [32, 256])
def test_ghost_at_least_the_batch_is_plain_adam_bit_for_bit(ghost):
    _same_as_adam("ghost", {"ghost": ghost}, batch=32)
    _same_as_adam("ghost", {"ghost": ghost}, batch=32, dropout=True)


def _tiny(seed=0):
    """Linear (no bias: before a BatchNorm its gradient is rounding noise, which ADAM's first step
    would blow up to +-lr) -> BatchNorm -> ReLU -> Linear."""
    torch.manual_seed(seed)
    m = nn.Sequential(nn.Linear(3, 4, bias=False), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 2))
    with torch.no_grad():  # gamma, beta away from 1, 0 so that they matter
        m[1].weight.uniform_(0.5, 1.5)
        m[1].bias.uniform_(-0.5, 0.5)
    return m.train()


def _hand_forward(m, x, sizes):
    """Each chunk normalized by its own biased batch statistics, by hand; also the chunks' means
    and unbiased variances, the ones the running statistics are updated with."""
    lin, bn, _, out = m
    outs, stats = [], []
    for c in x.split(sizes):
        z = c @ lin.weight.T
        mu, var = z.mean(0), z.var(0, unbiased=False)
        h = torch.relu((z - mu) / torch.sqrt(var + bn.eps) * bn.weight + bn.bias)
        outs.append(h @ out.weight.T + out.bias)
        stats.append((mu.detach(), z.var(0, unbiased=True).detach()))
    return torch.cat(outs), stats


def test_ghost_batches_use_their_own_statistics_against_a_hand_computation():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(8, 3, generator=g)
    m = _tiny()
    hand_model = copy.deepcopy(m)
    logits = closing.ghost_forward(m, x, 4)
    hand, stats = _hand_forward(hand_model, x, [4, 4])
    assert torch.allclose(logits, hand, rtol=1e-5, atol=1e-6)
    whole, _ = _hand_forward(hand_model, x, [8])
    assert not torch.allclose(logits, whole, atol=1e-3)  # not the whole batch's statistics
    # running statistics: updated once per ghost batch, in order (momentum 0.1)
    bn, mom = m[1], m[1].momentum
    rm, rv = torch.zeros(4), torch.ones(4)
    for mu, var in stats:
        rm, rv = (1 - mom) * rm + mom * mu, (1 - mom) * rv + mom * var
    assert torch.allclose(bn.running_mean, rm, atol=1e-6)
    assert torch.allclose(bn.running_var, rv, atol=1e-6)
    assert int(bn.num_batches_tracked) == 2


def test_ghost_step_is_one_adam_step_on_the_mean_loss_of_the_ghost_forward():
    g = torch.Generator().manual_seed(4)
    x, y = torch.randn(8, 3, generator=g), torch.randint(0, 2, (8,), generator=g)
    m1 = _tiny()
    m2 = copy.deepcopy(m1)
    o1, o2 = torch.optim.Adam(m1.parameters(), lr=1e-2), torch.optim.Adam(m2.parameters(), lr=1e-2)
    cfg = TrainConfig("F1", 8, method="ghost", method_args={"ghost": 4})
    loss = closing.ghost_step(m1, o1, x, y, cfg)
    hand, _ = _hand_forward(m2, x, [4, 4])
    ref = F.cross_entropy(hand, y)  # the mean over all 8 examples
    ref.backward()
    for (k, a), b in zip(m1.named_parameters(), m2.parameters()):
        assert torch.allclose(a.grad, b.grad, rtol=1e-5, atol=1e-7), k
    o2.step()
    assert loss.item() == pytest.approx(ref.item(), rel=1e-6)
    for (k, a), b in zip(m1.named_parameters(), m2.parameters()):
        assert torch.allclose(a, b, atol=1e-6), k
    assert o1.state_dict()["state"][0]["step"] == 1


# ----------------------------------------------------------------------------- LR scaling

@pytest.mark.parametrize("rule", ["linear", "sqrt"])
def test_scaled_lr_follows_the_formula(rule):
    lr, batch, base, ipe, epochs = 1e-3, 5000, 256, 10, 5
    k = batch / base if rule == "linear" else math.sqrt(batch / base)
    end = epochs * ipe

    def at(t):
        return closing.scaled_lr(lr, batch, t, ipe, rule, base, epochs)
    assert at(0) == lr
    assert at(end // 2) == pytest.approx(lr * (1 + (k - 1) * 0.5), rel=1e-12)
    assert at(end - 1) == pytest.approx(lr * (1 + (k - 1) * (end - 1) / end), rel=1e-12)
    assert at(end) == pytest.approx(lr * k, rel=1e-12)
    assert at(end + 123) == at(end)
    assert closing.scaled_lr(lr, batch, 0, ipe, rule, base, 0) == at(end)  # no warm-up: k lr at once


@pytest.mark.parametrize("rule", ["linear", "sqrt"])
def test_scaled_step_sets_the_scheduled_rate_and_counts_iterations(rule):
    x, y = _problem(100)
    m, o = _model_opt()
    # 1000 examples in batches of 100: 10 iterations per epoch, warm-up 1 epoch
    cfg = TrainConfig("F1", 100, train_subset=1000, method="scaled",
                      method_args=resolve_args("scaled", "F1", {"rule": rule, "base_batch": 25,
                                                                "warmup_epochs": 1}))
    assert closing.iterations_per_epoch(cfg) == 10
    k = 4.0 if rule == "linear" else 2.0
    seen = []
    for _ in range(12):
        closing.scaled_step(m, o, x, y, cfg)
        seen.append(o.param_groups[0]["lr"])
    assert seen[0] == 1e-3
    assert seen[5] == pytest.approx(1e-3 * (1 + (k - 1) * 0.5), rel=1e-12)
    assert seen[10] == seen[11] == pytest.approx(1e-3 * k, rel=1e-12)
    assert o.param_groups[0][closing.ITERATION_KEY] == 12
    # the count travels with the optimizer state (resume.pt)
    m2, o2 = _twin(m)
    o2.load_state_dict(o.state_dict())
    assert o2.param_groups[0][closing.ITERATION_KEY] == 12


def test_scaled_linear_at_the_base_batch_without_warmup_is_plain_adam_bit_for_bit():
    _same_as_adam("scaled", {"rule": "linear", "base_batch": 32, "warmup_epochs": 0}, batch=32)
    _same_as_adam("scaled", {"rule": "linear", "base_batch": 32, "warmup_epochs": 5}, batch=32)  # k = 1


def test_scaled_schedule_resumes_to_the_same_result(mnist, tmp_path, monkeypatch):
    from lbsm.core.store import Store
    args = resolve_args("scaled", "F1", {"base_batch": 100, "warmup_epochs": 2})
    cfg = TrainConfig("F1", 200, epochs=3, seed=1, train_subset=600, test_subset=100,
                      method="scaled", method_args=args)
    ref = fit(cfg, Store(tmp_path / "ref"), dataset=mnist, progress=False)
    store = Store(tmp_path / "int")
    calls = {"n": 0}
    real = closing.scaled_step

    def dies_in_epoch_2(*a):
        calls["n"] += 1
        if calls["n"] > 3 + 1:  # 3 steps per epoch: inside the warm-up's second epoch
            raise KeyboardInterrupt
        return real(*a)
    monkeypatch.setitem(remedies.METHODS, "scaled", dies_in_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        fit(cfg, store, dataset=mnist, progress=False)
    assert (store.weights_dir(store.run_dir("F1", cfg.key).name) / "resume.pt").is_file()
    monkeypatch.setitem(remedies.METHODS, "scaled", real)
    resumed = fit(cfg, store, dataset=mnist, progress=False)
    cols = ["epoch", "train_loss", "test_acc", "minibatch_loss"]
    pd.testing.assert_frame_equal(ref.history[cols], resumed.history[cols])


# ----------------------------------------------------------------------------- they train

@pytest.mark.parametrize("method,args", [("sam", {}), ("asam", {}), ("ghost", {"ghost": 16}),
                                         ("scaled", {"rule": "sqrt", "base_batch": 16})])
def test_closing_steps_reduce_the_training_loss(method, args):
    torch.manual_seed(0)
    x, y = _problem(64, seed=1)
    m, o = _model_opt()
    cfg = TrainConfig("F1", 64, train_subset=640, method=method, method_args=args)
    before = train.evaluate(m, x, y)[0]
    step = train.step_function(method)
    losses = [step(m, o, x, y, cfg).item() for _ in range(30)]
    assert train.evaluate(m, x, y)[0] < 0.7 * before
    assert losses[-1] < losses[0]
