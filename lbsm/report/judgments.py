"""Each claim of the paper judged on our numbers: one function per artifact (Table 2, Fig. 2,
Tables 3-4, Figs. 3/7, the distance ratio, Figs. 4-6, Tables 6-7, E.3) giving verdict rows under
the rules of :mod:`lbsm.report.verdicts`, and one per chapter collecting them."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..core import paper
from ..core.constants import EPS, eps_label, sharpness_col
from ..analyses.sharpness import stop_reason
from .verdicts import (DECAY_TOL, EQUIV_ACC, EQUIV_SHARP, MIN_SEEDS, PARAMETRIC_TOL_DECADES,
                       Paired, Theirs, _band, _few_seeds, _log_ratios, _within, decide, means_text,
                       number, row)


def trial_frame(T) -> pd.DataFrame:
    """Per trial: final train and test accuracy of SB and LB (the rows of Table 2)."""
    rows = []
    for net in T.nets:
        for sb, lb in T.pairs[net]:
            rows.append(dict(net=net, seed=sb.config.seed, train_sb=sb.final["train_acc"],
                             train_lb=lb.final["train_acc"], test_sb=sb.final["test_acc"],
                             test_lb=lb.final["test_acc"]))
    return pd.DataFrame(rows, columns=["net", "seed", "train_sb", "train_lb", "test_sb", "test_lb"])


def table2(trials: pd.DataFrame, problems: dict | None = None) -> list[dict]:
    """Claim: test SB > test LB, resolved by the paired test over seeds. Numbers: train and test
    of SB and LB within the paper's +- 2 sd."""
    ptab = paper.table(2)
    out = []
    for net, g in trials.groupby("net", sort=False):
        gap = Paired.of(g.test_sb - g.test_lb)
        within, parts, nums = None, [], []
        if net in ptab.index:
            flags = []
            for col in ("train_sb", "train_lb", "test_sb", "test_lb"):
                m = float(g[col].mean())
                ok = _within(m, ptab.loc[net, col], ptab.loc[net, f"{col}_sd"])
                flags.append(ok)
                nums.append(number(col.replace("_sb", " SB").replace("_lb", " LB"), m, ptab.loc[net, col],
                                   *_band(ptab.loc[net, col], ptab.loc[net, f"{col}_sd"])))
                if not ok:
                    parts.append(Theirs(f"{col.replace('_', ' ').replace('sb', 'SB').replace('lb', 'LB')} "
                                 f"{m:.2f} outside the paper's {ptab.loc[net, col]:.2f} ± "
                                 f"2 × {ptab.loc[net, f'{col}_sd']:.2f}"))
            within = all(flags)
        probs = _few_seeds(gap.n) + list((problems or {}).get(net, []))
        verdict = decide([gap.direction], within, probs)
        ev = [f"test SB {g.test_sb.mean():.2f} vs LB {g.test_lb.mean():.2f}, gap SB - LB "
              f"{gap.text(2, ' points')}"]
        if net in ptab.index:
            ev.append(Theirs(f"paper {ptab.loc[net, 'test_sb']:.2f} ± {ptab.loc[net, 'test_sb_sd']:.2f} vs "
                             f"{ptab.loc[net, 'test_lb']:.2f} ± {ptab.loc[net, 'test_lb_sd']:.2f}"))
        out.append(row("Table 2", net, verdict, ev + parts, probs, numbers=nums, seeds=g.seed))
    return out


def figure2(histories: pd.DataFrame, problems: dict | None = None) -> list[dict]:
    """Claim: at the last epoch LB's test accuracy is below SB's (paired test over seeds) and LB's
    test curve did not peak and decay (its best epoch at most ``DECAY_TOL`` points above its last,
    mean over seeds). ``histories``: net, seed, regime (SB / LB), epoch, test_acc."""
    out = []
    for net, g in histories.groupby("net", sort=False):
        last = g.sort_values("epoch").groupby(["seed", "regime"]).test_acc.last().unstack()
        best = g.groupby(["seed", "regime"]).test_acc.max().unstack()
        gap = Paired.of((last["SB"] - last["LB"]).to_numpy())
        decay = Paired.of((best["LB"] - last["LB"]).to_numpy())
        no_decay = 1 if decay.mean <= DECAY_TOL else -1
        probs = _few_seeds(gap.n) + list((problems or {}).get(net, []))
        verdict = decide([gap.direction, no_decay], None, probs)
        out.append(row("Figure 2", net, verdict,
                       f"final test SB - LB {gap.text(2, ' points')}; LB's best epoch "
                       f"{decay.mean:.2f} points above its last (tolerance {DECAY_TOL})", probs,
                       seeds=last.dropna().index))
    return out


def _solve_problems(g: pd.DataFrame, iters: int, stall_converged: bool = False) -> list[str]:
    """Solves that stopped before ``iters`` iterations without reaching a stationary point (under
    ``stall_converged``, the stall reading, nor stopping on no reduction of f), and an iteration
    count below the paper's 10."""
    out = []
    paper_iters = paper.protocol()["sharpness_lbfgsb_iterations"]
    if iters < paper_iters:
        out.append(f"{iters} L-BFGS-B iterations, not the paper's {paper_iters}")
    if "iterations" in g:
        reasons = [stop_reason(str(m), int(i), iters, stall_converged=stall_converged) for m, i in
                   zip(g.get("message", pd.Series([""] * len(g))).fillna(""), g.iterations)]
        early = sum(r == "stopped early" for r in reasons)
        if early:
            done = sum(r in ("stationary", "no reduction") for r in reasons)
            out.append(f"{early} of {len(g)} solves stopped before {iters} iterations without "
                       "converging" + (f" (another {done} converged before {iters}, at a stationary "
                                       "point of the box" + (" or no reduction of f"
                                                             if stall_converged else "") + ")"
                                       if done else "")
                       + ", so their values only bound the maximum from below: solves that reach "
                       f"{iters} iterations or converge would decide it")
    return out


def sharpness(values: pd.DataFrame, artifact: str, iters: int, problems: dict | None = None,
              stall_converged: bool = False) -> list[dict]:
    """Claim: LB sharper than SB at every eps, resolved by the paired test of log10(LB / SB) over
    seeds. Numbers: SB and LB within the paper's +- 2 sd at every eps. ``values``: per (net, seed,
    regime sb/lb, eps label) the Metric 2.1 ``value`` and the solve's ``iterations`` (and
    ``message``). ``stall_converged``: the stall reading of a solve's stop (a sensitivity)."""
    ptab = paper.table(3 if artifact == "Table 3" else 4)
    out = []
    for net, g in values.groupby("net", sort=False):
        dirs, flags, parts, nums = [], [], [], []
        for eps, e in g.groupby("eps", sort=False):
            w = e.pivot_table(index="seed", columns="regime", values="value")
            lr = Paired.of(_log_ratios(zip(w.get("sb", []), w.get("lb", []))))
            dirs.append(lr.direction)
            parts.append(f"eps {eps}: SB {means_text(w['sb'])} vs LB {means_text(w['lb'])}, "
                         f"log10(LB/SB) {lr.text(2)}")
            if net in ptab.index:
                ok = all(_within(float(w[r].mean()), ptab.loc[net, f"{r}_{eps}"],
                                 ptab.loc[net, f"{r}_{eps}_sd"]) for r in ("sb", "lb"))
                flags.append(ok)
                nums += [number(f"{r.upper()} eps {eps}", w[r].mean(), ptab.loc[net, f"{r}_{eps}"],
                                *_band(ptab.loc[net, f"{r}_{eps}"], ptab.loc[net, f"{r}_{eps}_sd"]))
                         for r in ("sb", "lb")]
                parts.append(Theirs(
                    f"paper {ptab.loc[net, f'sb_{eps}']:.3g} ± {ptab.loc[net, f'sb_{eps}_sd']:.2g}"
                    f" vs {ptab.loc[net, f'lb_{eps}']:.3g} ± {ptab.loc[net, f'lb_{eps}_sd']:.2g}"
                    f"{'' if ok else ' (outside the paper +- 2 sd)'}"))
        n = int(g.seed.nunique())
        probs = (_few_seeds(n) + _solve_problems(g, iters, stall_converged)
                 + list((problems or {}).get(net, [])))
        verdict = decide(dirs, all(flags) if flags else None, probs)
        out.append(row(artifact, net, verdict, parts, probs, numbers=nums, seeds=g.seed))
    return out


def hessian(h: pd.DataFrame, problems: dict | None = None) -> list[dict]:
    """Claim (ours, not the paper's): LB's top eigenvalue above SB's, paired log10 ratio over seeds."""
    out = []
    if h.empty:
        return out
    for net, g in h.groupby("net", sort=False):
        w = g.pivot_table(index="seed", columns="regime", values="lambda_1")
        lr = Paired.of(_log_ratios(zip(w["SB"], w["LB"])))
        probs = _few_seeds(lr.n) + list((problems or {}).get(net, []))
        out.append(row("Hessian spectrum", net, decide([lr.direction], None, probs),
                       f"top eigenvalue LB {means_text(w['LB'])} vs SB {means_text(w['SB'])}, "
                       f"log10(LB/SB) {lr.text(2)}", probs, seeds=w.dropna().index))
    return out


def first_rises(c: pd.DataFrame) -> tuple[float, float, float]:
    """(step h, rise beyond SB = f(-h) - f(0), rise beyond LB = f(1 + h) - f(1)) of one training-loss
    curve (columns alpha, loss) on its own grid: judged where the minimizers differ, one grid step
    beyond each, not where both losses saturate at ln 10."""
    c = c.sort_values("alpha")
    a, f = c.alpha.to_numpy(), c.loss.to_numpy()
    i0, i1 = int(np.abs(a - 0).argmin()), int(np.abs(a - 1).argmin())
    if i0 == 0 or i1 == len(a) - 1:
        return (math.nan, math.nan, math.nan)
    return (float(a[i0] - a[i0 - 1]), float(f[i0 - 1] - f[i0]), float(f[i1 + 1] - f[i1]))


def _paper_rise(key: str, h: float) -> tuple[float, float] | None:
    if not paper.has_figure(key):
        return None
    f = paper.figure(key).query("series == 'loss_train'")[["x", "y"]].rename(columns={"x": "alpha", "y": "loss"})

    def at(x):
        return float(np.interp(x, f.sort_values("alpha").alpha, f.sort_values("alpha").loss))
    return at(-h) - at(0), at(1 + h) - at(1)


def parametric(curves: pd.DataFrame, kind: str, problems: dict | None = None) -> list[dict]:
    """Claim: the training loss rises more beyond LB than beyond SB, one grid step beyond each
    minimizer, paired over seeds (log10 ratio of the rises; a rise <= 0 is left out). Numbers: both mean rises within a
    factor 10^``PARAMETRIC_TOL_DECADES`` of the paper's curve at the same alpha (where the paper
    plots the network)."""
    artifact = "Figure 3" if kind == "linear" else "Figure 7"
    key = "Fig3" if kind == "linear" else "Fig7"
    out = []
    if curves.empty:
        return out
    train = curves[curves.split == "train"]
    for net, g in train.groupby("net", sort=False):
        rises = pd.DataFrame([dict(seed=s, **dict(zip(("h", "sb", "lb"), first_rises(c))))
                              for s, c in g.groupby("seed")])
        # rises are positive and skewed across seeds: their log ratio, as every ratio-scale quantity
        d = Paired.of(_log_ratios(zip(rises.sb, rises.lb)))
        h = float(rises.h.iloc[0])
        ev = [f"rise of the training loss {h:g} beyond LB {rises.lb.mean():.3g} vs beyond SB "
              f"{rises.sb.mean():.3g}, log10(LB / SB) {d.text(2)}"]
        flat = {w: int((~(rises[w.lower()] > 0)).sum()) for w in ("SB", "LB")}
        if any(flat.values()):  # the loss falls (or stays) beyond a minimizer: no log ratio
            ev.append("left out: " + ", ".join(f"{k} of {len(rises)} seeds whose loss does not rise "
                                               f"beyond {w}" for w, k in flat.items() if k))
        within, nums = None, []
        ref = _paper_rise(f"{key}_{net}", h)
        if ref is not None:
            tol = PARAMETRIC_TOL_DECADES
            nums = [number(f"rise beyond {w}", o, r, r / 10 ** tol, r * 10 ** tol)
                    for w, r, o in (("SB", ref[0], rises.sb.mean()), ("LB", ref[1], rises.lb.mean()))
                    if r > 0]
            ok = [r > 0 and o > 0 and abs(math.log10(o / r)) <= tol
                  for r, o in zip(ref, (rises.sb.mean(), rises.lb.mean()))]
            within = all(ok)
            ev.append(Theirs(f"paper (its plotted curve at the same alpha) {ref[1]:.3g} vs {ref[0]:.3g}"
                             f"{'' if within else f' (not within a factor {10 ** tol:.1f})'}"))
        probs = _few_seeds(d.n) + list((problems or {}).get(net, []))
        out.append(row(artifact, net, decide([d.direction], within, probs), ev, probs, numbers=nums,
                       seeds=rises.seed))
    return out


def distance(d: pd.DataFrame, problems: dict | None = None) -> list[dict]:
    """Claim: SB travels farther from x0 (log10 ratio > 0, over seeds). Numbers: the mean ratio in
    the paper's 3-10."""
    r = paper.statement("distance_ratio")
    out = []
    for net, g in d.groupby("net", sort=False):
        lr = Paired.of(np.log10(g.ratio.to_numpy()))
        m = float(g.ratio.mean())
        within = r["low"] <= m <= r["high"]
        probs = _few_seeds(lr.n) + list((problems or {}).get(net, []))
        out.append(row("Distance ratio", net, decide([lr.direction], within, probs),
                       [f"mean ratio {m:.2f} (min {g.ratio.min():.2f}, max {g.ratio.max():.2f}), "
                        f"log10 {lr.text(2)}", Theirs(f"paper {r['low']}-{r['high']}")], probs, seeds=g.seed,
                       numbers=[number("distance ratio", m, math.sqrt(r["low"] * r["high"]),
                                       r["low"], r["high"])]))
    return out


def figure4(data: pd.DataFrame, problems: dict | None = None) -> list[dict]:
    """Claim: from the smallest to the largest batch size test accuracy falls and sharpness grows
    (at both eps), each paired over seeds (a seed's runs share x0)."""
    out = []
    cols = [sharpness_col(e) for e in EPS]
    for net, g in data.groupby("net", sort=False):
        lo, hi = g.batch_size.min(), g.batch_size.max()
        a = g[g.batch_size == lo].set_index("seed")
        b = g[g.batch_size == hi].set_index("seed")
        seeds = a.index.intersection(b.index)
        drop = Paired.of((a.test_acc[seeds] - b.test_acc[seeds]).to_numpy())
        grows = [Paired.of(_log_ratios(zip(a[c][seeds], b[c][seeds]))) for c in cols if c in g]
        parts = [f"test accuracy B = {lo} minus B = {hi}: {drop.text(2, ' points')}"]
        parts += [f"sharpness eps {eps_label(e)}: {a[c][seeds].mean():.3g} -> {b[c][seeds].mean():.3g}"
                  for e, c in zip(EPS, cols) if c in g]
        probs = _few_seeds(drop.n) + list((problems or {}).get(net, []))
        out.append(row("Figure 4", net, decide([drop.direction] + [x.direction for x in grows], None, probs),
                       "; ".join(parts), probs, seeds=seeds))
    return out


def figure5(data: pd.DataFrame, problems: dict | None = None) -> list[dict]:
    """Claim: the LB run warm-started from the last SB epoch beats the one from the first in test
    accuracy and is flatter (both eps), paired over seeds."""
    out = []
    cols = [sharpness_col(e) for e in EPS]
    for net, g in data.groupby("net", sort=False):
        first = g.loc[g.groupby("seed").sb_epoch.idxmin()].set_index("seed")
        last = g.loc[g.groupby("seed").sb_epoch.idxmax()].set_index("seed")
        better = Paired.of((last.lb_test_acc - first.lb_test_acc).to_numpy())
        flatter = [Paired.of(_log_ratios(zip(last[c], first[c]))) for c in cols if c in g]
        parts = [f"LB test accuracy from SB epoch {int(first.sb_epoch.iloc[0])} to "
                 f"{int(last.sb_epoch.iloc[0])}: {better.text(2, ' points')}"]
        parts += [f"sharpness eps {eps_label(e)} {first[c].mean():.3g} -> {last[c].mean():.3g}"
                  for e, c in zip(EPS, cols) if c in g]
        probs = _few_seeds(better.n) + list((problems or {}).get(net, []))
        out.append(row("Figure 5", net, decide([better.direction] + [x.direction for x in flatter], None, probs),
                       "; ".join(parts), probs, seeds=first.index.intersection(last.index)))
    return out


def figure6(data: pd.DataFrame, problems: dict | None = None) -> list[dict]:
    """Claim: at the last sampled iterate LB's sharpness is above SB's and above LB's own at the
    first, at both eps, paired over seeds."""
    out = []
    cols = [sharpness_col(e) for e in EPS]
    for net, g in data.groupby("net", sort=False):
        dirs, parts, n = [], [], 0
        for e, c in zip(EPS, cols):
            if c not in g:
                continue
            ends = {}
            for regime in ("SB", "LB"):
                r = g[g.regime == regime].sort_values("epoch").groupby("seed")[c]
                ends[regime] = (r.first(), r.last())
            above = Paired.of(_log_ratios(zip(ends["SB"][1], ends["LB"][1])))
            rises = Paired.of(_log_ratios(zip(ends["LB"][0], ends["LB"][1])))
            dirs += [above.direction, rises.direction]
            n = above.n
            parts.append(f"eps {eps_label(e)}: LB {ends['LB'][0].mean():.3g} -> {ends['LB'][1].mean():.3g}, "
                         f"SB {ends['SB'][0].mean():.3g} -> {ends['SB'][1].mean():.3g}")
        probs = _few_seeds(n) + list((problems or {}).get(net, []))
        out.append(row("Figure 6", net, decide(dirs, None, probs), "; ".join(parts), probs,
                       seeds=g.seed))
    return out


def remedy(data: pd.DataFrame, table: int, problems: dict | None = None) -> list[dict]:
    """Claim: the remedied LB beats plain LB in test accuracy and is still sharper than SB (eps
    1e-3), each paired over seeds. Numbers: remedied LB test accuracy and sharpness at both eps
    within the paper's +- 2 sd. ``data``: ``lbsm.experiments.appendix_e.remedy_frame`` rows (regimes SB,
    LB+remedy, LB), SB with its sharpness measured."""
    artifact = f"Table {table}"
    ptab = paper.table(table)
    name = "augmented" if table == 6 else "conservative"
    col = sharpness_col(EPS[0])
    out = []
    if data.empty:
        return out
    for net, g in data.groupby("net", sort=False):
        w = {r: g[g.regime == r].set_index("seed") for r in ("SB", "LB+remedy", "LB")}
        parts, dirs = [], []
        rem = w["LB+remedy"]
        if len(w["LB"]):
            s = rem.index.intersection(w["LB"].index)
            helps = Paired.of((rem.test_acc[s] - w["LB"].test_acc[s]).to_numpy())
            dirs.append(helps.direction)
            parts.append(f"{name} LB test {rem.test_acc.mean():.2f}% vs plain LB "
                         f"{w['LB'].test_acc.mean():.2f}%: {helps.text(2, ' points')}")
        else:
            dirs.append(0)
            parts.append("no plain LB runs to compare with")
        if col in w["SB"] and w["SB"][col].notna().any():
            s = rem.index.intersection(w["SB"].index)
            sharp = Paired.of(_log_ratios(zip(w["SB"][col][s], rem[col][s])))
            dirs.append(sharp.direction)
            parts.append(f"sharpness eps {eps_label(EPS[0])} {name} LB {rem[col].mean():.3g} vs SB "
                         f"{w['SB'][col].mean():.3g}, log10 ratio {sharp.text(2)}")
        else:
            dirs.append(0)
            parts.append("SB sharpness not measured")
        within, nums = None, []
        if net in ptab.index:
            pcol = "test_lb_augmented" if table == 6 else "test_lb_conservative"
            checks = [(rem.test_acc.mean(), pcol)] + [
                (rem[sharpness_col(e)].mean(), f"lb_sharpness_eps_{eps_label(e)}")
                for e in EPS if sharpness_col(e) in rem]
            flags = [_within(float(m), ptab.loc[net, c], ptab.loc[net, f"{c}_sd"]) for m, c in checks]
            nums = [number(c.replace("_", " "), m, ptab.loc[net, c], *_band(ptab.loc[net, c], ptab.loc[net, f"{c}_sd"]))
                    for m, c in checks]
            within = all(flags)
            parts.append(Theirs(f"paper {ptab.loc[net, pcol]:.2f} ± {ptab.loc[net, f'{pcol}_sd']:.2f}%, "
                                f"sharpness {ptab.loc[net, 'lb_sharpness_eps_1e-3']:.3g}"
                                f"{'' if within else ' (ours outside the paper +- 2 sd)'}"))
        probs = _few_seeds(len(rem)) + list((problems or {}).get(net, []))
        out.append(row(artifact, net, decide(dirs, within, probs), parts, probs, numbers=nums,
                       seeds=rem.index))
    return out


def robust(data: pd.DataFrame, problems: dict | None = None) -> list[dict]:
    """The paper: no notable change. Per remedy, the 95 % interval over seeds of the test accuracy
    difference to plain LB inside +- ``EQUIV_ACC`` and of the log sharpness ratio inside a factor
    ``EQUIV_SHARP``: the claim holds (an equivalence test); an interval entirely outside:
    contradicts; else not resolved."""
    out = []
    col = sharpness_col(EPS[0])
    if data.empty:
        return out
    for net, d in data.groupby("net", sort=False):
        plain = d[d.regime == "LB"].drop_duplicates("seed").set_index("seed")
        parts, dirs, n = [], [], 0
        for rem, g in d[d.regime == "LB+remedy"].groupby("remedy", sort=False):
            g = g.set_index("seed")
            s = g.index.intersection(plain.index)
            da = Paired.of((g.test_acc[s] - plain.test_acc[s]).to_numpy())
            lr = Paired.of(_log_ratios(zip(plain[col][s], g[col][s])))
            n = max(n, da.n)
            for t, tol in ((da, EQUIV_ACC), (lr, math.log10(EQUIV_SHARP))):
                lo, hi = t.ci()
                if t.n >= MIN_SEEDS and -tol <= lo and hi <= tol:
                    dirs.append(1)
                elif t.n >= MIN_SEEDS and (lo > tol or hi < -tol):
                    dirs.append(-1)
                else:
                    dirs.append(0)
            (a0, a1), (l0, l1) = da.ci(), lr.ci()
            parts.append(f"{rem}: test {da.text(2, ' points')} vs plain LB (95 % CI {a0:+.2f} to "
                         f"{a1:+.2f}), sharpness x{10 ** lr.mean:.2f} (log10 {lr.text(2)}, 95 % CI "
                         f"{l0:+.2f} to {l1:+.2f})")
        probs = _few_seeds(n) + list((problems or {}).get(net, []))
        out.append(row("Section E.3", net, decide(dirs, None, probs),
                       "; ".join(parts) + f" (no notable change: within ±{EQUIV_ACC} points and a "
                       f"factor {EQUIV_SHARP:g}; it holds where both 95 % CIs lie inside, and is "
                       "contradicted where one lies entirely outside)", probs,
                       seeds=d[d.regime == "LB+remedy"].seed))
    return out




def stop_readings(df: pd.DataFrame) -> pd.DataFrame:
    """Table 2's verdict under each reading of the stop rule (``lbsm.experiments.stop_readings``),
    by the same rule as Table 2's own row: test accuracies, the gap with its paired test, the
    epochs, and how many trials each reading could be read off."""
    rows = []
    df = df.rename(columns={f"{q} {R}": f"{c}_{R.lower()}" for R in ("SB", "LB") for q, c in (
        ("stop epoch", "epoch"), ("test accuracy", "test"), ("train accuracy", "train"))})
    for (reading, net), g in df.groupby(["reading", "net"], sort=False):
        ok = g.dropna(subset=["test_sb", "test_lb"])
        (r,) = table2(ok[["net", "seed", "train_sb", "train_lb", "test_sb", "test_lb"]]) if len(ok) \
            else (row("Table 2", net, "inconclusive", "no trial can be read off"),)
        gap = Paired.of(ok.test_sb - ok.test_lb)
        rows.append({"reading": reading, "net": net, "trials read off": f"{len(ok)} of {len(g)}",
                     "SB epochs": _range(ok.epoch_sb), "LB epochs": _range(ok.epoch_lb),
                     "test SB": ok.test_sb.mean(), "test LB": ok.test_lb.mean(),
                     "gap SB - LB": gap.text(2), "Table 2 verdict": r["verdict"]})
    return pd.DataFrame(rows).set_index(["reading", "net"]) if rows else pd.DataFrame()


def _range(epochs: pd.Series) -> str:
    e = epochs.dropna().astype(int)
    return "—" if e.empty else f"{e.min()}" if e.min() == e.max() else f"{e.min()}-{e.max()}"
