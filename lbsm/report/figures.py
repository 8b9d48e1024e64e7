"""Every figure of the book: ours beside (or over) the paper's plotted series (``lbsm.core.paper``).

Each ``plot_*`` returns a closed matplotlib figure, shown with :func:`lbsm.report.render.figure`;
SB is blue and LB red throughout (``report.SB_COLOR`` / ``report.LB_COLOR``), in the book's style
(``lbsm.report.style``: ``style.WIDTH`` inches wide, one panel per row, ours above the paper's,
text of at least 9 pt, one legend under the panels). Panel titles name the paper's figures as
"the paper's Figure N", never our "Fig. N". In chapter order: the paper's Figure 2 (gap), the
sharpness bars (its Tables 3 and 4), its Figures 3 and 7 (interpolation), 4-6 (small_batches) and
the E.3 parametric plots (remedies); the intro's figures are in ``intro_figures``.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..core import paper
from ..core.constants import EPS, eps_label
from .render import LB_COLOR, PAPER_FIG_NET, SB_COLOR
from ..core.constants import sharpness_col
from ..experiments.plans import Result
from ..experiments.sensitivity import LABELS, _paper_values
from ..experiments.trials import Trained
from . import style
from .intro_figures import VERDICT_COLORS, plot_summary, plot_verdict_grid, summary_frame  # noqa: F401


def _done(fig, ncol: int = 2):
    """Log axes tidied, one legend under the panels, the figure closed (``style.finish``)."""
    return style.finish(fig, ncol)


# --------------------------------------------------------------------------- gap chapter
def _history_mean(runs, col: str) -> pd.DataFrame:
    h = pd.concat([r.history[["epoch", col]].assign(seed=r.config.seed) for r in runs])
    return h.groupby("epoch")[col].agg(["mean", "min", "max"]).reset_index()


def plot_accuracy(T: Trained, nets=None):
    """The paper's Figure 2: train (dashed) / test (solid) accuracy per epoch, SB blue, LB red, one
    panel per net (in rows).

    Lines are means over seeds with the min-max band; the paper's single-run series (Fig2a_F2,
    Fig2b_C1) are overlaid in thin dotted lines for the networks the paper plots.
    """
    nets = [n for n in (nets or T.nets) if n in T.pairs]
    fig, axes = style.rows(len(nets))
    for ax, net in zip(axes[:, 0], nets):
        for i, (regime, color) in enumerate((("SB", SB_COLOR), ("LB", LB_COLOR))):
            runs = [pair[i] for pair in T.pairs[net]]
            for split, ls in (("train", "--"), ("test", "-")):
                h = _history_mean(runs, f"{split}_acc")
                h = h[h.epoch > 0]
                ax.plot(h.epoch, h["mean"], ls, color=color, marker="." if len(h) < 10 else None,
                        label=f"{regime}-{split} (ours)")
                if len(runs) > 1:
                    ax.fill_between(h.epoch, h["min"], h["max"], color=color, alpha=0.15, lw=0)
        key = {"F2": "Fig2a_F2", "C1": "Fig2b_C1"}.get(net)
        if key:
            for name, g in paper.figure(key).groupby("series", sort=False):
                regime, split = name.split("_")
                ax.plot(g.x, g.y, ":" if split == "train" else "-.", lw=1, alpha=0.7,
                        color="navy" if regime == "SB" else "darkred", label=f"{regime}-{split} (paper)")
        ax.set(xlabel="epoch", ylabel="accuracy (%)",
               title=f"{net}" + (f": the paper's Figure 2, {net}" if key else
                                 " (not plotted in the paper's Figure 2)"))
        ax.grid(alpha=0.3)
    return _done(fig)


# --------------------------------------------------------------------------- sharpness chapter
def plot_sharpness(t3: pd.DataFrame, t4: pd.DataFrame):
    """Sharpness (log scale) of SB and LB minimizers, ours (bars, ± sd over trials) vs the paper
    (black markers, ± 2 of its sd: the band the verdict rule accepts); the paper's Table 3 (full
    space) above its Table 4 (random subspace).

    Bars below 1e-3 are drawn at 1e-3 (the tables give the values).
    """
    tabs = [(t, title) for t, title in ((t3, "the paper's Table 3: full space"),
                                        (t4, "the paper's Table 4: random subspace")) if not t.empty]
    fig, axes = style.rows(len(tabs))
    for ax, (t, title) in zip(axes[:, 0], tabs):
        t = t[t.index.get_level_values("regime") != "LB/SB"]
        labels = [f"{n}\neps {e}" for n, e, _ in t.index[::2]]
        x = np.arange(len(labels))
        for i, (regime, color) in enumerate((("SB", SB_COLOR), ("LB", LB_COLOR))):
            s = t.xs(regime, level="regime")
            ax.bar(x + (i - 0.5) * 0.38, s.ours.clip(lower=1e-3), 0.38, yerr=s.ours_sd.fillna(0),
                   color=color, alpha=0.8, label=f"{regime} (ours)")
            band = 2 * s.paper_sd.fillna(0)  # on a log axis the lower arm stops short of zero
            ax.errorbar(x + (i - 0.5) * 0.38, s.paper, yerr=[np.minimum(band, 0.9 * s.paper), band],
                        fmt="k_" if i else "kx",
                        ms=10, capsize=3, label=f"{regime} (paper, ± 2 sd)")
        ax.set(yscale="log", xticks=x, xticklabels=labels, ylabel="sharpness (Metric 2.1)", title=title)
        ax.grid(alpha=0.3, axis="y")
    return _done(fig)


# --------------------------------------------------------------------------- interpolation chapter
def plot_parametric(curves: pd.DataFrame, kind: str = "linear", nets=None):
    """The paper's Figures 3 / 7: loss (blue, left axis) and accuracy (red, right axis) along
    alpha, one panel per net (in rows); solid = training, dashed = testing; the paper's curves
    (Fig3_/Fig7_<net>) in thin lines (dotted = training, dash-dot = testing). alpha = 0 is the SB
    minimizer, alpha = 1 the LB minimizer. One pair per net, as the paper: the first trial (lowest
    seed); its seed is in the panel title. ``nets``: the panels to draw (default: the networks in
    ``curves``); a panel with no curves of ours shows the paper's alone and says so."""
    if nets is None:
        nets = list(dict.fromkeys(curves.net)) if len(curves) else []
    fig, axes = style.rows(len(nets), height=2.8)
    key = "Fig3" if kind == "linear" else "Fig7"
    for ax, net in zip(axes[:, 0], nets):
        ax2 = ax.twinx()
        c = curves[curves.net == net] if len(curves) else curves
        if "seed" in c:
            c = c[c.seed == c.seed.min()]
        for split, ls in (("train", "-"), ("test", "--")) if len(c) else ():
            s = c[c.split == split].sort_values("alpha")
            ax.plot(s.alpha, s.loss, ls, color=SB_COLOR, marker=".", label=f"loss {split} (ours)")
            ax2.plot(s.alpha, s.accuracy, ls, color=LB_COLOR, marker=".", label=f"accuracy {split} (ours)")
        drawn = paper.has_figure(f"{key}_{net}")
        if drawn:
            f = paper.figure(f"{key}_{net}")
            for name, g in f.groupby("series", sort=False):
                what, split = name.split("_")
                (ax if what == "loss" else ax2).plot(g.x, g.y, ":" if split == "train" else "-.",
                                                      lw=1, alpha=0.7,
                                                      color="navy" if what == "loss" else "darkred",
                                                      label=f"{what} {split} (paper)")
        seed = f", seed {int(c.seed.iloc[0])}" if "seed" in c and len(c) else (
            "" if len(c) else ", ours not yet computed")
        where = f"the paper's Figure {key[3:]}, {net}" if drawn else f"not in the paper's Figure {key[3:]}"
        ax.set(xlabel="alpha", ylabel="cross-entropy", title=f"{net}{seed}, {kind} path\n({where})")
        ax2.set_ylabel("accuracy (%)")
        ax2.set_ylim(0, 100)
        for a in (0, 1):
            ax.axvline(a, color="grey", lw=0.6, alpha=0.5)
    return _done(fig)


# --------------------------------------------------------------------------- small_batches chapter
def _paper_twin(ax, key: str, title: str):
    """The paper's Figure 4 panel ``key``: accuracy (blue) and sharpness on a twin axis (red)."""
    f = paper.figure(key)
    a = f[f.series == "test_acc"]
    ax.plot(a.x, a.y, color=SB_COLOR, label="test accuracy")
    ax2 = ax.twinx()
    for e, ls in zip(("1e-3", "5e-4"), ("-", "--")):
        s = f[f.series == f"sharpness_eps{e}"]
        ax2.plot(s.x, s.y, ls, color=LB_COLOR, label=f"sharpness eps {e}")
    ax.set(xscale="log", xlabel="batch size", ylabel="test accuracy (%)", title=title)
    ax2.set(ylabel="sharpness")
    return ax2


def plot_fig4(R: Result, knees: pd.DataFrame):
    """The paper's Figure 4, ours (mean over seeds, knee dotted) above the paper's panel."""
    nets = R.nets or ["—"]
    fig, axes = style.rows(2 * len(nets))
    for i, net in enumerate(nets):
        ax, ref_ax = axes[2 * i, 0], axes[2 * i + 1, 0]
        if net in R.nets:
            d = R.data[R.data.net == net].groupby("batch_size").mean(numeric_only=True)
            ax.plot(d.index, d.test_acc, "o-", color=SB_COLOR, label="test accuracy")
            ax2 = ax.twinx()
            for e, ls in zip(EPS, ("-", "--")):
                ax2.plot(d.index, d[sharpness_col(e)], ls, marker="s", ms=3,
                         color=LB_COLOR, label=f"sharpness eps {eps_label(e)}")
            if not math.isnan(knees.loc[net, "knee (ours)"]):
                ax.axvline(knees.loc[net, "knee (ours)"], color="grey", ls=":", label="knee")
            ax.set(xscale="log", xlabel="batch size", ylabel="test accuracy (%)", title=f"{net} (ours)")
            ax2.set(ylabel="sharpness")
        else:
            ax.set_axis_off()
        ref = PAPER_FIG_NET.get(net)
        if ref:
            _paper_twin(ref_ax, f"Fig4_{ref}", f"{ref}: the paper's Figure 4, {ref}")
            ref_ax.axvline(paper.statement("threshold_batch_size")[ref], color="grey", ls=":", label="knee")
        else:
            ref_ax.set_axis_off()
    return _done(fig)


def plot_fig5(R: Result):
    """The paper's Figure 5 per network: test accuracy of the SB iterate and of the warm-started
    LB solution, then LB sharpness at both eps (log): ours (two panels) above the paper's (two)."""
    nets = R.nets or ["—"]
    fig, axes = style.rows(4 * len(nets), height=2.2)
    for i, net in enumerate(nets):
        acc, sharp, p_acc, p_sharp = axes[4 * i: 4 * i + 4, 0]
        if net in R.nets:
            d = R.data[R.data.net == net].sort_values("sb_epoch")
            acc.plot(d.sb_epoch, d.sb_test_acc, "o-", color=SB_COLOR, label="SB iterate")
            acc.plot(d.sb_epoch, d.lb_test_acc, "s-", color=LB_COLOR, label="warm-started LB")
            for e, ls in zip(EPS, ("-", "--")):
                sharp.plot(d.sb_epoch, d[sharpness_col(e)].clip(lower=1e-4), ls, marker="s",
                           ms=3, color=LB_COLOR, label=f"LB sharpness eps {eps_label(e)}")
            acc.set(ylabel="test accuracy (%)", title=f"{net} (ours): test accuracy")
            sharp.set(yscale="log", xlabel="epoch of SB training", ylabel="sharpness",
                      title=f"{net} (ours): LB sharpness")
        else:
            acc.set_axis_off(), sharp.set_axis_off()
        ref = PAPER_FIG_NET.get(net)
        if ref:
            f = paper.figure(f"Fig5_{ref}")
            s = {k: g for k, g in f.groupby("series")}
            p_acc.plot(s["SB_test_acc"].x, s["SB_test_acc"].y, color=SB_COLOR, label="SB iterate")
            p_acc.plot(s["piggybackLB_test_acc"].x, s["piggybackLB_test_acc"].y, color=LB_COLOR,
                       label="warm-started LB")
            p_sharp.plot(s["piggybackLB_sharpness_eps1e-3"].x, s["piggybackLB_sharpness_eps1e-3"].y, "-",
                         color=LB_COLOR, label="LB sharpness eps 1e-3")
            g = s["piggybackLB_sharpness_second_eps_legend_5E-3"]
            p_sharp.plot(g.x, g.y, "--", color=LB_COLOR, label="paper: second eps (legend '5E-3')")
            p_acc.set(ylabel="test accuracy (%)", title=f"{ref}: the paper's Figure 5, {ref}")
            p_sharp.set(yscale="log", xlabel="epoch of SB training", ylabel="sharpness",
                        title=f"{ref}: the paper's Figure 5, {ref}, sharpness")
        else:
            p_acc.set_axis_off(), p_sharp.set_axis_off()
    return _done(fig)


def plot_fig6(R: Result):
    """The paper's Figure 6: sharpness against training loss along the SB and LB runs, log-log with
    the loss decreasing to the right as the paper draws it; ours above the paper's."""
    nets = R.nets or ["—"]
    fig, axes = style.rows(2 * len(nets))
    styles = {("SB", 0): ("o--", SB_COLOR), ("SB", 1): (":", SB_COLOR),
              ("LB", 0): ("s-", LB_COLOR), ("LB", 1): ("--", LB_COLOR)}
    for i, net in enumerate(nets):
        row = axes[2 * i: 2 * i + 2, 0]
        if net in R.nets:
            d = R.data[R.data.net == net]
            for (regime, k), (ls, color) in styles.items():
                g = d[d.regime == regime].sort_values("train_loss")
                row[0].plot(g.train_loss, g[sharpness_col(EPS[k])].clip(lower=1e-4), ls,
                            color=color, ms=3, label=f"{regime} eps {eps_label(EPS[k])}")
            row[0].set(title=f"{net} (ours)")
        ref = PAPER_FIG_NET.get(net)
        if ref:
            f = paper.figure(f"Fig6_{ref}")
            for (regime, k), (ls, color) in styles.items():
                g = f[f.series == f"{regime}_eps{('1e-3', '5e-4')[k]}"]
                row[1].plot(g.x, g.y, ls.replace("o", "").replace("s", ""), color=color,
                            label=f"{regime} eps {eps_label(EPS[k])}")
            row[1].set(title=f"{ref}: the paper's Figure 6, {ref}")
        for ax in row:
            if ax.lines:
                ax.set(xscale="log", yscale="log", xlabel="training cross-entropy loss", ylabel="sharpness")
                ax.invert_xaxis()
            else:
                ax.set_axis_off()
    return _done(fig)


# --------------------------------------------------------------------------- remedies chapter
def plot_robust_parametric(pp: pd.DataFrame):
    """E.3 parametric plots: loss (above) and accuracy (below) along x(alpha) = alpha x_LB +
    (1 - alpha) x_SB for each LB variant; train solid, test dashed; two rows per network."""
    nets = list(pp.net.unique()) if not pp.empty else ["—"]
    fig, axes = style.rows(2 * len(nets))
    colors = {"LB": "black", "LB + adversarial": LB_COLOR, "LB + stability": "tab:green"}
    for i, net in enumerate(nets):
        row = axes[2 * i: 2 * i + 2, 0]
        d = pp[pp.net == net] if not pp.empty else pp
        for (variant, split), g in (d.groupby(["variant", "split"], sort=False) if len(d) else []):
            for ax, col in zip(row, ("loss", "accuracy")):
                ax.plot(g.alpha, g[col], "-" if split == "train" else "--",
                        color=colors.get(variant, "grey"), label=f"{variant}, {split}")
        row[0].set(yscale="log", xlabel="alpha", ylabel="cross-entropy", title=f"{net}: loss")
        row[1].set(xlabel="alpha", ylabel="accuracy (%)", title=f"{net}: accuracy")
        for ax in row:
            ax.grid(alpha=0.3)
    return _done(fig)


# --------------------------------------------------------------------------- sensitivity chapter
def plot_sensitivity(df: pd.DataFrame, choice: str):
    """Metric 2.1 of the SB (blue) and LB (red) minimizers under each setting of one unstated
    choice (log scale), the baseline setting ringed, the paper's Table 3 values as dashed lines."""
    import matplotlib.pyplot as plt
    d = df[df.choice == choice]
    if "seed" in d:  # a choice retrained for several trials: the figure is the first trial's
        d = d[d.seed == d.seed.min()]
    fig, ax = plt.subplots(figsize=(style.WIDTH, 3.0), layout="constrained")
    settings = list(dict.fromkeys(d.setting))
    x = np.arange(len(settings))
    p_sb, p_lb = _paper_values(df.attrs.get("net", "F1"), df.attrs.get("eps", 1e-3))
    for regime, color, pval in (("SB", SB_COLOR, p_sb), ("LB", LB_COLOR, p_lb)):
        g = d[d.regime == regime].set_index("setting").loc[settings]
        ax.plot(x, g.sharpness.clip(lower=1e-6), "o-", color=color, label=f"{regime} (ours)")
        base = g.baseline.to_numpy()
        ax.plot(x[base], g.sharpness.clip(lower=1e-6)[base], "o", ms=12, mfc="none", color=color)
        ax.axhline(pval, color=color, ls="--", lw=1, alpha=0.7, label=f"{regime} (the paper's Table 3)")
    ax.set(xticks=x, xticklabels=[style.wrap(s, 12) for s in settings], yscale="log",
           xlabel=LABELS[choice], ylabel=f"sharpness, eps {df.attrs.get('eps', 1e-3):g}",
           title=style.wrap(f"{df.attrs.get('net', '')}: {LABELS[choice]} (ringed: the study's baseline)", 44))
    ax.grid(alpha=0.3, axis="y")
    return _done(fig)
