"""The text of the chapters: glue-ready sentences and numbers for their prose (``*_text``), and
the protocol decisions quoted from lbsm's docstrings.

Every ``*_text`` returns ``{glue name: string}`` for :func:`lbsm.report.glue_all`; the markdown
cells use them as ``{glue:text}`` so that no measured number is typed by hand. Tables are read
from :mod:`lbsm.report.tables`, the paper's numbers from :mod:`lbsm.core.paper`.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..core import paper
from ..experiments import profiles
from ..train import remedies
from . import tables
from ..core.constants import EPS, eps_label
from .render import mean_sd, pm
from .verdicts import ALPHA, MIN_SEEDS
from ..core.catalog import artifacts
from ..core.constants import sharpness_col
from ..experiments.plans import Plan, Result
from ..experiments.specs import ConeSpec
from ..experiments.trials import Trained

if TYPE_CHECKING:
    from IPython.display import HTML


# --------------------------------------------------------------------------- intro and setup chapters
def intro_text() -> dict:
    """Glue-ready numbers of the paper's claims for the intro (from ``lbsm.core.paper``)."""
    t = paper.table(2)
    gap = t.test_sb - t.test_lb
    o, r = paper.statement("sharpness_orders_of_magnitude"), paper.statement("distance_ratio")
    return {"intro_gap_min": f"{gap.min():.2f}", "intro_gap_max": f"{gap.max():.2f}",
            "intro_orders": f"{o['low']}-{o['high']}", "intro_ratio": f"{r['low']}-{r['high']}"}


def findings(rows: list[dict], profile: str) -> "HTML":
    """The intro's answer first: what held, what did not, what did not run and why, as generated
    sentences over the verdict rows (paper panels apart from extensions), in a box."""
    from IPython.display import HTML
    import html
    if not rows:
        return HTML("<div class='admonition note'><p class='admonition-title'>Findings</p>"
                    "<p>No chapter has recorded a verdict yet.</p></div>")
    df = pd.DataFrame(rows)

    def names(d):
        return ", ".join(f"{a} ({', '.join(g.net)})" for a, g in d.groupby("artifact", sort=False))
    paper_rows = df[df.kind == "paper"]
    ran = paper_rows[paper_rows.verdict != "not run"]
    judged = (ran.profile.value_counts() if "profile" in ran else pd.Series({profile: len(ran)}))
    under = " and ".join(f"{n} under profile <code>{html.escape(str(p))}</code>"
                         + (" (the adopted readings)" if p != profile else "")
                         for p, n in judged.items()) if len(judged) > 1 else (
        f"under profile <code>{html.escape(str(judged.index[0] if len(judged) else profile))}</code>")
    items = [f"{len(ran)} of the paper's {len(paper_rows)} (artifact, network) panels ran, {under}."]
    for v, what in (("reproduced", "<b>Reproduced</b> (resolved, within the paper's ±2 sd where it "
                                   "gives an sd, else within the stated tolerance of its plotted value "
                                   "or range)"),
                    ("same direction", "<b>Same direction</b> (resolved; numbers outside the band, or "
                                       "no paper number to compare)"),
                    ("inconclusive", "<b>Inconclusive</b> (not resolved, or not the paper's protocol)"),
                    ("contradicts", "<b>Contradicts</b> the paper")):
        d = ran[ran.verdict == v]
        items.append(f"{what}: {len(d)}" + (f": {html.escape(names(d))}." if len(d) else "."))
    missing = paper_rows[paper_rows.verdict == "not run"]
    if len(missing):
        why = missing.evidence.str.split(":").str[0].value_counts()
        items.append(f"Not run: {len(missing)} ("
                     + ", ".join(f"{n} {html.escape(w)}" for w, n in why.items()) + ").")
    ext = df[(df.kind == "extension") & (df.verdict != "not run")]
    if len(ext):
        c = ext.verdict.value_counts()
        items.append(f"Extensions (not the paper's panels, counted apart): {len(ext)} ran: "
                     + ", ".join(f"{n} {v}" for v, n in c.items()) + ".")
    body = "".join(f"<li>{i}</li>" for i in items)
    return HTML(f"<div class='admonition tip'><p class='admonition-title'>Findings</p><ul>{body}</ul></div>")


# --------------------------------------------------------------------------- gap chapter
def gap_text(T: Trained, t2: pd.DataFrame) -> dict:
    """Glue-ready text for the gap chapter's prose (gap per network, ours vs paper, seeds)."""
    if t2.empty:
        t2 = pd.DataFrame({"ours": [], "ours_sd": [], "paper": []},
                          index=pd.MultiIndex.from_tuples([], names=["net", "quantity"]))
        return {"gap_sentence": "no network could be trained", "gap_nets": "none",
                "gap_profile": T.profile.name, "gap_max_paper": "—", "gap_min_paper": "—",
                "gap_resolved": "0 of 0", "overfit_sentence": "no runs"}
    g = t2.xs("gap (test SB - LB)", level="quantity")
    parts = [f"{net}: {pm(r.ours, r.ours_sd)} points over {int(r.seeds)} trials "
             f"(paired t-test {r['paired t-test']}; paper {r.paper:.2f})" for net, r in g.iterrows()]
    resolved = [net for net, r in g.iterrows() if r.seeds >= MIN_SEEDS
                and r["paired t-test"] != "—" and float(r["paired t-test"][4:]) < ALPHA]
    pt = paper.table(2)
    return {"gap_sentence": "; ".join(parts), "gap_nets": ", ".join(T.nets),
            "gap_profile": T.profile.name,
            "gap_max_paper": f"{(pt.test_sb - pt.test_lb).max():.2f}",
            "gap_min_paper": f"{(pt.test_sb - pt.test_lb).min():.2f}",
            "gap_resolved": f"{len(resolved)} of {len(g)}",
            "overfit_sentence": overfit_text(T)}


def overfit_text(T: Trained) -> str:
    """Per regime, how far each run's best epoch's test accuracy is above its last (mean ± sd over
    trials), and where the runs end (the paper: no peak-then-decay)."""
    parts = []
    for net in T.nets:
        for i, regime in enumerate(("SB", "LB")):
            hs = [p[i].history[p[i].history.epoch > 0] for p in T.pairs[net]]
            hs = [h for h in hs if len(h)]
            if hs:
                decay = [h.test_acc.max() - h.test_acc.iloc[-1] for h in hs]
                ends = [int(h.epoch.iloc[-1]) for h in hs]
                parts.append(f"{net} {regime}: the best epoch is {pm(*mean_sd(decay))} points above "
                             f"the last (runs end at epochs {min(ends)}-{max(ends)})")
    return "; ".join(parts) or "no runs"


# --------------------------------------------------------------------------- sharpness chapter
def sharpness_text(t3: pd.DataFrame, t4: pd.DataFrame, P: profiles.Profile) -> dict:
    """Glue-ready sentences: LB/SB sharpness ratios per network and eps, ours vs the paper."""
    def ratios(t):
        if t.empty:
            return "not computed"
        r = t.xs("LB/SB", level="regime")
        return "; ".join(f"{net} at eps = {eps}: {row.ours:.1f} (paper {row.paper:.1f})"
                         for (net, eps), row in r.iterrows())

    def orders(t):
        if t.empty:
            return "—"
        r = t.xs("LB/SB", level="regime").ours
        r = r[r > 0]
        return f"{np.log10(r.min()):.1f} to {np.log10(r.max()):.1f}" if len(r) else "—"
    o = paper.statement("sharpness_orders_of_magnitude")
    return {"sharp_full_ratios": ratios(t3), "sharp_sub_ratios": ratios(t4),
            "sharp_full_orders": orders(t3), "sharp_sub_orders": orders(t4),
            "subspace_p": str(P.subspace_dim), "paper_orders": f"{o['low']}-{o['high']}"}


def subspace_kinds_text(kinds: pd.DataFrame) -> dict:
    """Glue-ready sentences for ``subspace_kinds``: where it was measured, the LB/SB ratio under each
    reading of A, and which reading comes closest to the paper (log distance over SB and LB)."""
    if kinds.empty:
        return {"kinds_where": "not computed", "kinds_sentence": ""}
    a = kinds.attrs
    ratios = ", ".join(f"{k} {r:.3g}" for k, r in kinds["LB/SB"].items())
    both = kinds[(kinds.SB > 0) & (kinds.LB > 0)]
    sentence = (f"LB/SB ratio under each reading: {ratios} (paper "
                f"{kinds['paper LB'].iloc[0] / kinds['paper SB'].iloc[0]:.3g}).")
    if len(both):
        dist = (np.log10(both.SB / both["paper SB"]).abs() + np.log10(both.LB / both["paper LB"]).abs())
        k = dist.idxmin()
        sentence += (f" Closest to the paper's SB {both.loc[k, 'paper SB']:g} / LB "
                     f"{both.loc[k, 'paper LB']:g} (log scale): {k}, SB {both.loc[k, 'SB']:.3g} / LB "
                     f"{both.loc[k, 'LB']:.3g}.")
    return {"kinds_where": f"{a['net']}, seed {a['seed']}, eps = {a['eps']:g}",
            "kinds_sentence": sentence}


def hessian_text(h: pd.DataFrame, P=None) -> dict:
    """Glue-ready sentence: LB/SB ratio of the top eigenvalue and of the trace per network; with the
    profile ``P``, the training examples the Hessian and Metric 2.1 average over."""
    examples = {}
    if P is not None:
        examples = {"hess_examples": f"{P.hessian_subset:,}" if P.hessian_subset else "all",
                    "sharp_examples": ", ".join(f"{P.sharpness_examples(n):,} ({n})"
                                                if P.sharpness_examples(n) else f"all ({n})"
                                                for n in P.nets)}
    if h.empty:
        return {"hess_sentence": "not computed", **examples}
    m = h.groupby(["net", "regime"], sort=False)[["lambda_1", "trace"]].mean()
    parts = [f"{net}: top eigenvalue {m.loc[(net, 'LB'), 'lambda_1']:.3g} (LB) vs "
             f"{m.loc[(net, 'SB'), 'lambda_1']:.3g} (SB), trace {m.loc[(net, 'LB'), 'trace']:.3g} vs "
             f"{m.loc[(net, 'SB'), 'trace']:.3g}"
             for net in m.index.get_level_values(0).unique()
             if (net, "LB") in m.index and (net, "SB") in m.index]
    return {"hess_sentence": "; ".join(parts) or "not computed", **examples}


# --------------------------------------------------------------------------- interpolation chapter
def interpolation_text(lin: pd.DataFrame, cur: pd.DataFrame, d: pd.DataFrame) -> dict:
    """Glue-ready sentences for the interpolation chapter."""
    r = paper.statement("distance_ratio")

    def rises(t):
        if t.empty:
            return "not computed"
        out = []
        for net, g in t.groupby(level="net", sort=False):
            s = (f"{net}: {pm(*mean_sd(g['beyond LB']), sig=3)} beyond LB vs "
                 f"{pm(*mean_sd(g['beyond SB']), sig=3)} beyond SB, one step h = "
                 f"{g['step h'].iloc[0]:g} beyond each minimizer, over {len(g)} trials")
            if not pd.isna(g["beyond LB (paper)"].iloc[0]):
                s += (f" (the paper's curve: {g['beyond LB (paper)'].iloc[0]:.3g} vs "
                      f"{g['beyond SB (paper)'].iloc[0]:.3g})")
            out.append(s)
        return "; ".join(out)
    ratio = ("; ".join(f"{net}: {pm(*mean_sd(g.ratio))}" for net, g in d.groupby("net", sort=False))
             if len(d) else "not computed")
    return {"rise_linear": rises(tables.rise_table(lin, "linear")) if len(lin) else "not computed",
            "rise_curvilinear": rises(tables.rise_table(cur, "curvilinear")) if len(cur) else "not computed",
            "ratio_sentence": ratio, "ratio_paper": f"{r['low']}-{r['high']}",
            "ratio_in_range": f"{int(d.in_range.sum()) if len(d) else 0} of {len(d)}"}


# --------------------------------------------------------------------------- small_batches chapter
def compare(a_name: str, a: float, b_name: str, b: float, more: str, less: str,
            fmt: str = ".3g", same: str | None = None) -> str:
    """A comparison stated only as the numbers say: "LB is sharper than SB (465 vs 12.6)", "LB is
    flatter than SB (2 vs 12.6)"; equal numbers: "LB is as sharp as SB (3 vs 3)" with ``same`` (the
    plain adjective), else "LB is neither sharper nor flatter than SB (3 vs 3)"; a NaN: "LB is not
    comparable with SB (nan vs 3)". An empty ``a_name`` gives the predicate alone ("sharper than
    SB (465 vs 12.6)") for a sentence with its own verb ("LB ends " + ...). It states the numbers,
    not a finding: whether a difference is beyond seed noise is the verdicts' job."""
    if math.isnan(a) or math.isnan(b):
        word = "not comparable with"
    elif a == b:
        word = f"as {same} as" if same else f"neither {more} nor {less} than"
    else:
        word = f"{more} than" if a > b else f"{less} than"
    said = f"{word} {b_name} ({a:{fmt}} vs {b:{fmt}})"
    return f"{a_name} is {said}" if a_name else said


def small_batches_text(S: Plan, f4: Result, knees: pd.DataFrame, f5: Result, f6: Result,
                       cn: Result, appc: pd.DataFrame) -> dict:
    """Glue-ready numbers and sentences of the ``small_batches`` chapter."""
    st = paper.statement("threshold_batch_size")
    out = {"sb_profile": S.profile.name, "knee_paper_F2": f"{st['F2']:,}", "knee_paper_C1": f"{st['C1']:,}",
           "knee_paper_curve_F2": f"{tables.paper_knee('F2'):,.0f}",
           "knee_paper_curve_C1": f"{tables.paper_knee('C1'):,.0f}",
           "cone_paper": f"{paper.statement('not_a_cone_fraction')['value']:.0%}",
           "appc_fs": f"{appc.attrs.get('f_s', float('nan')):g}",
           "appc_paper_bound": f"{1 / (0.2 * 10):g}"}
    stand = {k: v for s in S.stand_ins.values() for k, v in s.items()}
    shown = {a[0]: a[3] for a in artifacts()}
    names = {"fig4": "Figure 4", "fig5": "Figure 5", "fig6": "Figure 6"}
    extra = {}
    for section, section_specs in S.specs.items():
        for net in (spec.net for spec in section_specs):
            if section in names and net not in shown[names[section]] and net not in stand:
                extra.setdefault(net, []).append(names[section])
    out["standin_sentence"] = "; ".join(
        [f"{k} (MNIST) stands in for {v}, whose TIMIT features are not in the data directory"
         for k, v in stand.items()]
        + [f"{net} is not a network of the paper's {', '.join(figs)} (which show F2 and C1): its rows "
           "are extensions, not reproductions" for net, figs in extra.items()]) \
        or "every network shown is one the paper shows"
    def knee_of(n, r):
        paper_part = (f"paper {r['paper net']}: {r['knee (paper, stated)']:,.0f}, "
                      f"{r['knee / training set (paper)']:.1%} of its training set")
        if r["slope after (points per decade)"] == 0:  # the fit found no drop: no knee to compare
            return (f"{n}: no drop in test accuracy up to the largest batch size tried, "
                    f"{r['knee (ours)']:,.0f} ({r['knee / training set (ours)']:.1%} of its training "
                    f"set), so no knee within the range to set beside the paper's ({paper_part})")
        return (f"{n}: {r['knee (ours)']:,.0f} ({r['knee / training set (ours)']:.1%} of its "
                f"training set; {paper_part})")
    out["knee_sentence"] = "; ".join(knee_of(n, r) for n, r in knees.iterrows()) or "not computed"
    parts = []
    for net in f5.nets:
        d = f5.data[f5.data.net == net].sort_values("sb_epoch")
        c = sharpness_col(EPS[0])
        parts.append(f"{net}: LB sharpness {d[c].iloc[0]:.3g} from epoch {d.sb_epoch.iloc[0]} vs "
                     f"{d[c].iloc[-1]:.3g} from epoch {d.sb_epoch.iloc[-1]}, LB test accuracy "
                     f"{d.lb_test_acc.iloc[0]:.2f}% vs {d.lb_test_acc.iloc[-1]:.2f}%")
    out["fig5_sentence"] = "; ".join(parts) or "not run"
    t6 = tables.fig6_table(f6)
    out["fig6_sentence"] = "; ".join(
        f"{n} {reg}: {r['sharpness first']:.3g} at loss {r['loss first']:.3g} to {r['sharpness last']:.3g} "
        f"at loss {r['loss last']:.3g}" for (n, reg), r in t6.iterrows()) or "not run"
    cs = tables.cone_summary(cn)
    c = next(iter(S.specs.get("cone", ())), None) or ConeSpec("F1")  # the defaults when none runs
    out.update(cone_directions=str(c.directions), cone_radius=eps_label(c.radius),
               cone_threshold=f"{c.threshold:g}")
    out["cone_sentence"] = "; ".join(
        f"{n} {lab}: {r['steep fraction']:.0%} of {int(r.directions)} directions steep, median rise "
        f"{r['median rise / reference']:.2g} of the reference" for (n, lab), r in cs.iterrows()) or "not run"
    col = sharpness_col(EPS[0])
    ends = []
    for net in f6.nets:
        d = f6.data[f6.data.net == net]
        last = {reg: d[d.regime == reg].sort_values("epoch").iloc[-1] for reg in ("SB", "LB")}
        ends.append(f"{net}: LB ends " + compare("", last["LB"][col], "SB", last["SB"][col],
                                                 "sharper", "flatter").strip()
                    + " and with test accuracy " + compare("", last["LB"].test_acc, "SB's",
                                                           last["SB"].test_acc, "higher", "lower",
                                                           ".2f").strip())
    out["fig6_ends"] = "; ".join(ends) or "not run"
    out["appc_sentence"] = "; ".join(
        f"{n}: I_l / I_s = {r['I_l / I_s']:.2f} vs bound {r['B_s / (f_s B_l)']:.2f} "
        f"({'LB faster' if r['LB faster?'] is True else 'SB faster' if r['LB faster?'] is False else 'undecided'})"
        for n, r in appc.drop(index="paper example").iterrows()) or "not run"
    return out


# --------------------------------------------------------------------------- remedies chapter
def method_args(S: Plan) -> dict:
    """Glue-ready hyper-parameters of every remedy, resolved (defaults filled in) per network by
    ``remedies.resolve_args``: ``args_conservative``, ``args_adversarial``, ``args_stability``."""
    out = {}
    for section in ("conservative", "adversarial", "stability"):
        parts = []
        for spec in S.specs.get(section, ()):
            net = spec.net
            args = remedies.resolve_args(spec.method, net, spec.method_args)
            parts.append(f"{net}: " + ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) and not
                                                 isinstance(v, bool) else f"{k} = {v}"
                                                 for k, v in args.items()))
        out[f"args_{section}"] = "; ".join(parts) or "not run under this profile"
    return out


def remedy_text(R: Result, t: pd.DataFrame, prefix: str) -> dict:
    """Glue-ready sentences: remedied LB vs plain LB and vs the SB baseline (test accuracy), and the
    remedied LB sharpness, per network, ours and the paper's."""
    name = "augmented" if prefix == "t6" else "conservative"
    if t.empty:
        return {f"{prefix}_sentence": "nothing ran", f"{prefix}_nets": "none"}
    parts = []
    for net in t.index.get_level_values("net").unique():
        x = t.loc[net]
        sb, rem = x.loc[[q for q in x.index if q.startswith("test SB")][0]], x.loc[f"test LB ({name})"]
        s = (f"{net}: {name} LB {pm(rem.ours, rem.ours_sd)}% vs SB {pm(sb.ours, sb.ours_sd)}% "
             f"(paper {rem.paper:.2f} vs {sb.paper:.2f})")
        plain = "test LB (plain; paper: Table 2)"
        if plain in x.index:
            s += (f", plain LB {pm(x.loc[plain].ours, x.loc[plain].ours_sd)}% "
                  f"(paper {x.loc[plain].paper:.2f})")
        sh = x.loc[f"LB ({name}) sharpness eps 1e-3"]
        s += f"; {name} LB sharpness at eps 1e-3 {sh.ours:.3g} (paper {sh.paper:.4g})"
        parts.append(s)
    return {f"{prefix}_sentence": "; ".join(parts), f"{prefix}_nets": ", ".join(R.nets),
            f"{prefix}_baseline": baseline_text(R)}


def baseline_text(R: Result) -> str:
    """Whether a remedies section's SB and plain LB runs are the trials of Table 2 (the same store
    keys) or runs of their own, per network, with their seeds."""
    P = R.plan.profile
    parts = []
    for net, runs in R.runs.items():
        keys = {r.key for r in runs if r.config.method == "adam" and not r.config.augment}
        seeds = sorted({r.config.seed for r in runs})
        trials = ({c.key for s in seeds for c in P.trial(net, s)} if net in P.nets
                  and set(seeds) <= set(P.net(net).seeds) else set())
        same = bool(keys) and keys <= trials
        parts.append(f"{net}: seeds {', '.join(map(str, seeds))}; " +
                     ("the SB and plain LB runs are Table 2's (the same runs)" if same else
                      "the SB and plain LB runs are this section's own, not Table 2's"))
    return "; ".join(parts) or "nothing ran"


def robust_text(R: Result) -> dict:
    """Glue-ready sentence of E.3: each robust LB variant's test accuracy and sharpness (eps 1e-3)
    minus the plain LB run's, per network (mean over seeds)."""
    if R.data.empty:
        return {"e3_sentence": "nothing ran", "e3_nets": "none", "rem_profile": R.plan.profile.name}
    c = sharpness_col(EPS[0])
    parts = []
    for net, d in R.data.groupby("net", sort=False):
        base = d[d.regime == "LB"].drop_duplicates("seed")
        for method, g in d[d.regime == "LB+remedy"].groupby("remedy", sort=False):
            parts.append(f"{net} {method}: test accuracy {g.test_acc.mean() - base.test_acc.mean():+.2f} "
                         f"points, sharpness (eps 1e-3) {g[c].mean():.3g} vs {base[c].mean():.3g}")
    return {"e3_sentence": "; ".join(parts), "e3_nets": ", ".join(R.nets),
            "rem_profile": R.plan.profile.name}


# --------------------------------------------------------------------------- the decisive campaign
def campaign_text(progress, key: str = "campaign_sentence") -> dict:
    """Glue-ready sentence (under ``key``) on a campaign's progress
    (:class:`lbsm.pipeline.campaign.Progress`): k of n trials published, and how to go on."""
    name, done, n, command = progress.name, progress.done, progress.total, progress.command
    if not done:
        return {key: f"No trial of `{name}` is published yet (0 of {n}); `{command}` computes them."}
    left = n - len(done)
    more = (f" {left} more {'trial is' if left == 1 else 'trials are'} to come; `{command}` "
            "continues the campaign." if left else " The campaign is complete.")
    return {key: f"{len(done)} of {n} trials of `{name}` are published (seeds "
                 f"{', '.join(map(str, done))}); the verdicts below are on those.{more}"}
