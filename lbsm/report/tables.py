"""Every table of the book: ours next to the paper's, as DataFrames (numbers, or ``mean ± sd`` text).

One function per table, in chapter order: setup (Tables 1 and 5, the profile), gap (Table 2),
sharpness (Tables 3 and 4, Hessian), interpolation (rise beyond each minimizer, distance ratio),
small_batches (Fig. 4's knee, Fig. 6's ends, "not a cone", Appendix C) and remedies (Tables 6, 7,
Section E.3). Inputs are what :mod:`lbsm.experiments` returns; nothing here trains or solves.
Numeric ours/paper tables are turned into text by :func:`lbsm.report.pm_table`; the paper's own
tables, as printed, are :func:`lbsm.report.paper_table`.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..core import paper
from ..core.constants import EPS, eps_label
from .judgments import _paper_rise, first_rises
from .render import PAPER_FIG_NET, mean_sd, pm
from .verdicts import Paired
from ..analyses.knee import knee
from ..core.constants import sharpness_col
from ..experiments import stored
from ..experiments.plans import Plan, Result
from ..experiments.trials import Trained

TABLE2_ROWS = [("train SB", "train_sb", "train_acc", 0), ("train LB", "train_lb", "train_acc", 1),
               ("test SB", "test_sb", "test_acc", 0), ("test LB", "test_lb", "test_acc", 1)]


# --------------------------------------------------------------------------- setup chapter


# --------------------------------------------------------------------------- gap chapter
def table2(T: Trained) -> pd.DataFrame:
    """Table 2, ours vs the paper: final accuracies (%) mean and sd over seeds, and differences.

    One row per (network, quantity), quantities train/test x SB/LB and the gap test SB - test LB.
    Our accuracies are those of the final epoch; sd is the sample sd over seeds (NaN for one).
    """
    ptab = paper.table(2)
    rows = []
    for net in T.nets:
        finals = [(sb.final, lb.final) for sb, lb in T.pairs[net]]
        for label, pcol, col, i in TABLE2_ROWS:
            m, s = mean_sd(f[i][col] for f in finals)
            rows.append(dict(net=net, quantity=label, ours=m, ours_sd=s, paper=ptab.loc[net, pcol],
                             paper_sd=ptab.loc[net, f"{pcol}_sd"], seeds=len(finals)))
        gap = Paired.of([f[0]["test_acc"] - f[1]["test_acc"] for f in finals])
        rows.append(dict(net=net, quantity="gap (test SB - LB)", ours=gap.mean, ours_sd=gap.sd,
                         paper=ptab.loc[net, "test_sb"] - ptab.loc[net, "test_lb"], paper_sd=float("nan"),
                         seeds=len(finals), p=gap.p))
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    df["ours - paper"] = df.ours - df.paper
    df["paired t-test"] = ["—" if pd.isna(p) else f"p = {p:.2g}" for p in df.pop("p")]
    return df.set_index(["net", "quantity"])


# --------------------------------------------------------------------------- sharpness chapter
def sharpness_table(values: pd.DataFrame, table: int) -> pd.DataFrame:
    """Table 3 (``table=3``) or 4 from ``sharpness_values``: ours vs the paper, mean and sd.

    Rows (net, eps, regime) plus a row ``LB/SB`` per (net, eps), the ratio of the means (the
    paper's "1-2 orders of magnitude").
    """
    if values.empty:
        return pd.DataFrame()
    ptab = paper.table(table)
    rows = []
    for (net, eps), g in values.groupby(["net", "eps"], sort=False):
        means = {}
        for regime in ("sb", "lb"):
            r = g[g.regime == regime]
            m, s = mean_sd(r.value)
            means[regime] = m
            pm_, ps = ptab.loc[net, f"{regime}_{eps}"], ptab.loc[net, f"{regime}_{eps}_sd"]
            rows.append(dict(net=net, eps=eps, regime=regime.upper(), ours=m, ours_sd=s, paper=pm_,
                             paper_sd=ps, seeds=len(r), **{"L-BFGS-B iterations run": iterations_text(r)}))
        p_ratio = ptab.loc[net, f"lb_{eps}"] / ptab.loc[net, f"sb_{eps}"] if ptab.loc[net, f"sb_{eps}"] else float("nan")
        rows.append(dict(net=net, eps=eps, regime="LB/SB", ours=means["lb"] / means["sb"]
                         if means["sb"] else float("nan"), ours_sd=float("nan"), paper=p_ratio,
                         paper_sd=float("nan"), seeds=int((g.regime == "sb").sum()),
                         **{"L-BFGS-B iterations run": ""}))
    df = pd.DataFrame(rows).set_index(["net", "eps", "regime"])
    df["ours / paper"] = df.ours / df.paper
    return df


def iterations_text(solves: pd.DataFrame) -> str:
    """The L-BFGS-B iterations a set of solves ran, against the iterations asked for: "10 of 10",
    "0-10 of 10 (2 at a stationary vertex)", "1-2 of 10 (3 stopped early)"."""
    if solves.empty or "iterations" not in solves:
        return ""
    lo, hi = int(solves.iterations.min()), int(solves.iterations.max())
    asked = int(solves["iters"].max()) if "iters" in solves else hi
    text = f"{lo if lo == hi else f'{lo}-{hi}'} of {asked}"
    if "stop" in solves:
        notes = [f"{n} {'at a stationary vertex' if s == 'stationary' else s}"
                 for s, n in solves.stop.value_counts().items() if s != "iteration limit"]
        text += f" ({', '.join(notes)})" if notes else ""
    return text


def hessian_table(h: pd.DataFrame) -> pd.DataFrame:
    """Mean ± sd over seeds of each eigenvalue and the trace, per (net, regime), and LB/SB of lambda_1."""
    if h.empty:
        return pd.DataFrame()
    cols = [c for c in h.columns if c.startswith("lambda_")] + ["trace"]  # sd over seeds
    out = []
    for (net, regime), g in h.groupby(["net", "regime"], sort=False):
        out.append({"net": net, "regime": regime, "seeds": len(g),
                    **{c: pm(*mean_sd(g[c]), digits=3 if abs(g[c].mean()) < 10 else 1) for c in cols}})
    df = pd.DataFrame(out).set_index(["net", "regime"])
    return df


# --------------------------------------------------------------------------- interpolation chapter
def _at(series: pd.DataFrame, alpha: float) -> float:
    """y of a (x, y) or (alpha, loss) curve at the point nearest to ``alpha``."""
    xs = series.iloc[:, 0].to_numpy()
    return float(series.iloc[int(np.abs(xs - alpha).argmin()), 1])


def rise_table(curves: pd.DataFrame, kind: str = "linear") -> pd.DataFrame:
    """How steeply the training loss rises beyond each minimizer, per trial, where the two
    minimizers differ: one grid step h beyond each (``beyond SB`` = f(-h) - f(0), ``beyond LB`` =
    f(1 + h) - f(1); ``lbsm.report.judgments.first_rises``), not far out where both losses saturate at
    ln 10; the paper's plotted curve read at the same alphas, where the paper draws the network."""
    key = "Fig3" if kind == "linear" else "Fig7"
    rows = []
    train = curves[curves.split == "train"] if len(curves) else curves
    for (net, seed), c in (train.groupby(["net", "seed"], sort=False) if len(train) else []):
        h, sb, lb = first_rises(c[["alpha", "loss"]])
        ref = _paper_rise(f"{key}_{net}", h) or (float("nan"), float("nan"))
        rows.append({"net": net, "seed": int(seed), "step h": h, "beyond SB": sb, "beyond LB": lb,
                     "log10(LB / SB)": math.log10(lb / sb) if lb > 0 and sb > 0 else float("nan"),
                     "beyond SB (paper)": ref[0], "beyond LB (paper)": ref[1]})
    return pd.DataFrame(rows).set_index(["net", "seed"]) if rows else pd.DataFrame()


def distance_table(d: pd.DataFrame) -> pd.DataFrame:
    """Mean ± sd and range of the distance ratio per network, next to the paper's 3-10."""
    r = paper.statement("distance_ratio")
    rows = [{"net": net, "ours": pm(*mean_sd(g.ratio)), "min": f"{g.ratio.min():.2f}",
             "max": f"{g.ratio.max():.2f}", "trials": len(g), "paper": f"{r['low']}-{r['high']}"}
            for net, g in d.groupby("net", sort=False)]
    return pd.DataFrame(rows).set_index("net") if rows else pd.DataFrame()


# --------------------------------------------------------------------------- small_batches chapter
def paper_knee(net: str) -> float:
    """Our knee rule applied to the paper's own Fig. 4 accuracy curve of ``net`` (F2 or C1)."""
    f = paper.figure(f"Fig4_{net}")
    f = f[f.series == "test_acc"]
    return knee(f.x, f.y).batch_size


def knee_table(R: Result) -> pd.DataFrame:
    """The threshold batch size per network (:func:`lbsm.analyses.knee.knee` on mean test accuracy over seeds)
    next to the paper's (stated, and our rule on its plotted curve), also as a fraction of the
    training set (so that F1 on MNIST can be read against F2 on TIMIT)."""
    stated = paper.statement("threshold_batch_size")
    rows = []
    for net in R.nets:
        d = R.data[R.data.net == net]
        ref = PAPER_FIG_NET.get(net, net)
        n_train = R.runs[net][0].meta["n_train"] if R.runs.get(net) else float("nan")
        try:
            k = knee(d.batch_size, d.test_acc)
            ours, level, slope = k.batch_size, k.plateau_acc, k.slope_per_decade
        except ValueError:  # fewer than three batch sizes
            ours = level = slope = float("nan")
        p_train = paper.table(5).loc[{"F2": "TIMIT", "C1": "CIFAR-10"}[ref], "train"] if ref in stated else None
        rows.append({"net": net, "batch sizes": len(set(d.batch_size)), "knee (ours)": ours,
                     "knee / training set (ours)": ours / n_train,
                     "accuracy up to the knee (%)": level, "slope after (points per decade)": slope,
                     "paper net": ref, "knee (paper, stated)": stated.get(ref, float("nan")),
                     "knee (paper curve, our rule)": paper_knee(ref) if ref in stated else float("nan"),
                     "knee / training set (paper)": stated[ref] / p_train if p_train else float("nan")})
    return pd.DataFrame(rows).set_index("net") if rows else pd.DataFrame()


def fig6_table(R: Result) -> pd.DataFrame:
    """Sharpness (eps 1e-3) at the first and the last sampled iterate of each run, ours and the
    paper's (the paper's series read at their highest and lowest loss)."""
    rows = []
    col = sharpness_col(EPS[0])
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


def appendix_c(S: Plan, *results: Result) -> pd.DataFrame:
    """Appendix C's model on our runs: ``stored.compare_iterations`` on each (SB, LB) pair of
    the Fig. 6 runs (one trial per network, same x0), with ``f_s`` from the profile's Appendix C spec, and the
    paper's worked example (f_s = 0.2, B_s / B_l = 0.1) as the last row."""
    rows = []
    for R in results:
        for net, rs in R.runs.items():
            if len(rs) == 2:
                rows.append({"net": net, **stored.compare_iterations(rs[0], rs[1], f_s=S.appendix_c.f_s)})
    f_s = S.appendix_c.f_s
    rows.append({"net": "paper example", "target_acc": float("nan"), "b_s": 1, "b_l": 10, "f_s": 0.2,
                 "i_s": None, "i_l": None, "ratio": float("nan"), "bound": 1 / (0.2 * 10),
                 "lb_faster": "iff I_l / I_s < bound"})
    df = pd.DataFrame(rows).set_index("net")
    df.attrs["f_s"] = f_s
    return df.rename(columns={"target_acc": "common test acc (%)", "b_s": "B_s", "b_l": "B_l",
                              "i_s": "I_s", "i_l": "I_l", "ratio": "I_l / I_s",
                              "bound": "B_s / (f_s B_l)", "lb_faster": "LB faster?"})


# --------------------------------------------------------------------------- remedies chapter
def _row(rows, net, quantity, values, pval, psd):
    m, s = mean_sd(values)
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
            lab = eps_label(e)
            _row(rows, net, f"LB ({name}) sharpness eps {lab}", list(rem[sharpness_col(e)]),
                 *pv(f"lb_sharpness_eps_{lab}"))
        if len(lb):
            _row(rows, net, "test LB (plain; paper: Table 2)", list(lb.test_acc),
                 t2.loc[net, "test_lb"], t2.loc[net, "test_lb_sd"])
            for e in EPS:
                lab = eps_label(e)
                _row(rows, net, f"LB (plain) sharpness eps {lab} (paper: Table 3)",
                     list(lb[sharpness_col(e)]), t3.loc[net, f"lb_{lab}"], t3.loc[net, f"lb_{lab}_sd"])
    df = pd.DataFrame(rows).set_index(["net", "quantity"])
    df["ours - paper"] = df.ours - df.paper
    return df


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
    cols = ["test_acc"] + [sharpness_col(e) for e in EPS]
    rows = []
    for (net, variant), g in d.groupby(["net", "variant"], sort=False):
        base = d[(d.net == net) & (d.variant == "LB")]
        row = {"net": net, "variant": variant, "seeds": len(g)}
        for c, label in zip(cols, ["test acc (%)"] + [f"sharpness eps {eps_label(e)}" for e in EPS]):
            m, s = mean_sd(g[c])
            row[label] = pm(m, s, 2) if not math.isnan(m) else "—"
            if variant.startswith("LB +") and len(base):
                row[f"{label} − plain LB"] = round(m - base[c].mean(), 2)
        rows.append(row)
    # the SB and plain LB rows have no difference from the plain LB: a dash, not NaN
    return pd.DataFrame(rows).set_index(["net", "variant"]).astype(object).fillna("—")


# --------------------------------------------------------------------------- sensitivity chapter


