"""Tables, figures and captions of two chapters: ``small_batches`` (Section 3: Figs. 4-6, the
"not a cone" remark, Appendix C) and ``remedies`` (Appendix E: Tables 6, 7 and Section E.3).

The experiments are those of :mod:`lbsm.experiments`; what each runs is the profile's knobs
(``Profile.small_batches`` / ``Profile.remedies``: section -> network -> keyword arguments of the
section's function in ``SECTIONS``). The pattern of a chapter::

    S = report_remedies.plan(profile, "small_batches")   # the knobs, what is skipped and why
    report_remedies.coverage(S)                          # said in the chapter, from the profile
    f4 = report_remedies.fig4(S)                         # train (or load) and measure
    report_remedies.knee_table(f4)                       # ours vs the paper
    report_remedies.caption(f4, "Figure 4")              # profile, device, seeds, epochs, commit

Every result is a :class:`Result`: a tidy DataFrame plus the runs it came from (for captions).
Formatting, glue, status rows and the paper's numbers come from :mod:`lbsm.report` and
:mod:`lbsm.paper`.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from . import experiments, machine, paper, remedies, report
from .results import SECTIONS, Plan, Result, bind

# chapter -> section -> the function its per-network knobs are keyword arguments of
# (``cone`` and ``appendix_c`` take runs, not a network name: see ``bind``)
# which networks the paper shows each section for
PAPER_NETS = {"fig4": ("F2", "C1"), "fig5": ("F2", "C1"), "fig6": ("F2", "C1"), "cone": paper.NETS,
              "augmentation": ("C1", "C2", "C3", "C4"), "conservative": paper.NETS,
              "adversarial": (), "stability": ()}
TITLES = {"fig4": "Figure 4", "fig5": "Figure 5", "fig6": "Figure 6", "cone": "'Not a cone'",
          "augmentation": "Table 6", "conservative": "Table 7", "adversarial": "E.3 adversarial",
          "stability": "E.3 stability"}
PAPER_FIG_NET = {"F1": "F2", "F2": "F2", "C1": "C1"}  # whose paper panel a network is drawn beside
EPS = experiments.DEFAULT_EPS


# --------------------------------------------------------------------------- knobs


def coverage(S: Plan) -> "Markdown":
    """Per section: the networks it runs, those the paper shows, what is skipped and why."""
    from IPython.display import Markdown
    lines = [f"Profile `{S.profile.name}` ({S.profile.description}):", ""]
    for section in S.knobs:
        run, skip = S.knobs[section], S.skipped[section]
        wanted = PAPER_NETS[section]
        parts = [f"runs {', '.join(run) or 'nothing'}"]
        parts += [f"{new} stands in for {old}" for new, old in S.stand_ins[section].items()]
        parts += [f"skips {n} ({why})" for n, why in skip.items()]
        absent = [n for n in wanted if n not in run and n not in skip]
        if absent:
            parts.append("not in this profile: " + ", ".join(
                n if report.data_ready(report.dataset_of(n))
                else f"{n} (needs data: {report.DATASET_NAMES[report.dataset_of(n)]})" for n in absent))
        shown = ", ".join(wanted) if wanted else "no network named, no numbers"
        lines.append(f"- **{TITLES[section]}** (paper: {shown}): {'; '.join(parts)}.")
    return Markdown("\n".join(lines))


# --------------------------------------------------------------------------- results and captions


def _epochs(runs) -> str:
    return report._span(r.meta["epochs_run"] for r in runs)


def caption(R: Result, what: str = "", extra: str = "") -> "Markdown":
    """A caption stating profile, networks, seeds, batch sizes, epochs, data, sharpness settings,
    device and commit of the runs behind ``R``."""
    from IPython.display import Markdown
    parts, runs = [], []
    for net, rs in R.runs.items():
        if not rs:
            continue
        runs += rs
        batches = ", ".join(str(b) for b in sorted({r.config.batch_size for r in rs}))
        kw = bind(SECTIONS[R.plan.chapter][R.section], R.knobs.get(net, {}), net).arguments \
            if net in R.knobs else {}
        subset = kw.get("sharpness_subset", kw.get("subset"))
        sharp = (f"; sharpness: {kw['sharpness_iters']} L-BFGS-B iterations on "
                 f"{subset or 'all'} training examples") if "sharpness_iters" in kw else ""
        stand = f" (standing in for {R.plan.stand_ins[R.section][net]})" \
            if net in R.plan.stand_ins.get(R.section, {}) else ""
        parts.append(f"{net}{stand}: {report._seeds_text(sorted({r.config.seed for r in rs}))}, "
                     f"B = {batches}, {_epochs(rs)} epochs, {rs[0].meta['n_train']} training / "
                     f"{rs[0].meta['n_test']} test examples, {report.precisions(rs)}{sharp}")
    devices = sorted({r.meta.get("device", "?") for r in runs}) or ["—"]
    commits = sorted({r.meta.get("commit", "?") for r in runs}) or ["—"]
    now = machine.git_commit()
    eps = ", ".join(report._eps_label(e) for e in EPS)
    text = (f"*{what + ' — ' if what else ''}profile `{R.plan.profile.name}`; "
            f"{'; '.join(parts) or 'no runs'}; eps {eps}; {extra + '; ' if extra else ''}"
            f"device: {', '.join(devices)}; trained at commit {', '.join(commits)}"
            f"{'' if commits == [now] else f', rendered at commit {now}'}.*")
    return Markdown(text)


def _deviations(R: Result) -> list[str]:
    """How the knobs of ``R`` depart from the paper's protocol (for the status rows)."""
    out = set()
    pr = paper.protocol()
    for net, kw in R.knobs.items():
        a = bind(SECTIONS[R.plan.chapter][R.section], kw, net).arguments
        seeds = a.get("seeds")
        if seeds is not None and len(seeds) < pr["trials"]:
            out.add(f"{net}: {len(seeds)} of {pr['trials']} trials")
        for k in ("epochs", "sb_epochs", "lb_epochs"):
            if k in a and R.section in ("fig4", "fig5", "fig6") and a[k] != 100:
                out.add(f"{net}: {k.replace('_', ' ')} {a[k]} instead of 100")
        if R.plan.chapter == "remedies" and (a.get("config") or {}).get("stop") != "plateau":
            out.add(f"{net}: fixed {a['sb_epochs']} SB / {a['lb_epochs']} LB epochs instead of "
                    "'until the loss ceased to improve'")
        if a.get("train_subset") or a.get("test_subset"):
            out.add(f"{net}: {a.get('train_subset') or 'all'} training / "
                    f"{a.get('test_subset') or 'all'} test examples")
        if "bf16" in {r.meta.get("precision") for r in R.runs.get(net, [])}:
            out.add(f"{net}: bf16 autocast")
        if a.get("sharpness_iters", 10) != pr["sharpness_lbfgsb_iterations"]:
            out.add(f"{net}: {a['sharpness_iters']} L-BFGS-B iterations")
        if a.get("sharpness_subset") or a.get("subset"):
            out.add(f"{net}: sharpness on {a.get('sharpness_subset') or a.get('subset')} training examples")
        if net in R.plan.stand_ins.get(R.section, {}):
            out.add(f"{net} stands in for {R.plan.stand_ins[R.section][net]}")
    return sorted(out)


def status(R: Result, artifact: str, note: str = "") -> dict:
    """The status row of the artifact ``R`` reproduces (``lbsm.report.artifact``)."""
    missing = {n: report.dataset_of(n) for n, why in R.plan.skipped.get(R.section, {}).items()
               if why.startswith("needs data")}
    done = [n for n in R.nets if n in set(R.data.get("net", []))]
    extra = [n for n in done if n not in PAPER_NETS.get(R.section, ())]
    notes = [note] if note else []
    if extra:
        notes.append(f"also shown: {', '.join(extra)}")
    row = report.artifact(artifact, nets_done=done, deviations_=_deviations(R), missing=missing,
                          profile_name=R.plan.profile.name, note="; ".join(notes))
    if done and row["status"] in ("needs data", "not run"):  # ran, but only on networks the paper omits
        row["status"] = "partial"
    return row


# --------------------------------------------------------------------------- Figure 4


def _paper_knee(net: str) -> float:
    """Our knee rule applied to the paper's own Fig. 4 accuracy curve of ``net`` (F2 or C1)."""
    f = paper.figure(f"Fig4_{net}")
    f = f[f.series == "test_acc"]
    return experiments.knee(f.x, f.y).batch_size


def knee_table(R: Result) -> pd.DataFrame:
    """The threshold batch size per network (``experiments.knee`` on mean test accuracy over seeds)
    next to the paper's (stated, and our rule on its plotted curve), also as a fraction of the
    training set (so that F1 on MNIST can be read against F2 on TIMIT)."""
    stated = paper.statement("threshold_batch_size")
    rows = []
    for net in R.nets:
        d = R.data[R.data.net == net]
        ref = PAPER_FIG_NET.get(net, net)
        n_train = R.runs[net][0].meta["n_train"] if R.runs.get(net) else float("nan")
        try:
            k = experiments.knee(d.batch_size, d.test_acc)
            ours, level, slope = k.batch_size, k.plateau_acc, k.slope_per_decade
        except ValueError:  # fewer than three batch sizes
            ours = level = slope = float("nan")
        p_train = paper.table(5).loc[{"F2": "TIMIT", "C1": "CIFAR-10"}[ref], "train"] if ref in stated else None
        rows.append({"net": net, "batch sizes": len(set(d.batch_size)), "knee (ours)": ours,
                     "knee / training set (ours)": ours / n_train,
                     "accuracy up to the knee (%)": level, "slope after (points per decade)": slope,
                     "paper net": ref, "knee (paper, stated)": stated.get(ref, float("nan")),
                     "knee (paper curve, our rule)": _paper_knee(ref) if ref in stated else float("nan"),
                     "knee / training set (paper)": stated[ref] / p_train if p_train else float("nan")})
    return pd.DataFrame(rows).set_index("net") if rows else pd.DataFrame()


def _paper_twin(ax, key: str, title: str):
    """The paper's Fig. 4 panel ``key``: accuracy (blue) and sharpness on a twin axis (red)."""
    f = paper.figure(key)
    a = f[f.series == "test_acc"]
    ax.plot(a.x, a.y, color=report.SB_COLOR, label="test accuracy")
    ax2 = ax.twinx()
    for e, ls in zip(("1e-3", "5e-4"), ("-", "--")):
        s = f[f.series == f"sharpness_eps{e}"]
        ax2.plot(s.x, s.y, ls, color=report.LB_COLOR, label=f"sharpness eps {e}")
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
            ax.plot(d.index, d.test_acc, "o-", color=report.SB_COLOR, label="test accuracy")
            ax2 = ax.twinx()
            for e, ls in zip(EPS, ("-", "--")):
                ax2.plot(d.index, d[experiments.sharpness_col(e)], ls, marker="s", ms=3,
                         color=report.LB_COLOR, label=f"sharpness eps {report._eps_label(e)}")
            if not math.isnan(knees.loc[net, "knee (ours)"]):
                ax.axvline(knees.loc[net, "knee (ours)"], color="grey", ls=":", label="knee (ours)")
            ax.set(xscale="log", xlabel="batch size", ylabel="test accuracy (%)", title=f"{net} (ours)")
            ax2.set(ylabel="sharpness")
            ax2.legend(fontsize=7, loc="center right")
            ax.legend(fontsize=7, loc="lower left")
        ref = PAPER_FIG_NET.get(net)
        if ref:
            _paper_twin(row[1], f"Fig4_{ref}", f"{ref} (paper, Fig. 4)").legend(fontsize=7)
            row[1].axvline(paper.statement("threshold_batch_size")[ref], color="grey", ls=":")
        else:
            row[1].set_axis_off()
    fig.tight_layout()
    plt.close(fig)
    return fig


# --------------------------------------------------------------------------- Figure 5


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
            top[0].plot(d.sb_epoch, d.sb_test_acc, "o-", color=report.SB_COLOR, label="SB iterate")
            top[0].plot(d.sb_epoch, d.lb_test_acc, "s-", color=report.LB_COLOR, label="warm-started LB")
            for e, ls in zip(EPS, ("-", "--")):
                bot[0].plot(d.sb_epoch, d[experiments.sharpness_col(e)].clip(lower=1e-4), ls, marker="s",
                            ms=3, color=report.LB_COLOR, label=f"LB sharpness eps {report._eps_label(e)}")
            top[0].set(ylabel="test accuracy (%)", title=f"{net} (ours)")
            bot[0].set(yscale="log", xlabel="epoch of SB training", ylabel="sharpness")
            top[0].legend(fontsize=7), bot[0].legend(fontsize=7)
        ref = PAPER_FIG_NET.get(net)
        if ref:
            f = paper.figure(f"Fig5_{ref}")
            s = {k: g for k, g in f.groupby("series")}
            top[1].plot(s["SB_test_acc"].x, s["SB_test_acc"].y, color=report.SB_COLOR, label="SB iterate")
            top[1].plot(s["piggybackLB_test_acc"].x, s["piggybackLB_test_acc"].y, color=report.LB_COLOR,
                        label="warm-started LB")
            bot[1].plot(s["piggybackLB_sharpness_eps1e-3"].x, s["piggybackLB_sharpness_eps1e-3"].y, "-",
                        color=report.LB_COLOR, label="eps 1e-3")
            g = s["piggybackLB_sharpness_second_eps_legend_5E-3"]
            bot[1].plot(g.x, g.y, "--", color=report.LB_COLOR, label="second eps (legend '5E-3')")
            top[1].set(title=f"{ref} (paper, Fig. 5)")
            bot[1].set(yscale="log", xlabel="epoch of SB training")
            top[1].legend(fontsize=7), bot[1].legend(fontsize=7)
        else:
            top[1].set_axis_off(), bot[1].set_axis_off()
    fig.tight_layout()
    plt.close(fig)
    return fig


# --------------------------------------------------------------------------- Figure 6


def plot_fig6(R: Result):
    """Fig. 6: sharpness against training loss along the SB and LB runs, log-log with the loss
    decreasing to the right as the paper draws it; ours (left) beside the paper's (right)."""
    import matplotlib.pyplot as plt
    nets = R.nets or ["—"]
    fig, axes = plt.subplots(len(nets), 2, figsize=(11, 3.8 * len(nets)), squeeze=False)
    styles = {("SB", 0): ("o--", report.SB_COLOR), ("SB", 1): (":", report.SB_COLOR),
              ("LB", 0): ("s-", report.LB_COLOR), ("LB", 1): ("--", report.LB_COLOR)}
    for row, net in zip(axes, nets):
        if net in R.nets:
            d = R.data[R.data.net == net]
            for (regime, i), (ls, color) in styles.items():
                g = d[d.regime == regime].sort_values("train_loss")
                row[0].plot(g.train_loss, g[experiments.sharpness_col(EPS[i])].clip(lower=1e-4), ls,
                            color=color, ms=3, label=f"{regime} eps {report._eps_label(EPS[i])}")
            row[0].set(title=f"{net} (ours)")
        ref = PAPER_FIG_NET.get(net)
        if ref:
            f = paper.figure(f"Fig6_{ref}")
            for (regime, i), (ls, color) in styles.items():
                g = f[f.series == f"{regime}_eps{('1e-3', '5e-4')[i]}"]
                row[1].plot(g.x, g.y, ls.replace("o", "").replace("s", ""), color=color,
                            label=f"{regime} eps {report._eps_label(EPS[i])}")
            row[1].set(title=f"{ref} (paper, Fig. 6)")
        for ax in row:
            if ax.lines:
                ax.set(xscale="log", yscale="log", xlabel="training cross-entropy loss", ylabel="sharpness")
                ax.invert_xaxis()
                ax.legend(fontsize=7)
            else:
                ax.set_axis_off()
    fig.tight_layout()
    plt.close(fig)
    return fig


def fig6_table(R: Result) -> pd.DataFrame:
    """Sharpness (eps 1e-3) at the first and the last sampled iterate of each run, ours and the
    paper's (the paper's series read at their highest and lowest loss)."""
    rows = []
    col = experiments.sharpness_col(EPS[0])
    for net in R.nets:
        d = R.data[R.data.net == net]
        ref = PAPER_FIG_NET.get(net)
        f = paper.figure(f"Fig6_{ref}") if ref else None
        for regime in ("SB", "LB"):
            g = d[d.regime == regime].sort_values("epoch")
            row = {"net": net, "regime": regime, "loss first": g.train_loss.iloc[0],
                   "sharpness first": g[col].iloc[0], "loss last": g.train_loss.iloc[-1],
                   "sharpness last": g[col].iloc[-1]}
            if f is not None:
                p = f[f.series == f"{regime}_eps1e-3"].sort_values("x")
                row.update({"paper net": ref, "paper loss first": p.x.iloc[-1],
                            "paper sharpness first": p.y.iloc[-1], "paper loss last": p.x.iloc[0],
                            "paper sharpness last": p.y.iloc[0]})
            rows.append(row)
    return pd.DataFrame(rows).set_index(["net", "regime"]) if rows else pd.DataFrame()


# --------------------------------------------------------------------------- "not a cone"


def cone_summary(R: Result) -> pd.DataFrame:
    """Per (net, minimizer): directions, the Metric 2.1 reference, the median and largest rise
    along a random vertex direction relative to it, and the fraction of steep directions."""
    if R.data.empty:
        return pd.DataFrame()
    g = R.data.groupby(["net", "label"], sort=False)
    out = pd.DataFrame({"directions": g.size(), "reference (Metric 2.1)": g.reference.first(),
                        "median rise / reference": g.relative.median(),
                        "max rise / reference": g.relative.max(), "steep fraction": g.steep.mean()})
    out["paper ('5% of the whole space')"] = paper.statement("not_a_cone_fraction")["value"]
    return out


# --------------------------------------------------------------------------- Appendix C
def appendix_c(S: Plan, *results: Result) -> pd.DataFrame:
    """Appendix C's model on our runs: ``experiments.compare_iterations`` on each (SB, LB) pair of
    the Fig. 6 runs (one trial per network, same x0), with ``f_s`` from the profile's knobs, and the
    paper's worked example (f_s = 0.2, B_s / B_l = 0.1) as the last row."""
    kw = S.shared.get("appendix_c", {})
    rows = []
    for R in results:
        for net, rs in R.runs.items():
            if len(rs) == 2:
                rows.append({"net": net, **experiments.compare_iterations(rs[0], rs[1], **kw)})
    f_s = bind(experiments.compare_iterations, kw).arguments["f_s"]
    rows.append({"net": "paper example", "target_acc": float("nan"), "b_s": 1, "b_l": 10, "f_s": 0.2,
                 "i_s": None, "i_l": None, "ratio": float("nan"), "bound": 1 / (0.2 * 10),
                 "lb_faster": "iff I_l / I_s < bound"})
    df = pd.DataFrame(rows).set_index("net")
    df.attrs["f_s"] = f_s
    return df.rename(columns={"target_acc": "common test acc (%)", "b_s": "B_s", "b_l": "B_l",
                              "i_s": "I_s", "i_l": "I_l", "ratio": "I_l / I_s",
                              "bound": "B_s / (f_s B_l)", "lb_faster": "LB faster?"})


# --------------------------------------------------------------------------- Appendix E


def _row(rows, net, quantity, values, pval, psd):
    m, s = report.mean_sd(values)
    rows.append(dict(net=net, quantity=quantity, ours=m, ours_sd=s, paper=pval, paper_sd=psd,
                     seeds=len(list(values))))


def remedy_table(R: Result, table: int) -> pd.DataFrame:
    """Table 6 (``table=6``, augmentation) or 7 (conservative training), ours vs the paper.

    Per network the table's four columns (SB baseline and remedied LB test accuracy, remedied LB
    sharpness at both eps) and, when the plain LB run was trained, its test accuracy and sharpness
    next to the paper's Table 2 / Table 3 values: the remedy's effect is the difference of the two.
    """
    if R.data.empty:
        return pd.DataFrame()
    pt, t2, t3 = paper.table(table), paper.table(2), paper.table(3)
    sb_col, lb_col = ("test_sb_augmented", "test_lb_augmented") if table == 6 else \
        ("test_sb_baseline", "test_lb_conservative")
    name = "augmented" if table == 6 else "conservative"
    rows = []
    for net, d in R.data.groupby("net", sort=False):
        sb, rem, lb = (d[d.regime == r] for r in ("SB", "LB+remedy", "LB"))
        p = pt.loc[net] if net in pt.index else None

        def pv(col):
            return (p[col], p[f"{col}_sd"]) if p is not None else (float("nan"), float("nan"))
        _row(rows, net, f"test SB ({'augmented' if table == 6 else 'baseline'})", list(sb.test_acc), *pv(sb_col))
        _row(rows, net, f"test LB ({name})", list(rem.test_acc), *pv(lb_col))
        for e in EPS:
            lab = report._eps_label(e)
            _row(rows, net, f"LB ({name}) sharpness eps {lab}", list(rem[experiments.sharpness_col(e)]),
                 *pv(f"lb_sharpness_eps_{lab}"))
        if len(lb):
            _row(rows, net, "test LB (plain; paper: Table 2)", list(lb.test_acc),
                 t2.loc[net, "test_lb"], t2.loc[net, "test_lb_sd"])
            for e in EPS:
                lab = report._eps_label(e)
                _row(rows, net, f"LB (plain) sharpness eps {lab} (paper: Table 3)",
                     list(lb[experiments.sharpness_col(e)]), t3.loc[net, f"lb_{lab}"], t3.loc[net, f"lb_{lab}_sd"])
    df = pd.DataFrame(rows).set_index(["net", "quantity"])
    df["ours - paper"] = df.ours - df.paper
    return df


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
        s = (f"{net}: {name} LB {report.pm(rem.ours, rem.ours_sd)}% vs SB {report.pm(sb.ours, sb.ours_sd)}% "
             f"(paper {rem.paper:.2f} vs {sb.paper:.2f})")
        plain = "test LB (plain; paper: Table 2)"
        if plain in x.index:
            s += (f", plain LB {report.pm(x.loc[plain].ours, x.loc[plain].ours_sd)}% "
                  f"(paper {x.loc[plain].paper:.2f})")
        sh = x.loc[f"LB ({name}) sharpness eps 1e-3"]
        s += f"; {name} LB sharpness at eps 1e-3 {sh.ours:.3g} (paper {sh.paper:.4g})"
        parts.append(s)
    return {f"{prefix}_sentence": "; ".join(parts), f"{prefix}_nets": ", ".join(R.nets)}


def robust_table(R: Result) -> pd.DataFrame:
    """E.3 per network: test accuracy and sharpness (mean ± sd over seeds) of the SB baseline, the
    plain LB run and the LB runs with adversarial / stability training, and each LB's difference
    from the plain LB (the paper reports no numbers: "similar to the unmodified (baseline) case")."""
    if R.data.empty:
        return pd.DataFrame()
    d = R.data.copy()
    d["variant"] = np.where(d.regime == "LB+remedy", "LB + " + d.remedy, d.regime)
    d = d.drop_duplicates(["net", "variant", "seed"])
    order = {"SB": 0, "LB": 1}
    d = d.iloc[np.argsort([order.get(v, 2) for v in d.variant], kind="stable")]
    cols = ["test_acc"] + [experiments.sharpness_col(e) for e in EPS]
    rows = []
    for (net, variant), g in d.groupby(["net", "variant"], sort=False):
        base = d[(d.net == net) & (d.variant == "LB")]
        row = {"net": net, "variant": variant, "seeds": len(g)}
        for c, label in zip(cols, ["test acc (%)"] + [f"sharpness eps {report._eps_label(e)}" for e in EPS]):
            m, s = report.mean_sd(g[c])
            row[label] = report.pm(m, s, 2) if not math.isnan(m) else "—"
            if variant.startswith("LB +") and len(base):
                row[f"{label} − plain LB"] = round(m - base[c].mean(), 2)
        rows.append(row)
    # the SB and plain LB rows have no difference from the plain LB: a dash, not NaN
    return pd.DataFrame(rows).set_index(["net", "variant"]).astype(object).fillna("—")


def method_args(S: Plan) -> dict:
    """Glue-ready hyper-parameters of every remedy, resolved (defaults filled in) per network by
    ``remedies.resolve_args``: ``args_conservative``, ``args_adversarial``, ``args_stability``."""
    out = {}
    for section in ("conservative", "adversarial", "stability"):
        parts = []
        for net, kw in S.knobs.get(section, {}).items():
            a = bind(experiments.remedy_trials, kw, net).arguments
            args = remedies.resolve_args(a["method"], net, a["method_args"])
            parts.append(f"{net}: " + ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) and not
                                                 isinstance(v, bool) else f"{k} = {v}"
                                                 for k, v in args.items()))
        out[f"args_{section}"] = "; ".join(parts) or "not run under this profile"
    return out


def plot_parametric(pp: pd.DataFrame):
    """E.3 parametric plots: loss (left) and accuracy (right) along x(alpha) = alpha x_LB +
    (1 - alpha) x_SB for each LB variant; train solid, test dashed; one row per network."""
    import matplotlib.pyplot as plt
    nets = list(pp.net.unique()) if not pp.empty else ["—"]
    fig, axes = plt.subplots(len(nets), 2, figsize=(11, 3.6 * len(nets)), squeeze=False)
    colors = {"LB": "black", "LB + adversarial": report.LB_COLOR, "LB + stability": "tab:green"}
    for row, net in zip(axes, nets):
        d = pp[pp.net == net] if not pp.empty else pp
        for (variant, split), g in (d.groupby(["variant", "split"], sort=False) if len(d) else []):
            for ax, col in zip(row, ("loss", "accuracy")):
                ax.plot(g.alpha, g[col], "-" if split == "train" else "--",
                        color=colors.get(variant, "grey"), label=f"{variant}, {split}")
        row[0].set(yscale="log", xlabel="alpha", ylabel="cross-entropy", title=f"{net}: loss")
        row[1].set(xlabel="alpha", ylabel="accuracy (%)", title=f"{net}: accuracy")
        for ax in row:
            ax.legend(fontsize=6)
            ax.grid(alpha=0.3)
    fig.tight_layout()
    plt.close(fig)
    return fig


# --------------------------------------------------------------------------- glue
def small_batches_text(S: Plan, f4: Result, knees: pd.DataFrame, f5: Result, f6: Result,
                       cn: Result, appc: pd.DataFrame) -> dict:
    """Glue-ready numbers and sentences of the ``small_batches`` chapter."""
    st = paper.statement("threshold_batch_size")
    out = {"sb_profile": S.profile.name, "knee_paper_F2": f"{st['F2']:,}", "knee_paper_C1": f"{st['C1']:,}",
           "knee_paper_curve_F2": f"{_paper_knee('F2'):,.0f}", "knee_paper_curve_C1": f"{_paper_knee('C1'):,.0f}",
           "cone_paper": f"{paper.statement('not_a_cone_fraction')['value']:.0%}",
           "appc_fs": f"{appc.attrs.get('f_s', float('nan')):g}",
           "appc_paper_bound": f"{1 / (0.2 * 10):g}"}
    stand = {k: v for s in S.stand_ins.values() for k, v in s.items()}
    out["standin_sentence"] = ("; ".join(f"{k} (MNIST) stands in for {v}, whose TIMIT features are not "
                                         "in the data directory" for k, v in stand.items())
                               or "no network stands in for another: every network's data is there")
    out["knee_sentence"] = "; ".join(
        f"{n}: {r['knee (ours)']:,.0f} ({r['knee / training set (ours)']:.1%} of its training set; "
        f"paper {r['paper net']}: {r['knee (paper, stated)']:,.0f}, "
        f"{r['knee / training set (paper)']:.1%})" for n, r in knees.iterrows()) or "not computed"
    parts = []
    for net in f5.nets:
        d = f5.data[f5.data.net == net].sort_values("sb_epoch")
        c = experiments.sharpness_col(EPS[0])
        parts.append(f"{net}: LB sharpness {d[c].iloc[0]:.3g} from epoch {d.sb_epoch.iloc[0]} vs "
                     f"{d[c].iloc[-1]:.3g} from epoch {d.sb_epoch.iloc[-1]}, LB test accuracy "
                     f"{d.lb_test_acc.iloc[0]:.2f}% vs {d.lb_test_acc.iloc[-1]:.2f}%")
    out["fig5_sentence"] = "; ".join(parts) or "not run"
    t6 = fig6_table(f6)
    out["fig6_sentence"] = "; ".join(
        f"{n} {reg}: {r['sharpness first']:.3g} at loss {r['loss first']:.3g} to {r['sharpness last']:.3g} "
        f"at loss {r['loss last']:.3g}" for (n, reg), r in t6.iterrows()) or "not run"
    cs = cone_summary(cn)
    kw = next(iter(S.knobs.get("cone", {}).values()), {})
    a = bind(experiments.cone_table, kw).arguments
    out.update(cone_directions=str(a["directions"]), cone_radius=report._eps_label(a["radius"]),
               cone_threshold=f"{a['threshold']:g}")
    out["cone_sentence"] = "; ".join(
        f"{n} {lab}: {r['steep fraction']:.0%} of {int(r.directions)} directions steep, median rise "
        f"{r['median rise / reference']:.2g} of the reference" for (n, lab), r in cs.iterrows()) or "not run"
    out["appc_sentence"] = "; ".join(
        f"{n}: I_l / I_s = {r['I_l / I_s']:.2f} vs bound {r['B_s / (f_s B_l)']:.2f} "
        f"({'LB faster' if r['LB faster?'] is True else 'SB faster' if r['LB faster?'] is False else 'undecided'})"
        for n, r in appc.drop(index="paper example").iterrows()) or "not run"
    return out


def small_batches_status(f4: Result, f5: Result, f6: Result, cn: Result) -> list[dict]:
    """Status rows of Figures 4, 5 and 6 (the cone remark is reported in its note of Fig. 6)."""
    return [status(f4, "Figure 4"), status(f5, "Figure 5"),
            status(f6, "Figure 6", note=f"'not a cone' measured on {', '.join(cn.nets) or 'no network'}")]


def remedies_status(r6: Result, r7: Result, rb: Result) -> list[dict]:
    """Status rows of Tables 6, 7 and Section E.3."""
    return [status(r6, "Table 6"), status(r7, "Table 7"),
            status(rb, "Section E.3", note="the paper reports no numbers, only 'no improvement'")]


def check_table(df: pd.DataFrame, digits: int = 0) -> str:
    """``report.check_values`` for a numeric table whose rows may be empty (coarse, for nbval)."""
    return report.check_values(df, digits=digits) if "ours" in df else "(nothing ran)"


def check_numbers(df: pd.DataFrame, columns, digits: int = 0) -> str:
    """A coarse print of some numeric columns, one line per (row, column) (nbval compares it)."""
    if df.empty:
        return "(nothing ran)"
    lines = []
    for key, row in df.iterrows():
        k = " / ".join(map(str, key)) if isinstance(key, tuple) else str(key)
        lines += [f"{k} [{c}]: {round(float(row[c]), digits) + 0.0:.{digits}f}" for c in columns]
    return "\n".join(lines)


def robust_text(R: Result) -> dict:
    """Glue-ready sentence of E.3: each robust LB variant's test accuracy and sharpness (eps 1e-3)
    minus the plain LB run's, per network (mean over seeds)."""
    if R.data.empty:
        return {"e3_sentence": "nothing ran", "e3_nets": "none", "rem_profile": R.plan.profile.name}
    c = experiments.sharpness_col(EPS[0])
    parts = []
    for net, d in R.data.groupby("net", sort=False):
        base = d[d.regime == "LB"].drop_duplicates("seed")
        for method, g in d[d.regime == "LB+remedy"].groupby("remedy", sort=False):
            parts.append(f"{net} {method}: test accuracy {g.test_acc.mean() - base.test_acc.mean():+.2f} "
                         f"points, sharpness (eps 1e-3) {g[c].mean():.3g} vs {base[c].mean():.3g}")
    return {"e3_sentence": "; ".join(parts), "e3_nets": ", ".join(R.nets),
            "rem_profile": R.plan.profile.name}
