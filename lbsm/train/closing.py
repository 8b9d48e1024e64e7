"""What closes the gap: training methods published after the paper against the large-batch
generalization gap, as step functions of the trainer (registered in ``lbsm.train.remedies.METHODS``).

* ``"sam"``: sharpness-aware minimization (Foret et al., 2021), :func:`sam_step`.
* ``"asam"``: adaptive SAM (Kwon et al., 2021), :func:`asam_step`.
* ``"ghost"``: ghost batch normalization (Hoffer et al., 2017), :func:`ghost_step`.
* ``"scaled"``: learning rate scaled with the batch and warmed up (Goyal et al., 2017),
  :func:`scaled_step`.

(Hoffer et al.'s other remedy, training longer, is a number of epochs, not a method: see the
``lbsm.train.remedies`` docstring.)

Every step has the trainer's signature ``step(model, opt, xb, yb, cfg) -> loss``, takes exactly one
step of the run's ADAM ``opt`` and returns the detached minibatch cross-entropy at the parameters the
step started from. Hyper-parameters come from ``cfg.method_args``, with defaults filled in by
:func:`resolve` (through ``remedies.resolve_args``, so a stored config records them).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..core.constants import SB_BATCH, TRAIN_SIZES
from ..core.machine import arithmetic

# ---------------------------------------------------------------------------------------------
# Hyper-parameters
# ---------------------------------------------------------------------------------------------

# SAM: rho = 0.05, the default of the widely used PyTorch port (davda54/sam); Foret et al. tune rho
# per task by a grid search over {0.01, 0.02, 0.05, 0.1, 0.2, 0.5} with SGD on ResNets, not with
# ADAM on these networks: our default, to be tuned.
SAM_DEFAULTS = {"rho": 0.05}
# ASAM: rho = 0.5, eta = 0.01, the defaults of the authors' code (SamsungLabs/ASAM, asam.py:
# ``ASAM(optimizer, model, rho=0.5, eta=0.01)``), with which they ran every CIFAR-10 test (J. Kwon,
# github.com/davda54/sam/issues/37: "ASAM with rho=0.5 shows the best accuracy ... so we performed
# all the cifar10 tests with rho=0.5").
ASAM_DEFAULTS = {"rho": 0.5, "eta": 0.01}
# Ghost batch normalization: ghost batches of the SB batch size (256), so that the LB run's
# BatchNorm sees batches of the size the SB run's does (Hoffer et al. use 128, their small batch).
GHOST_DEFAULTS = {"ghost": SB_BATCH}
# LR scaling: Goyal et al.'s linear rule and their 5 warm-up epochs; the reference batch is the SB
# batch (256), whose learning rate cfg.lr is.
SCALED_DEFAULTS = {"rule": "linear", "base_batch": SB_BATCH, "warmup_epochs": 5}
SCALING_RULES = ("linear", "sqrt")
DEFAULTS = {"sam": SAM_DEFAULTS, "asam": ASAM_DEFAULTS, "ghost": GHOST_DEFAULTS,
            "scaled": SCALED_DEFAULTS}


def _number(method: str, name: str, value, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value < minimum:
        raise ValueError(f"{method}: {name} must be a finite number >= {minimum}, got {value!r}")
    return float(value)


def _count(method: str, name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 1:
        raise ValueError(f"{method}: {name} must be a positive integer, got {value!r}")
    return int(value)


def resolve(method: str, method_args: dict | None = None) -> dict:
    """``method_args`` of one of :data:`DEFAULTS`' methods, defaults filled in, checked, and with
    numbers in one type (``rho = 1`` and ``rho = 1.0`` make the same store key). Unknown keys are
    rejected (a typo would otherwise silently train with the default)."""
    defaults = DEFAULTS[method]
    args = dict(method_args or {})
    unknown = set(args) - set(defaults)
    if unknown:
        raise ValueError(f"unknown argument(s) {sorted(unknown)} for method {method!r}; it takes "
                         f"{sorted(defaults)}")
    args = {**defaults, **args}
    out = {}
    for k, v in args.items():
        if k in ("ghost", "base_batch"):
            out[k] = _count(method, k, v)
        elif k == "rule":
            if v not in SCALING_RULES:
                raise ValueError(f"{method}: rule must be one of {', '.join(SCALING_RULES)}, got {v!r}")
            out[k] = v
        else:  # rho, eta, warmup_epochs
            out[k] = _number(method, k, v)
    return out


def _adam(model, opt, xb, yb, cfg, forward) -> torch.Tensor:
    """One ADAM step on the minibatch mean cross-entropy of the logits ``forward(xb)``; returns the
    (detached) loss. ``lbsm.train.protocol.adam_step`` is this with ``forward = model``."""
    opt.zero_grad(set_to_none=True)
    with arithmetic(cfg.precision, xb.device):
        loss = F.cross_entropy(forward(xb), yb)
    loss.backward()
    opt.step()
    return loss.detach()


# ---------------------------------------------------------------------------------------------
# SAM and ASAM
# ---------------------------------------------------------------------------------------------

def _rng_state(device: torch.device) -> torch.Tensor:
    return torch.cuda.get_rng_state(device) if device.type == "cuda" else torch.get_rng_state()


def _set_rng_state(device: torch.device, state: torch.Tensor) -> None:
    if device.type == "cuda":
        torch.cuda.set_rng_state(state, device)
    else:
        torch.set_rng_state(state)


@torch.no_grad()
def perturbation(named_params, rho: float, eta: float | None = None) -> list:
    """The ascent step ``e`` from the gradients in ``p.grad`` (None where a parameter has none).

    SAM (``eta`` None): ``e = rho g / ||g||``, the l2 norm over all the parameters together (Foret
    et al.'s eq. 2, their code's ``dual_vector``). ASAM (``eta`` a number): ``e = rho T^2 g / ||T g||``
    with the element-wise operator ``T = |w| + eta`` on the parameters whose name contains
    "weight" (Linear and Conv weights, BatchNorm gamma) and ``T = 1`` on the others (biases,
    BatchNorm beta), as the authors' code (SamsungLabs/ASAM) and the rho it was tuned with. A zero
    gradient gives ``e = 0`` (no epsilon is added to the norm, so ``rho = 0`` moves nothing at all).
    """
    named_params = list(named_params)
    named = [(n, p) for n, p in named_params if p.grad is not None]
    ts = [p.abs().add_(eta) if eta is not None and "weight" in n else None for n, p in named]
    tg = [p.grad if t is None else p.grad * t for (_, p), t in zip(named, ts)]
    if not tg:
        return [None] * len(named_params)
    norms = [torch.linalg.vector_norm(g.to(torch.promote_types(g.dtype, torch.float32))) for g in tg]
    norm = torch.linalg.vector_norm(torch.stack(norms))
    scale = torch.where(norm > 0, rho / norm, torch.zeros_like(norm))
    out = iter([(g if t is None else g * t) * scale.to(g.dtype) for g, t in zip(tg, ts)])
    return [next(out) if p.grad is not None else None for _, p in named_params]


def sam_gradient(model, loss_fn, rho: float, eta: float | None = None) -> torch.Tensor:
    """Leave in ``p.grad`` the gradient of ``loss_fn()`` at ``w + e(w)`` (:func:`perturbation`),
    with ``model``'s parameters and buffers as they were after a plain training forward at ``w``.

    * Both passes run in the model's mode (training: BatchNorm normalizes each with the statistics of
      the batch at the weights it is computed at, as in Foret et al.'s and Kwon et al.'s code).
    * BatchNorm running statistics (every buffer) are updated once per step, by the pass at ``w``:
      the buffers are put back after the pass at ``w + e`` (Foret et al.'s code likewise keeps the
      first pass's batch-norm state).
    * Both passes draw the same dropout masks: the generator of the parameters' device is reset to
      its state before the first pass, so the perturbed loss is the same function of the weights (as
      Foret et al.'s code, whose two passes share one PRNG key), and the generator ends as after
      one plain step.
    * ``w`` is restored from a copy, not by subtracting ``e`` (which would not round back to ``w``).

    Returns the detached loss at ``w``."""
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    device = named[0][1].device
    rng = _rng_state(device)
    loss = loss_fn()
    loss.backward()
    e = perturbation(named, rho, eta)
    buffers = [b.detach().clone() for b in model.buffers()]
    saved = []
    with torch.no_grad():
        for (_, p), ep in zip(named, e):
            if ep is not None:
                saved.append((p, p.detach().clone()))
                p.add_(ep)
    for _, p in named:
        p.grad = None
    _set_rng_state(device, rng)
    loss_fn().backward()
    with torch.no_grad():
        for p, w in saved:
            p.copy_(w)
        for b, v in zip(model.buffers(), buffers):
            b.copy_(v)
    return loss.detach()


def _sharpness_aware(model, opt, xb, yb, cfg, rho, eta) -> torch.Tensor:
    opt.zero_grad(set_to_none=True)

    def loss_fn():
        with arithmetic(cfg.precision, xb.device):
            return F.cross_entropy(model(xb), yb)
    loss = sam_gradient(model, loss_fn, rho, eta)
    opt.step()
    return loss


def sam_step(model, opt, xb, yb, cfg) -> torch.Tensor:
    """One step of sharpness-aware minimization (Foret et al., 2021, "Sharpness-Aware Minimization
    for Efficiently Improving Generalization", Algorithm 1) with the run's ADAM as the base optimizer:

        g = grad L_B(w),   e = rho g / ||g||_2,   w <- ADAM(w, grad L_B(w + e)),

    on the minibatch B, ``rho`` = ``method_args["rho"]`` (default 0.05); BatchNorm, dropout and the
    norm as in :func:`sam_gradient` and :func:`perturbation`. Two forward-backward passes per step.
    With rho = 0 the step is exactly :func:`lbsm.train.adam_step`."""
    args = resolve("sam", cfg.method_args)
    return _sharpness_aware(model, opt, xb, yb, cfg, args["rho"], None)


def asam_step(model, opt, xb, yb, cfg) -> torch.Tensor:
    """One step of adaptive SAM (Kwon et al., 2021, "ASAM: Adaptive Sharpness-Aware Minimization for
    Scale-Invariant Learning of Deep Neural Networks"): :func:`sam_step` with the scale-invariant
    ascent ``e = rho T_w^2 g / ||T_w g||_2``, ``T_w = |w| + eta`` element-wise on the weights (not
    the biases and BatchNorm betas, as the authors' code), ``rho`` = 0.5 and ``eta`` = 0.01 by
    default (theirs). With rho = 0 the step is exactly :func:`lbsm.train.adam_step`."""
    args = resolve("asam", cfg.method_args)
    return _sharpness_aware(model, opt, xb, yb, cfg, args["rho"], args["eta"])


# ---------------------------------------------------------------------------------------------
# Ghost batch normalization
# ---------------------------------------------------------------------------------------------

def ghost_sizes(n: int, ghost: int) -> list[int]:
    """The ghost batches of a minibatch of ``n``: consecutive chunks of ``ghost`` examples, the last
    one the remainder; a remainder of one example joins the chunk before it (BatchNorm cannot
    normalize a single example by its own statistics). (Hoffer et al.'s code cuts the batch into
    ``B // ghost`` nearly equal chunks with ``torch.chunk``; we keep the definition's size.)"""
    if ghost >= n:
        return [n]
    sizes = [ghost] * (n // ghost)
    rest = n % ghost
    if rest == 1:
        sizes[-1] += 1
    elif rest:
        sizes.append(rest)
    return sizes


def ghost_forward(model, xb: torch.Tensor, ghost: int) -> torch.Tensor:
    """The logits of ``xb`` with each ghost batch (:func:`ghost_sizes`) run through ``model`` by
    itself, concatenated in order. In training mode every BatchNorm then normalizes each ghost batch
    with its own statistics and updates its running statistics once per ghost batch, in order (as
    Hoffer et al.'s code, which runs the model on each chunk; their Algorithm 1's moving average
    over the ghost batches). Exact for these networks, where nothing but BatchNorm mixes examples.
    Dropout masks are drawn ghost batch by ghost batch. ``ghost >= len(xb)``: just ``model(xb)``."""
    sizes = ghost_sizes(len(xb), ghost)
    if len(sizes) == 1:
        return model(xb)
    return torch.cat([model(chunk) for chunk in xb.split(sizes)])


def ghost_step(model, opt, xb, yb, cfg) -> torch.Tensor:
    """One ADAM step with ghost batch normalization (Hoffer et al., 2017, "Train longer, generalize
    better: closing the generalization gap in large batch training of neural networks", Algorithm
    1): the training forward normalizes every ``ghost`` (default 256) consecutive examples of the
    minibatch by themselves (:func:`ghost_forward`); the loss is still the mean cross-entropy over
    the whole minibatch and one step is taken. (Hoffer et al.'s code averages the ghost batches'
    mean losses, the same when they are of equal size.) Evaluation is untouched: ``cfg.bn_eval``
    decides, as for every run. ``ghost >= len(xb)`` is exactly :func:`lbsm.train.adam_step`."""
    ghost = resolve("ghost", cfg.method_args)["ghost"]
    return _adam(model, opt, xb, yb, cfg, lambda x: ghost_forward(model, x, ghost))


# ---------------------------------------------------------------------------------------------
# Learning-rate scaling with warm-up
# ---------------------------------------------------------------------------------------------

ITERATION_KEY = "lbsm_iteration"  # in opt.param_groups[0]: saved with opt.state_dict() in resume.pt


def iterations_per_epoch(cfg) -> int:
    """Minibatches per epoch of ``cfg``'s run (the last, smaller one kept, as the trainer does),
    from the size of its training set: ``train_subset``, else the whole set's (lb_batch's rule; a
    data set handed to ``fit`` directly is taken to have that size)."""
    n = cfg.train_subset or TRAIN_SIZES[cfg.dataset]
    return math.ceil(n / cfg.batch_size)


def scaled_lr(lr: float, batch_size: int, iteration: int, iters_per_epoch: int, rule: str = "linear",
              base_batch: int = SB_BATCH, warmup_epochs: float = 5) -> float:
    """The learning rate of step ``iteration`` (0-based): ``lr * k``, ``k = batch_size / base_batch``
    (``rule="linear"``) or its square root (``"sqrt"``), reached by a linear ramp from ``lr`` over the
    first ``warmup_epochs * iters_per_epoch`` steps (Goyal et al.'s gradual warm-up: a constant
    increase per iteration, ``lr`` at iteration 0 and ``k lr`` at the end of the warm-up)."""
    if rule not in SCALING_RULES:
        raise ValueError(f"rule must be one of {', '.join(SCALING_RULES)}, got {rule!r}")
    ratio = batch_size / base_batch
    k = ratio if rule == "linear" else math.sqrt(ratio)
    warmup = warmup_epochs * iters_per_epoch
    if iteration >= warmup:
        return lr * k
    return lr * (1 + (k - 1) * iteration / warmup)


def scaled_step(model, opt, xb, yb, cfg) -> torch.Tensor:
    """One plain ADAM step at the learning rate of Goyal et al. (2017, "Accurate, Large Minibatch
    SGD: Training ImageNet in 1 Hour"): ``cfg.lr`` scaled by ``k = B / base_batch`` (``rule``
    "linear", theirs, for SGD) or by ``sqrt(k)`` ("sqrt": Hoffer et al. 2017's rule, which keeps the
    covariance of the update; also the rule Malladi et al., 2022, derive for ADAM), after a linear
    warm-up over ``warmup_epochs`` epochs, iteration by iteration (:func:`scaled_lr`; defaults
    linear, base_batch 256, 5 epochs).
    B is ``cfg.batch_size``; the iteration count lives in ``opt.param_groups[0]`` under
    :data:`ITERATION_KEY`, so it is saved and restored with the optimizer state (resume.pt) and a
    resumed run continues the same schedule. ``linear`` with B = base_batch and no warm-up is
    exactly :func:`lbsm.train.adam_step`."""
    args = resolve("scaled", cfg.method_args)
    first = opt.param_groups[0]
    t = int(first.get(ITERATION_KEY, 0))
    lr = scaled_lr(cfg.lr, cfg.batch_size, t, iterations_per_epoch(cfg), args["rule"],
                   args["base_batch"], args["warmup_epochs"])
    for group in opt.param_groups:
        group["lr"] = lr
    first[ITERATION_KEY] = t + 1
    return _adam(model, opt, xb, yb, cfg, model)


METHODS = {"sam": sam_step, "asam": asam_step, "ghost": ghost_step, "scaled": scaled_step}
