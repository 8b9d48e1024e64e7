"""A function-preserving reparametrization: rescale a layer that feeds a BatchNorm (Dinh et al. 2017).

BatchNorm divides its input by the input's standard deviation, so a Linear or Conv2d layer
directly followed by a BatchNorm can have its weight and bias multiplied by any alpha > 0
without changing the function the network computes::

    BN(alpha (W x + b)) = BN(W x + b)

The paper's Metric 2.1 bounds each perturbation by eps (|x_i| + 1), which is not proportional to
|x_i|: the rescaled weights get a relatively smaller (alpha > 1) or larger (alpha < 1) box, so
the metric changes while the network does not. This is Dinh et al.'s objection ("Sharp Minima
Can Generalize For Deep Nets", ICML 2017) to any sharpness measure that is not invariant under
such symmetries; ``lbsm.analyses.adaptive`` is a measure that is.

What "unchanged" needs, exactly:

* train-mode statistics (policy ``"batch"``): the batch mean and variance of alpha z are alpha
  times and alpha^2 times those of z, so the normalized value is the same; BatchNorm's eps
  (added to the variance) is multiplied by alpha^2 too, or the identity holds only up to
  eps / var (for alpha = 0.1 and pre-activation variances ~1e-2 that is a 1e-2 relative change);
* running statistics (policy ``"running"``): running_mean is multiplied by alpha and running_var
  by alpha^2 (and eps by alpha^2, as above), so the evaluation-mode function is unchanged as well.

BatchNorm's gamma and beta, and every other layer, are left as they are.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from ..core import validate

RESCALABLE = (nn.Linear, nn.Conv2d)


def bn_fed_layers(model: nn.Module) -> list[tuple[str, nn.Module, nn.modules.batchnorm._BatchNorm]]:
    """Every (name, layer, batchnorm) where a Linear or Conv2d is followed directly by a BatchNorm
    in some ``nn.Sequential`` of ``model``, in module order (F1: the five hidden layers)."""
    out = []
    for prefix, seq in model.named_modules():
        if not isinstance(seq, nn.Sequential):
            continue
        children = list(seq.named_children())
        for (name, m), (_, nxt) in zip(children, children[1:]):
            if isinstance(m, RESCALABLE) and isinstance(nxt, nn.modules.batchnorm._BatchNorm):
                out.append((f"{prefix}.{name}" if prefix else name, m, nxt))
    return out


@torch.no_grad()
def rescale_before_batchnorm(model: nn.Module, alpha: float, layer: int | str | None = None) -> nn.Module:
    """A copy of ``model`` with the weight and bias of BatchNorm-fed layers multiplied by alpha.

    ``layer``: None rescales every such layer (``bn_fed_layers``); an int is the position in that
    list; a str is the layer's module name (e.g. ``"0"`` for F1's first Linear). The following
    BatchNorm's running_mean is multiplied by alpha, running_var and eps by alpha^2, so the
    network computes the same function under both BatchNorm policies (module docstring). The
    input model is not modified.
    """
    validate.finite_positive_float("alpha", alpha)
    net = copy.deepcopy(model)
    pairs = bn_fed_layers(net)
    if not pairs:
        raise ValueError("the model has no Linear or Conv2d layer followed directly by a BatchNorm")
    if layer is None:
        chosen = pairs
    elif isinstance(layer, str):
        chosen = [p for p in pairs if p[0] == layer]
        if not chosen:
            raise ValueError(f"{layer!r} is not a layer followed by a BatchNorm; "
                             f"choose one of {', '.join(p[0] for p in pairs)}")
    else:
        if not -len(pairs) <= layer < len(pairs):
            raise ValueError(f"layer {layer} out of range: the model has {len(pairs)} BatchNorm-fed layers")
        chosen = [pairs[layer]]
    for _, m, bn in chosen:
        m.weight.mul_(alpha)
        if m.bias is not None:
            m.bias.mul_(alpha)
        if bn.running_mean is not None:
            bn.running_mean.mul_(alpha)
            bn.running_var.mul_(alpha * alpha)
        bn.eps = bn.eps * alpha * alpha
    return net
