"""The intro's figures: every verdict as a grid, and every compared number against the paper's
band. Each returns a closed matplotlib figure in the book's style (``lbsm.report.style``: one
panel per row, text of at least 9 pt, legends under the panels)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..core import paper
from . import style

VERDICT_COLORS = {"reproduced": "#1a9850", "same direction": "#91cf60", "inconclusive": "#fee08b",
                  "contradicts": "#d73027", "not run": "#e0e0e0"}


def plot_verdict_grid(rows: list[dict]):
    """Every verdict as a cell of an artifact x network grid, coloured by outcome: the paper's own
    panels above, our extensions below (an empty cell: no such panel)."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch
    df = pd.DataFrame(rows)
    kinds = [k for k in ("paper", "extension") if len(df) and (df.kind == k).any()]
    arts = {k: list(dict.fromkeys(df[df.kind == k].artifact)) for k in kinds}
    # "Beyond: LB + SAM" reads as "LB + SAM" under a title that names the chapter
    lines = {k: [style.wrap(a.removeprefix("Beyond: "), 36) for a in arts[k]] for k in kinds}
    pitch = {k: 0.06 + 0.16 * max([t.count("\n") + 1 for t in lines[k]] or [1]) for k in kinds}
    heights = [0.5 + len(arts[k]) * pitch[k] for k in kinds] or [1.0]
    fig, axes = plt.subplots(max(1, len(kinds)), 1, figsize=(style.WIDTH, sum(heights) + 0.8),
                             gridspec_kw={"height_ratios": heights}, squeeze=False, layout="constrained")
    for ax, kind in zip(axes.flat, kinds):
        d = df[df.kind == kind]
        nets = [n for n in paper.NETS if n in set(d.net)]
        for i, a in enumerate(arts[kind]):
            for j, n in enumerate(nets):
                hit = d[(d.artifact == a) & (d.net == n)]
                if len(hit):
                    v = hit.verdict.iloc[0]
                    ax.add_patch(plt.Rectangle((j, i), 1, 1, facecolor=VERDICT_COLORS[v], edgecolor="white", lw=2))
                    ax.text(j + 0.5, i + 0.5, {"reproduced": "R", "same direction": "S", "inconclusive": "?",
                                               "contradicts": "X", "not run": "–"}[v],
                            ha="center", va="center", fontsize=10)
        ax.set(xlim=(0, len(nets)), ylim=(len(arts[kind]), 0), xticks=np.arange(len(nets)) + 0.5,
               yticks=np.arange(len(arts[kind])) + 0.5)
        ax.set_xticklabels(nets)
        ax.set_yticklabels(lines[kind])
        ax.tick_params(length=0)
        beyond = any(a.startswith("Beyond: ") for a in arts[kind])
        ax.set_title("the paper's panels" if kind == "paper" else
                     "extensions (ours" + ("; LB + …: Beyond the paper)" if beyond else ")"), loc="right")
        for s in ax.spines.values():
            s.set_visible(False)
    fig.legend(handles=[Patch(color=c, label=v) for v, c in VERDICT_COLORS.items()],
               loc="outside lower center", ncol=3, frameon=False)
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
                            "inside": n["lo"] <= n["ours"] <= n["hi"], "verdict": r["verdict"],
                            **({"profile": r["profile"]} if "profile" in r else {})})
    return pd.DataFrame(out)


def plot_summary(rows: list[dict]):
    """Ours against the paper across every compared number: log10(ours / paper) per number (dot,
    coloured by its verdict), the paper's accepted band (grey bar: +- 2 sd, or the stated
    tolerance / range) around 0; the legend under the plot, off the data."""
    import matplotlib.pyplot as plt
    s = summary_frame(rows)
    labels = [style.wrap(f"{a} {n}: {q}", 30) for a, n, q in zip(s.artifact, s.net, s.quantity)]
    pitch = [0.2 + 0.17 * (t.count("\n") + 1) for t in labels]
    fig, ax = plt.subplots(figsize=(style.WIDTH, max(2.5, sum(pitch) + 1.3)), layout="constrained")
    if s.empty:
        ax.text(0.5, 0.5, "no number compared yet", ha="center", transform=ax.transAxes)
        plt.close(fig)
        return fig
    y = np.arange(len(s))[::-1]
    lo = s["band log lo"].clip(lower=-3)
    ax.barh(y, s["band log hi"] - lo, left=lo, height=0.6, color="0.85", label="paper's band")
    for v, g in s.groupby("verdict", sort=False):
        ax.scatter(g["log10 ours/paper"], y[g.index], color=VERDICT_COLORS[v], edgecolor="k", zorder=3,
                   s=30, label=f"ours ({v})")
    ax.axvline(0, color="k", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(labels)
    ax.set_ylim(-0.7, len(s) - 0.3)
    ax.set_xlabel("log10(ours / paper)")
    ax.grid(alpha=0.3, axis="x")
    return style.finish(fig, ncol=2)
