"""A 2-D loss surface around a minimizer in filter-normalized random directions (Li et al. 2018).

"Visualizing the Loss Landscape of Neural Nets" (NeurIPS 2018) plots f(w + a d1 + b d2) on a grid
of (a, b), with d1, d2 random directions made comparable to the weights filter by filter:

* each direction is drawn i.i.d. N(0, 1), with the shape of every trainable parameter, from a
  seeded CPU ``torch.Generator`` (d1 for every parameter in ``named_parameters`` order, then d2),
  so the directions are the same on every device;
* filter normalization: every filter d_{i,j} (a row of a Linear weight, an output channel of a
  Conv weight, i.e. index j of the first dimension) is rescaled to the norm of the minimizer's
  filter, d_{i,j} <- d_{i,j} / ||d_{i,j}|| * ||w_{i,j}||; a weight filter of norm 0 gets a zero
  direction;
* biases and BatchNorm gamma/beta (every parameter with at most one dimension) are 0 in both
  directions, as the authors' ``ignore="biasbn"``: the surface moves weights only. BatchNorm running
  statistics are buffers and are not moved either (they matter only under ``bn="running"``).

f and the accuracy come from ``lbsm.analyses.landscape.loss_and_accuracy`` on the given (x, y),
under the BatchNorm policy ``bn`` (default ``"batch"``, the official Keras mode) and in evaluation
batches of ``batch_size``; the loss is the plain cross-entropy (``prob_clip=None``, the training
objective), not the clipped Keras value of the parametric plots. Each grid point sets the weights
to w + a d1 + b d2 directly (never by accumulating steps, which is how the ``loss-landscapes``
package came to shift its rows), and the minimizer's weights are restored afterwards, also on error.
"""
from __future__ import annotations

import pandas as pd
import torch
from torch import nn

from ..core.constants import EVAL_BATCH
from .landscape import loss_and_accuracy


def random_direction(model: nn.Module, gen: torch.Generator) -> dict[str, torch.Tensor]:
    """One filter-normalized Gaussian direction: {parameter name: tensor shaped as it}."""
    out = {}
    for name, w in model.named_parameters():
        if not w.requires_grad:
            continue
        if w.dim() <= 1:  # bias or BatchNorm gamma/beta: not moved
            out[name] = torch.zeros_like(w)
            continue
        d = torch.randn(w.shape, generator=gen, dtype=torch.float32).to(w.device, w.dtype)
        w_norm = torch.linalg.vector_norm(w.detach().reshape(len(w), -1), dim=1)
        d_norm = torch.linalg.vector_norm(d.reshape(len(d), -1), dim=1)
        factor = torch.where(w_norm > 0, w_norm / d_norm, torch.zeros_like(w_norm))
        out[name] = (d.reshape(len(d), -1) * factor[:, None]).reshape(w.shape)
    return out


def directions(model: nn.Module, seed: int = 0) -> tuple[dict, dict]:
    """(d1, d2): two filter-normalized directions drawn in that order from one seeded generator."""
    gen = torch.Generator().manual_seed(seed)
    d1 = random_direction(model, gen)
    return d1, random_direction(model, gen)


@torch.no_grad()
def loss_surface(model: nn.Module, x: torch.Tensor, y: torch.Tensor, coords_a, coords_b, seed: int = 0,
                 bn: str = "batch", batch_size: int = EVAL_BATCH) -> pd.DataFrame:
    """f(w + a d1 + b d2) and the accuracy (%) on (x, y) for every a in ``coords_a`` and b in
    ``coords_b``: one row per point, columns a, b, loss, accuracy, in the order a-major.

    ``model`` is the minimizer; its parameters are changed during the evaluation and restored
    (bit for bit) before returning.
    """
    d1, d2 = directions(model, seed)
    params = {k: p for k, p in model.named_parameters() if k in d1}
    w0 = {k: p.detach().clone() for k, p in params.items()}
    rows = []
    try:
        for a in coords_a:
            for b in coords_b:
                for k, p in params.items():
                    p.copy_(w0[k] + float(a) * d1[k] + float(b) * d2[k])
                loss, acc = loss_and_accuracy(model, x, y, batch_size, bn, prob_clip=None)
                rows.append(dict(a=float(a), b=float(b), loss=loss, accuracy=acc))
    finally:
        for k, p in params.items():
            p.copy_(w0[k])
    return pd.DataFrame(rows, columns=["a", "b", "loss", "accuracy"])
