"""Dot plots beside the tables that are hard to read as numbers: ours against the paper's value or
interval, one row (or one point) per row of the table, so the comparison is seen, not computed.

    plot_knees(knees)      the Figure 4 threshold batch size (knee_table), as a fraction of the data
    plot_cone(R)           the 'not a cone' rises along random directions (the cone Result)
    plot_closing(summ)     each sensitivity setting's (SB, LB) Table 3 values against the paper's box

Each returns a closed matplotlib figure for :func:`lbsm.report.render.figure` (the book's style,
``lbsm.report.style``: ``style.WIDTH`` wide, text of at least 9 pt, the legend under the plot;
SB blue, LB red).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..core import paper
from ..core.constants import eps_label
from ..experiments.sensitivity import LABELS
from . import style
from .render import LB_COLOR, SB_COLOR


def plot_knees(knees: pd.DataFrame):
    """Per network: our knee (dot) and the paper's knee (stated: diamond; our rule on the paper's
    plotted curve: open circle, the two joined as the paper's range), as a fraction of the
    training set (log scale), so F1 on MNIST reads against F2 on TIMIT."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(style.WIDTH, 1.9 + 0.45 * max(1, len(knees))), layout="constrained")
    for i, (net, row) in enumerate(knees.iterrows()):
        ax.plot(row["knee / training set (ours)"], i, "o", color="k", ms=7,
                label="ours" if i == 0 else None)
        stated = row["knee / training set (paper)"]
        if pd.notna(stated):
            # the paper's knee in examples, read on its curve by our rule, as the same fraction
            curve = stated * row["knee (paper curve, our rule)"] / row["knee (paper, stated)"]
            ax.plot([min(stated, curve), max(stated, curve)], [i, i], "-", color="0.6", lw=4,
                    alpha=0.6, label="paper: stated to our rule on its curve" if i == 0 else None)
            ax.plot(stated, i, "D", color="0.35", label="paper (stated)" if i == 0 else None)
            ax.plot(curve, i, "o", mfc="none", color="0.35", label="paper (its curve, our rule)"
                    if i == 0 else None)
    ax.set(yticks=range(len(knees)), yticklabels=[f"{n} (paper: {r['paper net']})" for n, r in
                                                  knees.iterrows()],
           xscale="log", xlabel="threshold batch size / training examples", ylim=(-0.6, len(knees) - 0.4))
    ax.grid(alpha=0.3, axis="x")
    return style.finish(fig, ncol=1)


def plot_cone(R):
    """``R``: the cone Result. Per (network, minimizer): the rise along each random vertex direction relative to the
    Metric 2.1 reference (one dot per direction; linear within ±0.01, log beyond), the steep threshold as a
    dashed line, and the share of steep directions beside the paper's '5 % of the space'."""
    import matplotlib.pyplot as plt
    data = R.data
    groups = list(data.groupby(["net", "label"], sort=False)) if len(data) else []
    fig, ax = plt.subplots(figsize=(style.WIDTH, 1.6 + 0.75 * max(1, len(groups))), layout="constrained")
    rng = np.random.default_rng(0)  # jitter only; the values are the CSV's
    share = paper.statement("not_a_cone_fraction")["value"]
    for i, ((net, label), g) in enumerate(groups):
        color = LB_COLOR if str(label).upper().startswith("LB") else SB_COLOR
        ax.plot(g.relative, i + rng.uniform(-0.15, 0.15, len(g)), "o", ms=3, alpha=0.6, color=color)
        ax.annotate(f"steep: {100 * g.steep.mean():.0f} % of {len(g)} (paper: {100 * share:g} % of the space)",
                    (0.02, i + 0.42), xycoords=("axes fraction", "data"), va="bottom")
    specs = R.specs.values() if isinstance(R.specs, dict) else R.specs
    for threshold in sorted({s.threshold for s in specs}):
        ax.axvline(threshold, color="k", ls="--", lw=1, label=f"steep: rise >= {threshold:g} x reference")
    ax.set(yticks=range(len(groups)), yticklabels=[f"{n} {lab}" for (n, lab), _ in groups],
           xlabel="rise along a random direction\n/ Metric 2.1 reference",
           ylim=(-0.6, len(groups) + 0.1))
    ax.set_xscale("symlog", linthresh=0.01)
    ax.set_xticks([-0.01, 0, 0.01, 0.1, 1], ["-0.01", "0", "0.01", "0.1", "1"])
    ax.grid(alpha=0.3, axis="x")
    return style.finish(fig, ncol=1)


def plot_closing(summ: pd.DataFrame):
    """Every setting of every unstated choice as one point (SB sharpness, LB sharpness), log-log,
    against the paper's Table 3 box (its mean ± 2 sd for SB and LB): a setting that moves our
    numbers into the box closes the distance; the study's baseline settings are the black ring."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(style.WIDTH, 3.6), layout="constrained")
    if len(summ):
        net, eps = summ.attrs.get("net", "F1"), summ.attrs.get("eps", 1e-3)
        t3, col = paper.table(3), eps_label(eps)
        sb, lb = t3.loc[net, f"sb_{col}"], t3.loc[net, f"lb_{col}"]
        sb_sd, lb_sd = t3.loc[net, f"sb_{col}_sd"], t3.loc[net, f"lb_{col}_sd"]
        lo_sb, lo_lb = max(sb - 2 * sb_sd, sb / 10), max(lb - 2 * lb_sd, lb / 10)
        ax.add_patch(plt.Rectangle((lo_sb, lo_lb), sb + 2 * sb_sd - lo_sb, lb + 2 * lb_sd - lo_lb,
                                   color="0.85", zorder=0, label="paper's Table 3, mean ± 2 sd"))
        ax.plot(sb, lb, "k+", ms=10, label="paper's mean")
        markers = dict(zip(dict.fromkeys(summ.choice), "os^vDPX*"))
        for c, g in summ.groupby("choice", sort=False):
            ax.plot(g.sharpness_sb, g.sharpness_lb, markers[c], ms=6, alpha=0.8, label=LABELS[c])
        base = summ[summ.baseline]
        ax.plot(base.sharpness_sb, base.sharpness_lb, "o", ms=13, mfc="none", color="k",
                label="the study's baseline")
        ax.set(xlabel=f"SB sharpness ({net}, eps {eps:g})", ylabel=f"LB sharpness ({net}, eps {eps:g})")
    ax.set(xscale="log", yscale="log")
    ax.grid(alpha=0.3)
    return style.finish(fig, ncol=2)
