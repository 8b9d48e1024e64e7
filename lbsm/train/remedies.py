"""Appendix E: the remedies the paper tried for the large-batch generalization gap.

* E.1 data augmentation (Table 6): :func:`augment`, applied by the trainer to every minibatch when
  ``TrainConfig.augment`` is set.
* E.2 conservative training (Table 7): :func:`conservative_step`, the proximal sub-problem (5).
* E.3 robust training: :func:`adversarial_step` (FGSM adversarial training, Goodfellow et al.,
  2014) and :func:`stability_step` (stability training, Zheng et al., 2016).

Every step function has the trainer's signature ``step(model, opt, xb, yb, cfg) -> loss`` (see
``lbsm.train.adam_step``): it updates ``model`` in place with the ADAM optimizer ``opt`` and
returns the detached minibatch cross-entropy at the parameters the step started from, so that the
per-epoch ``minibatch_loss`` column means the same for every method. Hyper-parameters come from
``cfg.method_args``; :func:`resolve_args` fills in the defaults (``lbsm.experiments`` stores the
resolved values in the config, so a run's key records them). The paper gives no value for any of
them except lambda = 1e-3 and 3 inner ADAM iterations for conservative training; every other
default is our choice, stated where it is made.

BatchNorm and dropout during the extra forward passes (inner proximal iterations, the FGSM
gradient, the adversarial and noisy copies): training mode, as in every other training forward.
Each extra forward therefore draws its own dropout mask and normalizes with its own batch's
statistics (the clean and perturbed copies are never concatenated into one batch, which would mix
their statistics).

What closes the gap (methods published after the paper; :mod:`lbsm.train.closing`, registered
here under their ``method`` names): ``"sam"`` (Foret et al., 2021), ``"asam"`` (Kwon et al., 2021),
``"ghost"`` (ghost batch normalization, Hoffer et al., 2017) and ``"scaled"`` (the learning rate
scaled with the batch after a warm-up, Goyal et al., 2017).

Train longer (Hoffer et al., 2017, "Train longer, generalize better", their "regime adaptation")
needs no code: the LB run takes as many ADAM steps as the SB run, i.e. ``epochs`` = SB epochs x
LB / SB batch (C1: 100 x 5000 / 256, about 1953 epochs; F1: 100 x 6000 / 256, about 2344). A
profile writes it as a :class:`lbsm.experiments.specs.RemedySpec` with ``method="adam"`` (or
``"ghost"``, as Hoffer et al. combine the two), ``lb_epochs=round(sb_epochs * lb / sb_batch)`` and
``train=RunSettings(stop="epochs", ...)`` (the plateau rule would end the run long before), which
builds a plain ``TrainConfig(net, lb, epochs=...)``: a new store key, no new field.
"""
from __future__ import annotations


import torch
import torch.nn.functional as F

from ..core import models
from ..core.machine import arithmetic
from . import closing

# ---------------------------------------------------------------------------------------------
# E.1 data augmentation
# ---------------------------------------------------------------------------------------------

# "horizontal reflections, random rotations up to 10 degrees and random translation of up to 0.2
# times the size of the image": Keras ImageDataGenerator(horizontal_flip=True, rotation_range=10,
# width_shift_range=0.2, height_shift_range=0.2).
FLIP_P = 0.5
MAX_ROTATION_DEG = 10.0
MAX_SHIFT = 0.2


def _check_images(x: torch.Tensor) -> None:
    if x.dim() != 4:
        raise ValueError(
            f"augmentation needs an image batch (N, C, H, W), got shape {tuple(x.shape)}; only the "
            "convolutional networks C1-C4 are augmented (the paper augments no F1/F2 data)")


def affine(x: torch.Tensor, flip: torch.Tensor, angle_deg: torch.Tensor, tx: torch.Tensor,
           ty: torch.Tensor) -> torch.Tensor:
    """Rotate, translate, then (where ``flip``) mirror each image of a batch; deterministic.

    ``x``: (N, C, H, W). ``flip``: (N,) bool; ``angle_deg``: (N,) rotation in degrees
    (counter-clockwise on screen); ``tx``, ``ty``: (N,) translation as a fraction of the image width /
    height (positive moves the content right / down). Choices:

    * The order (rotation and translation about the image centre, then the flip) is Keras
      ``random_transform``'s; the distribution of the result does not depend on it.
    * Bilinear interpolation (F.grid_sample, ``align_corners=False``); pixels that come from
      outside the image take the value of the nearest border pixel (``padding_mode="border"``),
      Keras' default ``fill_mode='nearest'``. (Keras 1 interpolated with order 0; bilinear is the
      usual choice since and blurs less than it shifts.)
    * The rotation is a rotation in pixel space also for non-square images.
    * Exactness: images whose rotation and translation are zero skip the resampling, and the flip is
      an index reversal, so a flip is exactly its own inverse and the identity changes nothing.
    """
    _check_images(x)
    n, _, h, w = x.shape
    dev, dt = x.device, x.dtype
    theta_rad = torch.deg2rad(angle_deg.to(dev, torch.float32))
    cos, sin = torch.cos(theta_rad), torch.sin(theta_rad)
    # grid_sample maps each output location (normalized to [-1, 1]) to the input location it reads:
    # in = A @ out + b. With y pointing down, the matrix [[cos, sin], [-sin, cos]] turns content
    # counter-clockwise on screen and the output reads through its inverse R^-1 = [[cos, -sin],
    # [sin, cos]]; normalized coordinates scale x by 2/w and y by 2/h, so A = S R^-1 S^-1.
    theta = torch.zeros(n, 2, 3, device=dev, dtype=torch.float32)
    theta[:, 0, 0] = cos
    theta[:, 0, 1] = -sin * (h / w)
    theta[:, 1, 0] = sin * (w / h)
    theta[:, 1, 1] = cos
    # content moves by +t (fraction of the size, i.e. 2t in normalized units): read from out - 2t
    theta[:, 0, 2] = -2.0 * tx.to(dev, torch.float32)
    theta[:, 1, 2] = -2.0 * ty.to(dev, torch.float32)
    moved = (angle_deg != 0) | (tx != 0) | (ty != 0)
    out = x
    if bool(moved.any()):
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        sampled = F.grid_sample(x.float(), grid, mode="bilinear", padding_mode="border",
                                align_corners=False).to(dt)
        out = torch.where(moved.to(dev).view(n, 1, 1, 1), sampled, x)
    flip = flip.to(dev).view(n, 1, 1, 1)
    return torch.where(flip, out.flip(-1), out)


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Randomly flip, rotate and translate each image of a batch on its device (Appendix E.1).

    Per image, independently, from ``generator`` (which must live on ``x``'s device): a horizontal
    flip with probability 0.5, a rotation uniform in [-10, 10] degrees, a translation uniform in
    [-0.2, 0.2] of the width and, independently, of the height (Keras draws the same way). The trainer
    calls this on every minibatch, so each epoch sees fresh transforms of every image (as Keras'
    ``flow``); the test set is never augmented.
    """
    _check_images(x)
    u = torch.rand(len(x), 4, generator=generator, device=x.device)
    return affine(x, u[:, 0] < FLIP_P, (2 * u[:, 1] - 1) * MAX_ROTATION_DEG,
                  (2 * u[:, 2] - 1) * MAX_SHIFT, (2 * u[:, 3] - 1) * MAX_SHIFT)


# ---------------------------------------------------------------------------------------------
# Hyper-parameters
# ---------------------------------------------------------------------------------------------

# Conservative training: the paper's values (Appendix E.2).
CONSERVATIVE_DEFAULTS = {"lam": 1e-3, "inner_steps": 3}
# FGSM step on inputs scaled to [0, 1] (not in the paper): 0.1 on MNIST (Goodfellow et al. used
# 0.1-0.3 there), 8/255 on CIFAR (the usual budget for CIFAR since Madry et al.). Goodfellow et
# al.'s weighting alpha = 0.5. TIMIT features are not pixels: pass ``eps`` explicitly.
FGSM_EPS = {"mnist": 0.1, "cifar10": 8 / 255, "cifar100": 8 / 255}
ADVERSARIAL_ALPHA = 0.5
# Stability training (not in the paper): Gaussian input noise sigma = 0.04 on [0, 1] inputs and
# weight alpha = 0.01 on the KL term. Our choice, not checked against Zheng et al. (2016), who tune
# both per task; the paper's Appendix E.3 gives none. Override with ``method_args``.
STABILITY_DEFAULTS = {"alpha": 0.01, "sigma": 0.04}
PIXEL_RANGE = (0.0, 1.0)  # every image data set here is scaled to [0, 1] (pixels / 255)


def _dataset(cfg) -> str:
    return models.NETWORKS[cfg.net][0]


def resolve_args(method: str, net: str, method_args: dict | None = None) -> dict:
    """``method_args`` with every default filled in, so that a stored config records the values.

    Unknown keys are rejected (a typo would otherwise silently train with the default)."""
    args = dict(method_args or {})
    dataset = models.NETWORKS[models.check_net(net)][0]
    if method in closing.DEFAULTS:
        return closing.resolve(method, args)
    if method == "adam":
        defaults = {}
    elif method == "conservative":
        defaults = dict(CONSERVATIVE_DEFAULTS)
    elif method == "adversarial":
        defaults = {"alpha": ADVERSARIAL_ALPHA, "clip": dataset != "timit"}
        if dataset in FGSM_EPS:
            defaults["eps"] = FGSM_EPS[dataset]
        elif "eps" not in args:
            raise ValueError(f"adversarial training on {net} ({dataset}) needs method_args['eps']: "
                             "its inputs are not pixels in [0, 1]")
    elif method == "stability":
        defaults = dict(STABILITY_DEFAULTS)
    else:
        raise ValueError(f"unknown training method {method!r}; choose 'adam' or one of "
                         f"{', '.join(METHODS)}")
    unknown = set(args) - set(defaults) - ({"eps"} if method == "adversarial" else set())
    if unknown:
        raise ValueError(f"unknown argument(s) {sorted(unknown)} for method {method!r}; it takes "
                         f"{sorted(defaults) or 'none'}")
    return {**defaults, **args}


# ---------------------------------------------------------------------------------------------
# E.2 conservative training
# ---------------------------------------------------------------------------------------------

def conservative_step(model, opt, xb, yb, cfg) -> torch.Tensor:
    """One outer step of conservative training, eq. (5) (Li et al., 2014):

        x_{k+1} = argmin_x (1/|B|) sum_{i in B} f_i(x) + lam/2 ||x - x_k||^2,

    solved inexactly by ``inner_steps`` ADAM iterations on the same minibatch B (paper: 3, lam =
    1e-3). Choices the paper leaves open:

    * x_k is the parameter vector when the outer step begins; x covers every trainable parameter
      (weights, biases, BatchNorm gamma and beta), not the BatchNorm running statistics.
    * The inner solver is the run's ADAM (same lr and betas) and its moment estimates and step
      count persist across outer steps, as if the inner iterations were ordinary ADAM steps on a
      changing objective (one epoch is inner_steps times as many ADAM steps as plain training).
    * The proximal gradient lam (x - x_k) is added to the minibatch gradient in float32 outside
      autocast; with lam = 0 the step is exactly ``inner_steps`` plain ADAM steps on B.
    * Every inner iteration is a training-mode forward: fresh dropout masks, BatchNorm running
      statistics updated each time.

    Returns the minibatch loss at x_k (that of the first inner iteration).
    """
    args = resolve_args("conservative", cfg.net, cfg.method_args)
    lam, inner = float(args["lam"]), int(args["inner_steps"])
    if inner < 1:
        raise ValueError("conservative training needs inner_steps >= 1")
    params = [p for p in model.parameters() if p.requires_grad]
    anchor = [p.detach().clone() for p in params] if lam != 0 else None
    first = None
    for _ in range(inner):
        opt.zero_grad(set_to_none=True)
        with arithmetic(cfg.precision, xb.device):
            loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        if anchor is not None:
            with torch.no_grad():
                for p, a in zip(params, anchor):
                    if p.grad is not None:
                        p.grad.add_(p - a, alpha=lam)
        opt.step()
        if first is None:
            first = loss.detach()
    return first


# ---------------------------------------------------------------------------------------------
# E.3 robust training
# ---------------------------------------------------------------------------------------------

def fgsm(model, x: torch.Tensor, y: torch.Tensor, eps: float, clip: bool = True,
         precision: str = "fp32") -> torch.Tensor:
    """Fast gradient sign method (Goodfellow et al., 2014): ``x + eps * sign(grad_x CE(model(x), y))``.

    With ``clip`` the result is clipped to the pixel range [0, 1] (our inputs are pixels / 255, and an
    image outside it is not an image). Coordinates whose gradient is exactly 0 are not moved (sign 0).
    The gradient is taken in whatever mode ``model`` is in (training mode during training); no
    parameter gradient is accumulated. Returns a detached tensor.
    """
    xa = x.detach().clone().requires_grad_(True)
    with arithmetic(precision, x.device):
        loss = F.cross_entropy(model(xa), y)
    (grad,) = torch.autograd.grad(loss, xa)
    x_adv = x.detach() + eps * grad.sign().to(x.dtype)
    if clip:
        x_adv = x_adv.clamp(*PIXEL_RANGE)
    return x_adv.detach()


def adversarial_step(model, opt, xb, yb, cfg) -> torch.Tensor:
    """One ADAM step on Goodfellow et al.'s adversarial objective

        alpha * CE(x) + (1 - alpha) * CE(fgsm(x)),

    with alpha = 0.5 and the FGSM budget of :data:`FGSM_EPS` by default (``method_args``: ``eps``,
    ``alpha``, ``clip``). The adversarial examples are made afresh for every minibatch at the current
    parameters and then treated as constants (no gradient through their construction). Returns the
    clean minibatch loss."""
    args = resolve_args("adversarial", cfg.net, cfg.method_args)
    alpha = float(args["alpha"])
    x_adv = fgsm(model, xb, yb, float(args["eps"]), clip=bool(args["clip"]), precision=cfg.precision)
    opt.zero_grad(set_to_none=True)
    with arithmetic(cfg.precision, xb.device):
        clean = F.cross_entropy(model(xb), yb)
        adv = F.cross_entropy(model(x_adv), yb)
        loss = alpha * clean + (1 - alpha) * adv
    loss.backward()
    opt.step()
    return clean.detach()


def stability_step(model, opt, xb, yb, cfg) -> torch.Tensor:
    """One ADAM step on Zheng et al.'s stability objective for classification

        CE(x) + alpha * KL(P(.|x) || P(.|x')),   x' = x + N(0, sigma^2 I),

    with alpha = 0.01, sigma = 0.04 by default (``method_args``: ``alpha``, ``sigma``). Choices: the
    noise is drawn per minibatch from torch's global generator (seeded by the trainer), the noisy
    copy is not clipped to [0, 1] (Zheng et al. perturb without clipping), and the gradient flows
    through both P(.|x) and P(.|x'). Returns the clean minibatch loss."""
    args = resolve_args("stability", cfg.net, cfg.method_args)
    alpha, sigma = float(args["alpha"]), float(args["sigma"])
    x_noisy = xb + sigma * torch.randn_like(xb)
    opt.zero_grad(set_to_none=True)
    with arithmetic(cfg.precision, xb.device):
        logits = model(xb)
        logits_noisy = model(x_noisy)
    logp = F.log_softmax(logits.float(), dim=1)
    logq = F.log_softmax(logits_noisy.float(), dim=1)
    clean = F.cross_entropy(logits.float(), yb)
    # KL(P || Q) = sum_c P_c (log P_c - log Q_c), averaged over the minibatch
    kl = F.kl_div(logq, logp, reduction="batchmean", log_target=True)
    loss = clean + alpha * kl
    loss.backward()
    opt.step()
    return clean.detach()


METHODS = {
    "conservative": conservative_step,
    "adversarial": adversarial_step,
    "stability": stability_step,
    **closing.METHODS,  # sam, asam, ghost, scaled
}
