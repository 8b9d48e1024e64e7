"""The figures of the chapter "Beyond the paper": the methods' test accuracy against their sharpness,
the reparametrization, the two loss surfaces on one colour scale, the gradient noise scale and the
scatter grid of every measure against test error and the gap. Each returns a closed matplotlib
figure (shown with :func:`lbsm.report.render.figure`) in the book's style (``lbsm.report.style``:
one panel per row, text of at least 9 pt, one legend under the panels); SB blue, LB red as
everywhere."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..core.constants import eps_label, sharpness_col
from ..experiments.beyond import LABELS
from . import style
from .beyond import MEASURE_LABELS
from .render import LB_COLOR, SB_COLOR

COLORS = {"SB": SB_COLOR, "LB": LB_COLOR, "linear": "tab:orange", "sqrt": "tab:olive",
          "longer": "tab:brown", "ghost": "tab:purple", "sam": "tab:green", "asam": "tab:cyan",
          "SB twin": "lightsteelblue", "LB twin": "lightcoral"}


def _close(fig, ncol: int = 2):
    return style.finish(fig, ncol)


def plot_closing(df: pd.DataFrame, eps: float = 1e-3):
    """Per network: test accuracy against Metric 2.1 (above) and against the top Hessian eigenvalue
    (below), one marker per run, each method's mean with its sd as error bars."""
    nets = list(dict.fromkeys(df.net))
    fig, axes = style.rows(2 * len(nets), height=2.8)
    for i, net in enumerate(nets):
        row = axes[2 * i: 2 * i + 2, 0]
        g = df[df.net == net]
        for ax, col, xl in ((row[0], sharpness_col(eps), f"Metric 2.1 (ε = {eps_label(eps)})"),
                            (row[1], "lambda_1", "top Hessian eigenvalue")):
            for arm, h in g.groupby("arm", sort=False):
                h = h.dropna(subset=[col])
                if h.empty:
                    continue
                c = COLORS.get(arm, "k")
                ax.scatter(h[col], h.test_acc, s=12, color=c, alpha=0.5)
                sd = h.test_acc.std() if len(h) > 1 else 0.0
                xsd = h[col].std() if len(h) > 1 else 0.0
                ax.errorbar(h[col].mean(), h.test_acc.mean(), yerr=sd, xerr=xsd, fmt="o", color=c,
                            ms=6, capsize=2, label=LABELS.get(arm, arm))
            ax.set_xscale("log")
            ax.set_xlabel(xl)
            ax.set_ylabel("test accuracy (%)")
            ax.set_title(net)
    return _close(fig, ncol=1)


def plot_reparam(rp: pd.DataFrame, eps=(1e-3, 5e-4)):
    """Metric 2.1 (above) and adaptive sharpness (below) of the rescaled SB and LB minimizers
    against alpha (log-log)."""
    nets = list(dict.fromkeys(rp.net))
    fig, axes = style.rows(2 * len(nets))
    for i, net in enumerate(nets):
        row = axes[2 * i: 2 * i + 2, 0]
        g = rp[rp.net == net]
        for k, c in (("SB", SB_COLOR), ("LB", LB_COLOR)):
            h = g[g.regime == k].sort_values("alpha")
            for e, ls in zip(eps, ("-", "--")):
                row[0].plot(h.alpha, h[sharpness_col(e)], ls, marker="o", ms=3, color=c,
                            label=f"{k}, ε = {eps_label(e)}")
            row[1].plot(h.alpha, h.adaptive_worst, "-", marker="o", ms=3, color=c, label=f"{k}, worst case")
            row[1].plot(h.alpha, h.adaptive_average, "--", marker="s", ms=3, color=c, label=f"{k}, average")
        for ax, yl in ((row[0], "Metric 2.1"), (row[1], "adaptive sharpness")):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(style.wrap("alpha (weights and bias before each BatchNorm × alpha)", 40))
            ax.set_ylabel(yl)
            ax.set_title(f"{net}: {yl} of the same function")
    return _close(fig)


def plot_surfaces(sf: pd.DataFrame):
    """Filled contours of the training loss around trial 0's SB and LB minimizers, one colour
    scale (log10 of the loss) for both panels of a network."""
    nets = list(dict.fromkeys(sf.net))
    fig, axes = style.rows(2 * len(nets), height=3.2)
    for i, net in enumerate(nets):
        row = axes[2 * i: 2 * i + 2, 0]
        g = sf[sf.net == net]
        z = np.log10(g.loss.clip(lower=1e-12))
        levels = np.linspace(float(z.min()), float(z.max()), 21)
        cs = None
        for ax, k in zip(row, ("SB", "LB")):
            h = g[g.regime == k].pivot_table(index="b", columns="a", values="loss")
            if h.empty:
                continue
            cs = ax.contourf(h.columns, h.index, np.log10(h.to_numpy().clip(1e-12)), levels=levels,
                             cmap="viridis")
            ax.plot([0], [0], "w*", ms=8)
            ax.set_title(f"{net} {k} minimizer")
            ax.set_xlabel("a (direction 1)")
            ax.set_ylabel("b (direction 2)")
            ax.set_aspect("equal")
        if cs is not None:
            fig.colorbar(cs, ax=list(row), label="log10 training loss", location="right", shrink=0.8)
    return _close(fig)


def plot_noise(nz: pd.DataFrame):
    """B_simple along the SB and LB twins' training (log scale; epoch 0 is the shared x0), with the
    SB and LB batch sizes as horizontal lines."""
    nets = list(dict.fromkeys(nz.net))
    fig, axes = style.rows(len(nets), height=3.0)
    for ax, net in zip(axes[:, 0], nets):
        g = nz[nz.net == net]
        for k, c in (("SB", SB_COLOR), ("LB", LB_COLOR)):
            h = g[g.regime == k].sort_values("epoch")
            ax.plot(h.epoch, h.b_simple, "-o", ms=4, color=c, label=f"B_simple along {k}")
        ax.axhline(g.sb_batch.iloc[0], color=SB_COLOR, ls="--", lw=1, label=f"SB batch = {int(g.sb_batch.iloc[0])}")
        ax.axhline(g.lb_batch.iloc[0], color=LB_COLOR, ls="--", lw=1, label=f"LB batch = {int(g.lb_batch.iloc[0])}")
        ax.set_yscale("log")
        ax.set_xlabel("epoch (0: x0)")
        ax.set_ylabel("B_simple = tr(Σ) / |G|²\n(examples)")
        ax.set_title(net)
    return _close(fig)


def plot_scatter_grid(models: pd.DataFrame, measures, taus: pd.DataFrame):
    """Every measure (one row each) against test error (left) and the gap (right), one point per
    stored run (the chapter's arms coloured, other runs grey), tau in each panel's title."""
    measures = [m for m in measures if m in models and models[m].notna().sum() >= 2] or list(measures)[:1]
    fig, axes = style.rows(len(measures), ncols=2, height=2.0, sharey="col")
    for j, m in enumerate(measures):
        for i, t in enumerate(("test_error", "gap")):
            ax = axes[j][i]
            for arm, h in models.groupby("arm", sort=False):
                ax.scatter(h[m], h[t], s=9, color=COLORS.get(arm, "0.6"), label=LABELS.get(arm, arm))
            v = models[m].dropna()
            if len(v) >= 2 and v.gt(0).all() and v.max() / v.min() > 10:
                ax.set_xscale("log")
            style.thin_ticks(ax, 3)
            k = taus[(taus.measure == m) & (taus.target == t)]
            tau = float(k.tau.iloc[0]) if len(k) else math.nan
            ax.set_title(f"τ = {tau:+.2f}" if not math.isnan(tau) else "τ undefined")
            ax.set_xlabel(style.wrap(MEASURE_LABELS.get(m, m), 22))
            ax.set_ylabel("test error (%)" if t == "test_error" else "train − test\naccuracy (points)")
    return _close(fig, ncol=2)
