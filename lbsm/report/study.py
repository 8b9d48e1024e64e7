"""The sensitivity chapter ("What the paper left open"): its tables, sentences and captions, from
the study's frames (:mod:`lbsm.experiments.sensitivity`)."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from ..experiments import profiles, sensitivity
from ..core.constants import EVAL_BATCH
from .captions import collapsed, cost_text
from .verdicts import Paired

if TYPE_CHECKING:
    from IPython.display import Markdown


def sensitivity_table(summ: pd.DataFrame, choice: str) -> pd.DataFrame:
    """One unstated choice: per setting SB and LB sharpness, LB/SB, the test-accuracy gap and the
    distance in decades from the paper's Table 3 (the study's baseline marked)."""
    if summ.empty:
        return pd.DataFrame()
    g = summ[summ.choice == choice]
    return pd.DataFrame({
        "setting": [f"{s} (baseline)" if b else s for s, b in zip(g.setting, g.baseline)],
        "SB": g.sharpness_sb.map(lambda v: f"{v:.3g}"), "LB": g.sharpness_lb.map(lambda v: f"{v:.3g}"),
        "LB/SB": g.ratio.map(lambda v: f"{v:.3g}"),
        "test SB - LB (points)": g.gap.map(lambda v: f"{v:+.2f}"),
        "L-BFGS-B iterations run (SB / LB)": g.iterations,
        "decades from the paper": g.decades_from_paper.map(lambda v: f"{v:.2f}"),
    }).set_index("setting")


def precision_sentence(df: pd.DataFrame) -> str:
    """Per trial, fp32 against the other precision: LB/SB at the study's eps and the test gap, and
    the paired differences over trials (other - fp32) with their uncertainty."""

    ps = sensitivity.per_seed(df, "precision") if len(df) else pd.DataFrame()
    if ps.empty:
        return "not run"
    base = ps[ps.setting == "fp32"].set_index("seed")
    parts = []
    for setting, g in ps[ps.setting != "fp32"].groupby("setting", sort=False):
        g = g.set_index("seed")
        s = g.index.intersection(base.index)
        per = "; ".join(f"trial {i}: LB/SB {base.ratio[i]:.3g} (fp32) vs {g.ratio[i]:.3g} ({setting}), "
                        f"gap {base.gap[i]:+.2f} vs {g.gap[i]:+.2f}" for i in s)
        dg = Paired.of((g.gap[s] - base.gap[s]).to_numpy())
        dr = Paired.of([math.log10(a / b) for a, b in zip(g.ratio[s], base.ratio[s]) if a > 0 and b > 0])
        parts.append(f"{per}. {setting} - fp32 over trials: gap {dg.text(2, ' points')}, "
                     f"log10 of LB/SB {dr.text(2)}")
    return " ".join(parts)


def sensitivity_text(summ: pd.DataFrame, close: pd.DataFrame, df: pd.DataFrame | None = None) -> dict:
    """Glue-ready: the paper's Table 3 values the study measures against, which unstated choice
    moves our Table 3 most toward them (or that none does), from the closing table, and what the
    precision changes per trial."""
    if close.empty:
        return {"sens_paper": "—", "sens_sentence": "The study did not run under this profile.",
                "sens_where": "not run", "sens_precision_sentence": "not run"}
    a = summ.attrs
    top = close.iloc[0]
    moves = top["moves toward the paper (decades)"]
    if moves > 0:
        sentence = (f"The choice that moves Table 3 most toward the paper is the "
                    f"{close.index[0]}: from {top['baseline']} (the study's baseline) to "
                    f"{top['closest setting']} brings SB and LB {moves:.2f} decades closer "
                    f"({top['decades from paper (baseline)']:.2f} -> "
                    f"{top['decades from paper (closest)']:.2f}), with LB/SB "
                    f"{top['LB/SB (baseline)']:.3g} -> {top['LB/SB (closest)']:.3g}.")
    else:
        sentence = ("No single choice moves Table 3 toward the paper: the study's baseline settings are the "
                    f"closest of those measured ({top['decades from paper (baseline)']:.2f} decades).")
    return {"sens_paper": f"SB {a['paper_sb']:g}, LB {a['paper_lb']:g}", "sens_sentence": sentence,
            "sens_where": f"{a.get('net')}, seed {a.get('seed')}, eps {a.get('eps'):g}",
            "sens_precision_sentence": precision_sentence(df if df is not None else pd.DataFrame())}


def sensitivity_caption(P: profiles.Profile, df: pd.DataFrame, what: str = "", runs=None) -> "Markdown":
    """Caption of the study: profile, network, trial, eps, the baseline settings, devices, commits
    (a compact line, the rest folded under it); given the study's ``runs``, what computing them took."""
    from IPython.display import Markdown
    if df.empty:
        return Markdown(f"*{what} — profile `{P.name}` runs no sensitivity study.*")
    a = df.attrs
    joined = {c: ", ".join(sorted(set(df[c].dropna()))) for c in ("precision", "device", "commit")}
    line = " · ".join([f"profile {P.name}", a["net"], f"seed {a['seed']}", f"eps {a['eps']:g}",
                       joined["precision"], joined["device"], f"commit {joined['commit']}"])
    full = (f"profile `{P.name}`; {a['net']}, trial (seed) {a['seed']}, "
            f"Metric 2.1 at eps {a['eps']:g}; the baseline settings: {P.sharpness_iters} L-BFGS-B "
            f"iterations from the gradient's box vertex, f on "
            f"{P.sharpness_examples(a['net']) or 'all'} training examples with batch statistics in "
            f"batches of {EVAL_BATCH}; runs trained in {joined['precision']} on {joined['device']} "
            f"at commit {joined['commit']}."
            + (f" {cost_text(runs, 'sensitivity', P.name)}" if runs else ""))
    return collapsed(what, line, full)
