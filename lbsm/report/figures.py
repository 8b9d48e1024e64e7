"""Every figure of the book: ours beside (or over) the paper's plotted series (``lbsm.core.paper``).

Each ``plot_*`` returns a closed matplotlib figure, shown with :func:`lbsm.report.show`; SB is
blue and LB red throughout (``report.SB_COLOR`` / ``report.LB_COLOR``). In chapter order: Fig. 2
(gap), the sharpness bars (Tables 3 and 4), Figs. 3 and 7 (interpolation), Figs. 4-6
(small_batches) and the E.3 parametric plots (remedies).
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

# Every figure at 150 dpi with text of at least 8 pt (what a reader sees on the page: the
# notebook's inline PNGs are drawn at figure.dpi); PNG output is byte-deterministic, so a
# re-render over unchanged results leaves the committed notebooks unchanged.
STYLE = {"figure.dpi": 150, "savefig.dpi": 150, "font.size": 9, "legend.fontsize": 8,
         "xtick.labelsize": 8, "ytick.labelsize": 8, "axes.titlesize": 9, "axes.labelsize": 9}


def _style() -> None:
    import matplotlib
    matplotlib.rcParams.update(STYLE)


_style()


# --------------------------------------------------------------------------- gap chapter
def _history_mean(runs, col: str) -> pd.DataFrame:
    h = pd.concat([r.history[["epoch", col]].assign(seed=r.config.seed) for r in runs])
    return h.groupby("epoch")[col].agg(["mean", "min", "max"]).reset_index()


def plot_accuracy(T: Trained, nets=None):
    """Fig. 2: train (dashed) / test (solid) accuracy per epoch, SB blue, LB red, one panel per net.

    Lines are means over seeds with the min-max band; the paper's single-run series (Fig2a_F2,
    Fig2b_C1) are overlaid in thin dotted lines for the networks the paper plots.
    """
    import matplotlib.pyplot as plt
    nets = [n for n in (nets or T.nets) if n in T.pairs]
    fig, axes = plt.subplots(1, max(1, len(nets)), figsize=(5.2 * max(1, len(nets)), 3.8), squeeze=False)
    for ax, net in zip(axes[0], nets):
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
               title=f"{net}" + (" (paper: Fig. 2)" if key else " (not plotted in the paper)"))
        ax.legend(fontsize=8, ncol=2)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    plt.close(fig)
    return fig


# --------------------------------------------------------------------------- sharpness chapter
def plot_sharpness(t3: pd.DataFrame, t4: pd.DataFrame):
    """Sharpness (log scale) of SB and LB minimizers, ours (bars, ± sd over trials) vs the paper
    (black markers, ± 2 of its sd: the band the verdict rule accepts).

    Bars below 1e-3 are drawn at 1e-3 (the tables give the values).
    """
    import matplotlib.pyplot as plt
    tabs = [(t, title) for t, title in ((t3, "Table 3: full space"), (t4, "Table 4: random subspace"))
            if not t.empty]
    fig, axes = plt.subplots(1, max(1, len(tabs)), figsize=(5.6 * max(1, len(tabs)), 3.6), squeeze=False)
    for ax, (t, title) in zip(axes[0], tabs):
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
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    plt.close(fig)
    return fig


# --------------------------------------------------------------------------- interpolation chapter
def plot_parametric(curves: pd.DataFrame, kind: str = "linear"):
    """Figs. 3 / 7: loss (blue, left axis) and accuracy (red, right axis) along alpha, one panel per
    net; solid = training, dashed = testing; the paper's curves (Fig3_/Fig7_<net>) in thin lines
    (dotted = training, dash-dot = testing). alpha = 0 is the SB minimizer, alpha = 1 the LB minimizer.
    One pair per net, as the paper: the first trial (lowest seed); its seed is in the panel title."""
    import matplotlib.pyplot as plt
    nets = list(dict.fromkeys(curves.net)) if len(curves) else []
    ncol = min(3, max(1, len(nets)))
    nrow = max(1, math.ceil(len(nets) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.8 * ncol, 3.4 * nrow), squeeze=False)
    key = "Fig3" if kind == "linear" else "Fig7"
    for ax, net in zip(axes.flat, nets):
        ax2 = ax.twinx()
        c = curves[curves.net == net]
        if "seed" in c:
            c = c[c.seed == c.seed.min()]
        for split, ls in (("train", "-"), ("test", "--")):
            s = c[c.split == split].sort_values("alpha")
            ax.plot(s.alpha, s.loss, ls, color=SB_COLOR, marker=".", label=f"loss {split} (ours)")
            ax2.plot(s.alpha, s.accuracy, ls, color=LB_COLOR, marker=".", label=f"accuracy {split} (ours)")
        if paper.has_figure(f"{key}_{net}"):
            f = paper.figure(f"{key}_{net}")
            for name, g in f.groupby("series", sort=False):
                what, split = name.split("_")
                (ax if what == "loss" else ax2).plot(g.x, g.y, ":" if split == "train" else "-.",
                                                      lw=1, alpha=0.7,
                                                      color="navy" if what == "loss" else "darkred",
                                                      label=f"{what} {split} (paper)")
        seed = f", seed {int(c.seed.iloc[0])}" if "seed" in c and len(c) else ""
        ax.set(xlabel="alpha", ylabel="cross-entropy", title=f"{net}{seed}: {kind} (paper: Fig. {key[3:]})")
        ax2.set_ylabel("accuracy (%)")
        ax2.set_ylim(0, 100)
        for a in (0, 1):
            ax.axvline(a, color="grey", lw=0.6, alpha=0.5)
    for ax in list(axes.flat)[len(nets):]:
        ax.set_visible(False)
    if nets:
        lines = [l for a in fig.axes for l in a.get_lines() if not l.get_label().startswith("_")]
        uniq = {l.get_label(): l for l in lines}
        fig.legend(list(uniq.values()), list(uniq.keys()), loc="lower center", ncol=4, fontsize=8,
                   bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    plt.close(fig)
    return fig


# --------------------------------------------------------------------------- small_batches chapter
def _paper_twin(ax, key: str, title: str):
    """The paper's Fig. 4 panel ``key``: accuracy (blue) and sharpness on a twin axis (red)."""
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
    """Fig. 4, ours (left: mean over seeds, knee dashed) beside the paper's panel (right)."""
    import matplotlib.pyplot as plt
    nets = R.nets or ["—"]
    fig, axes = plt.subplots(len(nets), 2, figsize=(11, 3.4 * len(nets)), squeeze=False)
    for row, net in zip(axes, nets):
        ax = row[0]
        if net in R.nets:
            d = R.data[R.data.net == net].groupby("batch_size").mean(numeric_only=True)
            ax.plot(d.index, d.test_acc, "o-", color=SB_COLOR, label="test accuracy")
            ax2 = ax.twinx()
            for e, ls in zip(EPS, ("-", "--")):
                ax2.plot(d.index, d[sharpness_col(e)], ls, marker="s", ms=3,
                         color=LB_COLOR, label=f"sharpness eps {eps_label(e)}")
            if not math.isnan(knees.loc[net, "knee (ours)"]):
                ax.axvline(knees.loc[net, "knee (ours)"], color="grey", ls=":", label="knee (ours)")
            ax.set(xscale="log", xlabel="batch size", ylabel="test accuracy (%)", title=f"{net} (ours)")
            ax2.set(ylabel="sharpness")
            ax2.legend(fontsize=8, loc="center right")
            ax.legend(fontsize=8, loc="lower left")
        ref = PAPER_FIG_NET.get(net)
        if ref:
            _paper_twin(row[1], f"Fig4_{ref}", f"{ref} (paper, Fig. 4)").legend(fontsize=8)
            row[1].axvline(paper.statement("threshold_batch_size")[ref], color="grey", ls=":")
        else:
            row[1].set_axis_off()
    fig.tight_layout()
    plt.close(fig)
    return fig


def plot_fig5(R: Result):
    """Fig. 5 per network: test accuracy of the SB iterate and of the warm-started LB solution
    (top), LB sharpness at both eps (bottom, log), ours (left) beside the paper's (right)."""
    import matplotlib.pyplot as plt
    nets = R.nets or ["—"]
    fig, axes = plt.subplots(2 * len(nets), 2, figsize=(11, 5.4 * len(nets)), squeeze=False,
                             sharex="col")
    for i, net in enumerate(nets):
        top, bot = axes[2 * i], axes[2 * i + 1]
        if net in R.nets:
            d = R.data[R.data.net == net].sort_values("sb_epoch")
            top[0].plot(d.sb_epoch, d.sb_test_acc, "o-", color=SB_COLOR, label="SB iterate")
            top[0].plot(d.sb_epoch, d.lb_test_acc, "s-", color=LB_COLOR, label="warm-started LB")
            for e, ls in zip(EPS, ("-", "--")):
                bot[0].plot(d.sb_epoch, d[sharpness_col(e)].clip(lower=1e-4), ls, marker="s",
                            ms=3, color=LB_COLOR, label=f"LB sharpness eps {eps_label(e)}")
            top[0].set(ylabel="test accuracy (%)", title=f"{net} (ours)")
            bot[0].set(yscale="log", xlabel="epoch of SB training", ylabel="sharpness")
            top[0].legend(fontsize=8), bot[0].legend(fontsize=8)
        ref = PAPER_FIG_NET.get(net)
        if ref:
            f = paper.figure(f"Fig5_{ref}")
            s = {k: g for k, g in f.groupby("series")}
            top[1].plot(s["SB_test_acc"].x, s["SB_test_acc"].y, color=SB_COLOR, label="SB iterate")
            top[1].plot(s["piggybackLB_test_acc"].x, s["piggybackLB_test_acc"].y, color=LB_COLOR,
                        label="warm-started LB")
            bot[1].plot(s["piggybackLB_sharpness_eps1e-3"].x, s["piggybackLB_sharpness_eps1e-3"].y, "-",
                        color=LB_COLOR, label="eps 1e-3")
            g = s["piggybackLB_sharpness_second_eps_legend_5E-3"]
            bot[1].plot(g.x, g.y, "--", color=LB_COLOR, label="second eps (legend '5E-3')")
            top[1].set(title=f"{ref} (paper, Fig. 5)")
            bot[1].set(yscale="log", xlabel="epoch of SB training")
            top[1].legend(fontsize=8), bot[1].legend(fontsize=8)
        else:
            top[1].set_axis_off(), bot[1].set_axis_off()
    fig.tight_layout()
    plt.close(fig)
    return fig


def plot_fig6(R: Result):
    """Fig. 6: sharpness against training loss along the SB and LB runs, log-log with the loss
    decreasing to the right as the paper draws it; ours (left) beside the paper's (right)."""
    import matplotlib.pyplot as plt
    nets = R.nets or ["—"]
    fig, axes = plt.subplots(len(nets), 2, figsize=(11, 3.8 * len(nets)), squeeze=False)
    styles = {("SB", 0): ("o--", SB_COLOR), ("SB", 1): (":", SB_COLOR),
              ("LB", 0): ("s-", LB_COLOR), ("LB", 1): ("--", LB_COLOR)}
    for row, net in zip(axes, nets):
        if net in R.nets:
            d = R.data[R.data.net == net]
            for (regime, i), (ls, color) in styles.items():
                g = d[d.regime == regime].sort_values("train_loss")
                row[0].plot(g.train_loss, g[sharpness_col(EPS[i])].clip(lower=1e-4), ls,
                            color=color, ms=3, label=f"{regime} eps {eps_label(EPS[i])}")
            row[0].set(title=f"{net} (ours)")
        ref = PAPER_FIG_NET.get(net)
        if ref:
            f = paper.figure(f"Fig6_{ref}")
            for (regime, i), (ls, color) in styles.items():
                g = f[f.series == f"{regime}_eps{('1e-3', '5e-4')[i]}"]
                row[1].plot(g.x, g.y, ls.replace("o", "").replace("s", ""), color=color,
                            label=f"{regime} eps {eps_label(EPS[i])}")
            row[1].set(title=f"{ref} (paper, Fig. 6)")
        for ax in row:
            if ax.lines:
                ax.set(xscale="log", yscale="log", xlabel="training cross-entropy loss", ylabel="sharpness")
                ax.invert_xaxis()
                ax.legend(fontsize=8)
            else:
                ax.set_axis_off()
    fig.tight_layout()
    plt.close(fig)
    return fig


# --------------------------------------------------------------------------- remedies chapter
def plot_robust_parametric(pp: pd.DataFrame):
    """E.3 parametric plots: loss (left) and accuracy (right) along x(alpha) = alpha x_LB +
    (1 - alpha) x_SB for each LB variant; train solid, test dashed; one row per network."""
    import matplotlib.pyplot as plt
    nets = list(pp.net.unique()) if not pp.empty else ["—"]
    fig, axes = plt.subplots(len(nets), 2, figsize=(11, 3.6 * len(nets)), squeeze=False)
    colors = {"LB": "black", "LB + adversarial": LB_COLOR, "LB + stability": "tab:green"}
    for row, net in zip(axes, nets):
        d = pp[pp.net == net] if not pp.empty else pp
        for (variant, split), g in (d.groupby(["variant", "split"], sort=False) if len(d) else []):
            for ax, col in zip(row, ("loss", "accuracy")):
                ax.plot(g.alpha, g[col], "-" if split == "train" else "--",
                        color=colors.get(variant, "grey"), label=f"{variant}, {split}")
        row[0].set(yscale="log", xlabel="alpha", ylabel="cross-entropy", title=f"{net}: loss")
        row[1].set(xlabel="alpha", ylabel="accuracy (%)", title=f"{net}: accuracy")
        for ax in row:
            ax.legend(fontsize=8)
            ax.grid(alpha=0.3)
    fig.tight_layout()
    plt.close(fig)
    return fig


# --------------------------------------------------------------------------- sensitivity chapter
def plot_sensitivity(df: pd.DataFrame, choice: str):
    """Metric 2.1 of the SB (blue) and LB (red) minimizers under each setting of one unstated
    choice (log scale), the baseline setting ringed, the paper's Table 3 values as dashed lines."""
    import matplotlib.pyplot as plt
    d = df[df.choice == choice]
    if "seed" in d:  # a choice retrained for several trials: the figure is the first trial's
        d = d[d.seed == d.seed.min()]
    fig, ax = plt.subplots(figsize=(5.6, 3.4))
    settings = list(dict.fromkeys(d.setting))
    x = np.arange(len(settings))
    p_sb, p_lb = _paper_values(df.attrs.get("net", "F1"), df.attrs.get("eps", 1e-3))
    for regime, color, pval in (("SB", SB_COLOR, p_sb), ("LB", LB_COLOR, p_lb)):
        g = d[d.regime == regime].set_index("setting").loc[settings]
        ax.plot(x, g.sharpness.clip(lower=1e-6), "o-", color=color, label=f"{regime} (ours)")
        base = g.baseline.to_numpy()
        ax.plot(x[base], g.sharpness.clip(lower=1e-6)[base], "o", ms=12, mfc="none", color=color)
        ax.axhline(pval, color=color, ls="--", lw=1, alpha=0.7, label=f"{regime} (paper, Table 3)")
    ax.set(xticks=x, xticklabels=settings, yscale="log", xlabel=LABELS[choice],
           ylabel=f"sharpness, eps {df.attrs.get('eps', 1e-3):g}",
           title=f"{df.attrs.get('net', '')}: {LABELS[choice]} (ringed: the book's setting)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    plt.close(fig)
    return fig


# --------------------------------------------------------------------------- intro
VERDICT_COLORS = {"reproduced": "#1a9850", "same direction": "#91cf60", "inconclusive": "#fee08b",
                  "contradicts": "#d73027", "not run": "#e0e0e0"}


def plot_verdict_grid(rows: list[dict]):
    """Every verdict as a cell of an artifact x network grid, coloured by outcome: the paper's own
    panels on the left, our extensions on the right (an empty cell: no such panel)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    df = pd.DataFrame(rows)
    kinds = [k for k in ("paper", "extension") if len(df) and (df.kind == k).any()]
    widths = [max(1, df[df.kind == k].net.nunique()) for k in kinds] or [1]
    fig, axes = plt.subplots(1, max(1, len(kinds)), figsize=(1.0 + 0.75 * sum(widths) + 2.2 * len(kinds), 4.2),
                             gridspec_kw={"width_ratios": widths}, squeeze=False)
    for ax, kind in zip(axes.flat, kinds):
        d = df[df.kind == kind]
        arts = list(dict.fromkeys(d.artifact))
        nets = [n for n in paper.NETS if n in set(d.net)]
        for i, a in enumerate(arts):
            for j, n in enumerate(nets):
                hit = d[(d.artifact == a) & (d.net == n)]
                if len(hit):
                    v = hit.verdict.iloc[0]
                    ax.add_patch(plt.Rectangle((j, i), 1, 1, facecolor=VERDICT_COLORS[v], edgecolor="white", lw=2))
                    ax.text(j + 0.5, i + 0.5, {"reproduced": "R", "same direction": "S", "inconclusive": "?",
                                               "contradicts": "X", "not run": "–"}[v],
                            ha="center", va="center", fontsize=10)
        ax.set(xlim=(0, len(nets)), ylim=(len(arts), 0), xticks=np.arange(len(nets)) + 0.5,
               yticks=np.arange(len(arts)) + 0.5)
        ax.set_xticklabels(nets, fontsize=10)
        ax.set_yticklabels(arts, fontsize=10)
        ax.tick_params(length=0)
        ax.set_title("the paper's panels" if kind == "paper" else "extensions (ours)", fontsize=11)
        for s in ax.spines.values():
            s.set_visible(False)
    fig.legend(handles=[Patch(color=c, label=v) for v, c in VERDICT_COLORS.items()], loc="lower center",
               ncol=5, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    plt.close(fig)
    return fig


def summary_frame(rows: list[dict]) -> pd.DataFrame:
    """Every number a verdict compared with the paper: log10(ours / paper) and the band the rule
    accepts on the same scale, one row per (artifact, network, quantity)."""
    out = []
    for r in rows:
        for n in r.get("numbers", []):
            if n["paper"] > 0 and n["ours"] > 0:
                lo = math.log10(n["lo"] / n["paper"]) if n["lo"] > 0 else -math.inf
                out.append({"artifact": r["artifact"], "net": r["net"], "quantity": n["quantity"],
                            "ours": n["ours"], "paper": n["paper"], "band_lo": n["lo"], "band_hi": n["hi"],
                            "log10 ours/paper": math.log10(n["ours"] / n["paper"]),
                            "band log lo": lo, "band log hi": math.log10(n["hi"] / n["paper"]),
                            "inside": n["lo"] <= n["ours"] <= n["hi"], "verdict": r["verdict"]})
    return pd.DataFrame(out)


def plot_summary(rows: list[dict]):
    """Ours against the paper across every compared number: log10(ours / paper) per number (dot,
    coloured by its verdict), the paper's accepted band (grey bar: +- 2 sd, or the stated
    tolerance / range) around 0."""
    import matplotlib.pyplot as plt
    s = summary_frame(rows)
    fig, ax = plt.subplots(figsize=(7.5, max(2.5, 0.28 * len(s) + 1.2)))
    if s.empty:
        ax.text(0.5, 0.5, "no number compared yet", ha="center", transform=ax.transAxes)
        plt.close(fig)
        return fig
    y = np.arange(len(s))[::-1]
    lo = s["band log lo"].clip(lower=-3)
    ax.barh(y, s["band log hi"] - lo, left=lo, height=0.6, color="0.85", label="paper's band")
    for v, g in s.groupby("verdict", sort=False):
        ax.scatter(g["log10 ours/paper"], y[g.index], color=VERDICT_COLORS[v], edgecolor="k", zorder=3,
                   s=36, label=f"ours ({v})")
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{a} {n}: {q}" for a, n, q in zip(s.artifact, s.net, s.quantity)], fontsize=8)
    ax.set_xlabel("log10(ours / paper)")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    plt.close(fig)
    return fig
