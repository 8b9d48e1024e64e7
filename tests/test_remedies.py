"""Appendix E remedies: augmentation geometry, conservative / adversarial / stability steps."""
import copy

import pytest
import torch
import torch.nn.functional as F

from lbsm.core import models
from lbsm.train import remedies
from lbsm.train import protocol as train
from lbsm.train.remedies import affine, augment, fgsm, resolve_args
from lbsm.train.protocol import TrainConfig, adam_step


def _zeros(n):
    return torch.zeros(n)


def _images(n=4, c=3, h=8, w=8, seed=0):
    return torch.rand(n, c, h, w, generator=torch.Generator().manual_seed(seed))


# ----------------------------------------------------------------------------- augmentation

def test_flip_is_its_own_inverse_exactly():
    x = _images()
    flip = torch.ones(4, dtype=torch.bool)
    once = affine(x, flip, _zeros(4), _zeros(4), _zeros(4))
    assert torch.equal(once, x.flip(-1))
    assert torch.equal(affine(once, flip, _zeros(4), _zeros(4), _zeros(4)), x)


def test_identity_changes_nothing_and_keeps_shape_dtype():
    x = _images(n=3, h=6, w=10)
    out = affine(x, torch.zeros(3, dtype=torch.bool), _zeros(3), _zeros(3), _zeros(3))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert (out - x).abs().max() <= 1e-6
    # float64 batches stay float64
    x64 = x.double()
    assert augment(x64, torch.Generator().manual_seed(0)).dtype == torch.float64


def test_rotation_and_translation_directions():
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 4] = 1.0  # right of the centre
    rot = affine(x, torch.tensor([False]), torch.tensor([90.0]), _zeros(1), _zeros(1))
    # +90 degrees is counter-clockwise on screen, as torch.rot90 on (H, W)
    assert torch.allclose(rot, torch.rot90(x, 1, (2, 3)), atol=1e-5)
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 1, 1] = 1.0
    # a shift of 0.2 of a 5-pixel image is one pixel right and one down
    moved = affine(x, torch.tensor([False]), _zeros(1), torch.tensor([0.2]), torch.tensor([0.2]))
    expect = torch.zeros_like(x)
    expect[0, 0, 2, 2] = 1.0
    assert torch.allclose(moved, expect, atol=1e-5)


def test_border_fill_is_nearest_pixel():
    x = torch.arange(5.0).repeat(1, 1, 5, 1)  # columns 0..4
    moved = affine(x, torch.tensor([False]), _zeros(1), torch.tensor([0.4]), _zeros(1))
    # shifted right by 2 pixels: the two new columns repeat the old first column
    assert torch.allclose(moved[0, 0, 0], torch.tensor([0.0, 0.0, 0.0, 1.0, 2.0]), atol=1e-5)


def test_augment_draws_keras_ranges_one_per_image(monkeypatch):
    seen = {}

    def spy(x, flip, angle, tx, ty):
        seen.update(flip=flip, angle=angle, tx=tx, ty=ty)
        return x
    monkeypatch.setattr(remedies, "affine", spy)
    x = torch.zeros(4000, 1, 2, 2)
    remedies.augment(x, torch.Generator().manual_seed(1))
    assert seen["flip"].shape == (4000,) and seen["flip"].dtype == torch.bool
    assert 0.45 < seen["flip"].float().mean() < 0.55
    assert seen["angle"].abs().max() <= 10 and seen["angle"].abs().max() > 9.9
    assert seen["angle"].mean().abs() < 0.5
    for t in ("tx", "ty"):
        assert seen[t].abs().max() <= 0.2 and seen[t].abs().max() > 0.19
    assert not torch.equal(seen["tx"], seen["ty"])


def test_augment_is_reproducible_and_stays_in_pixel_range():
    x = _images(n=16)
    a = augment(x, torch.Generator().manual_seed(3))
    b = augment(x, torch.Generator().manual_seed(3))
    c = augment(x, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0 and a.max() <= 1  # bilinear + border fill never leaves the data range


def test_augment_rejects_flat_input():
    with pytest.raises(ValueError, match="image batch"):
        augment(torch.rand(8, 784), torch.Generator().manual_seed(0))


# ----------------------------------------------------------------------------- hyper-parameters

def test_resolve_args_fills_defaults_and_rejects_typos():
    assert resolve_args("conservative", "F1") == {"lam": 1e-3, "inner_steps": 3}
    assert resolve_args("adversarial", "F1")["eps"] == 0.1
    assert resolve_args("adversarial", "C1")["eps"] == pytest.approx(8 / 255)
    assert resolve_args("stability", "C1", {"sigma": 0.1}) == {"alpha": 0.01, "sigma": 0.1}
    assert resolve_args("adam", "F1") == {}
    with pytest.raises(ValueError, match="unknown argument"):
        resolve_args("conservative", "F1", {"lambda": 1.0})
    with pytest.raises(ValueError, match="needs method_args"):
        resolve_args("adversarial", "F2")
    assert set(remedies.METHODS) == {"conservative", "adversarial", "stability",
                                     "sam", "asam", "ghost", "scaled"}  # the last: lbsm.train.closing
    assert train.step_function("stability") is remedies.stability_step


# ----------------------------------------------------------------------------- conservative

# The step functions take any classifier: a small F1-shaped MLP (Linear-BN-ReLU) keeps the tests
# fast; ``cfg.net = "F1"`` only selects the MNIST defaults.
D_IN = 40


def _problem(n=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, D_IN, generator=g), torch.randint(0, 10, (n,), generator=g)


def _model_opt(seed=0):
    torch.manual_seed(seed)
    m = models.glorot_init_(models.fully_connected(D_IN, 2, 64, 10))
    m.train()
    return m, torch.optim.Adam(m.parameters(), lr=1e-3)


def test_conservative_with_lam_zero_is_three_adam_steps():
    xb, yb = _problem()
    m1, o1 = _model_opt()
    m2 = copy.deepcopy(m1)
    o2 = torch.optim.Adam(m2.parameters(), lr=1e-3)
    cfg = TrainConfig("F1", 32, method="conservative", method_args={"lam": 0.0})
    for _ in range(2):  # two outer steps: ADAM state carries over exactly as in plain training
        loss = remedies.conservative_step(m1, o1, xb, yb, cfg)
        first = adam_step(m2, o2, xb, yb, cfg)
        adam_step(m2, o2, xb, yb, cfg)
        adam_step(m2, o2, xb, yb, cfg)
        assert torch.equal(loss, first)  # the loss at x_k
    for (k, a), b in zip(m1.state_dict().items(), m2.state_dict().values()):
        assert torch.equal(a, b), k
    assert o1.state_dict()["state"][0]["step"] == 6


def test_conservative_proximal_term_keeps_iterate_close():
    xb, yb = _problem()

    def distance(lam):
        m, o = _model_opt()
        x0 = torch.nn.utils.parameters_to_vector(m.parameters()).detach().clone()
        cfg = TrainConfig("F1", 32, method="conservative", method_args={"lam": lam})
        for _ in range(3):
            remedies.conservative_step(m, o, xb, yb, cfg)
        return (torch.nn.utils.parameters_to_vector(m.parameters()) - x0).norm().item()
    assert distance(1e3) < 0.9 * distance(0.0)


# ----------------------------------------------------------------------------- FGSM

def test_fgsm_moves_every_pixel_by_eps_and_raises_the_loss():
    torch.manual_seed(0)
    m, _ = _model_opt()
    x, y = _problem(64)
    x = 0.2 + 0.6 * x  # interior pixels: no clipping at eps = 0.1
    x_adv = fgsm(m, x, y, 0.1)
    delta = x_adv - x
    xr = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(F.cross_entropy(m(xr), y), xr)
    moved = g != 0
    assert moved.float().mean() > 0.99
    assert torch.allclose(delta[moved].abs(), torch.full_like(delta[moved], 0.1), atol=1e-6)
    assert delta.abs().max().item() == pytest.approx(0.1, abs=1e-6)
    assert torch.all(torch.sign(delta[moved]) == torch.sign(g[moved]))
    with torch.no_grad():
        assert F.cross_entropy(m(x_adv), y) > F.cross_entropy(m(x), y) + 0.01
    assert not any(p.grad is not None for p in m.parameters())  # no parameter gradient left behind


def test_fgsm_clips_to_pixel_range():
    m, _ = _model_opt()
    x, y = _problem(16)
    x = (x > 0.5).float()  # pixels at 0 and 1
    x_adv = fgsm(m, x, y, 0.3)
    assert x_adv.min() >= 0 and x_adv.max() <= 1
    assert not torch.equal(x_adv, x)
    unclipped = fgsm(m, x, y, 0.3, clip=False)
    assert unclipped.min() < 0 or unclipped.max() > 1


# ----------------------------------------------------------------------------- robust steps train

@pytest.mark.parametrize("method", ["adversarial", "stability", "conservative"])
def test_remedy_steps_reduce_the_training_loss(method):
    torch.manual_seed(0)
    x, y = _problem(64, seed=1)
    m, o = _model_opt()
    cfg = TrainConfig("F1", 64, method=method)
    before = train.evaluate(m, x, y)[0]
    step = train.step_function(method)
    losses = [step(m, o, x, y, cfg).item() for _ in range(30)]
    after = train.evaluate(m, x, y)[0]
    assert after < 0.7 * before
    assert losses[-1] < losses[0]


def test_stability_kl_term_is_used():
    """With a large alpha and noise the stability step differs from plain ADAM."""
    torch.manual_seed(0)
    x, y = _problem(32)
    m1, o1 = _model_opt()
    m2 = copy.deepcopy(m1)
    o2 = torch.optim.Adam(m2.parameters(), lr=1e-3)
    remedies.stability_step(m1, o1, x, y, TrainConfig("F1", 32, method="stability",
                                                      method_args={"alpha": 10.0, "sigma": 0.3}))
    adam_step(m2, o2, x, y, TrainConfig("F1", 32))
    diff = sum((a - b).abs().sum() for a, b in zip(m1.parameters(), m2.parameters()))
    assert diff > 1e-3


def test_bf16_precision_runs_every_step():
    x, y = _problem(16)
    for method in remedies.METHODS:
        m, o = _model_opt()
        loss = train.step_function(method)(m, o, x, y, TrainConfig("F1", 16, method=method,
                                                                    precision="bf16"))
        assert torch.isfinite(loss) and loss.dtype in (torch.float32, torch.bfloat16)


# ----------------------------------------------------------------------------- through the trainer

def _have(name):
    from lbsm.core import data
    return not data.check(name)


@pytest.mark.skipif(not _have("cifar10"), reason="CIFAR-10 not in $LBSM_DATA")
def test_fit_with_augmentation_on_c1(tmp_path):
    from lbsm.core.store import Store
    cfg = TrainConfig("C1", 32, epochs=1, train_subset=64, test_subset=64, augment=True,
                      method="stability")
    run = train.fit(cfg, Store(tmp_path), device="cpu", progress=False)
    assert run.status == "done" and len(run.history) == 2


@pytest.mark.skipif(not _have("mnist"), reason="MNIST not in $LBSM_DATA")
def test_fit_rejects_augmentation_of_f1(tmp_path):
    from lbsm.core.store import Store
    cfg = TrainConfig("F1", 32, epochs=1, train_subset=64, test_subset=64, augment=True)
    with pytest.raises(ValueError, match="image batch"):
        train.fit(cfg, Store(tmp_path), device="cpu", progress=False)
