"""The chapter "Beyond the paper" rendered: its tables, the sentences the prose glues and the
chapter's verdict rows (the closes-the-gap judgment: :mod:`lbsm.report.closing_rule`; the figures:
:mod:`lbsm.report.beyond_figures`).
"""
from __future__ import annotations

import math

import pandas as pd

from ..core.constants import eps_label, sharpness_col
from ..experiments import beyond as ex
from ..experiments.beyond import BASELINES, LABELS
from .render import mean_sd, pm
from ..core.catalog import BEYOND_PREFIX
from . import closing_rule
from .closing_rule import CLOSES, FLAT, judge, judgments  # noqa: F401 (the chapter's rule, re-exported)
from .verdicts import BEYOND_CLAIM as CLAIM, MIN_SEEDS, frame, geometric_mean, row

ARTIFACT = BEYOND_PREFIX + "{}"
MEASURE_LABELS = {"sharpness_1e-3": "Metric 2.1, ε = 1e-3", "sharpness_5e-4": "Metric 2.1, ε = 5e-4",
                  "subspace_1e-3": "Metric 2.1 (subspace), ε = 1e-3",
                  "subspace_5e-4": "Metric 2.1 (subspace), ε = 5e-4", "lambda_1": "top Hessian eigenvalue",
                  "trace": "Hessian trace", "adaptive_worst": "adaptive sharpness (worst case)",
                  "adaptive_average": "adaptive sharpness (average)", "distance_x0": "distance from x0"}


# --------------------------------------------------------------------------- tables
def closing_table(df: pd.DataFrame, eps=(1e-3, 5e-4)) -> pd.DataFrame:
    """Per (net, method): seeds, test accuracy mean ± sd, the paired gap to SB (mean, sd, p),
    Metric 2.1 at each eps, top Hessian eigenvalue, adaptive sharpness (geometric means over the
    seeds that have them, as the log-ratio tests compare them), and the judgment."""
    if df.empty:
        return pd.DataFrame()
    J = judgments(df, eps[0])
    rows = []
    for (net, arm), g in df.groupby(["net", "arm"], sort=False):
        m, sd = mean_sd(g.test_acc)
        r = dict(net=net, method=LABELS.get(arm, arm), seeds=len(g),
                 seed_list=" ".join(map(str, sorted(g.seed.astype(int)))), test_acc=m, test_acc_sd=sd,
                 epochs=float(g.epochs_run.mean()), steps=float(g.steps.mean()))
        j = J.get((net, arm))
        lo, hi = j["gap"].ci() if j else (math.nan, math.nan)
        r.update(gap=j["gap"].mean if j else 0.0, gap_sd=j["gap"].sd if j else math.nan,
                 gap_p=j["gap"].p if j else math.nan, gap_lo=lo, gap_hi=hi,
                 tost_p=j["tost_p"] if j else math.nan,
                 margin=(j["margin"] or math.nan) if j else math.nan)
        for e in eps:  # geometric means: "ends flat" tests their log ratio
            r[sharpness_col(e)] = geometric_mean(g[sharpness_col(e)].dropna())
        for c in ("lambda_1", "adaptive_worst", "adaptive_average"):
            r[c] = geometric_mean(g[c].dropna()) if g[c].notna().any() else math.nan
            r[f"{c}_n"] = int(g[c].notna().sum())
        r.update(closes=j["closes"] if j else "—", flat=j["flat"] if j else "—",
                 verdict=j["verdict"] if j else "—")
        rows.append(r)
    return pd.DataFrame(rows).set_index(["net", "method"])


def closing_shown(t: pd.DataFrame, eps=(1e-3, 5e-4)) -> pd.DataFrame:
    """The closing table as the page shows it: ``mean ± sd`` text."""
    if t.empty:
        return t
    out = pd.DataFrame(index=t.index)
    out["seeds"] = t.seeds
    out["test acc. (%)"] = [pm(m, s) for m, s in zip(t.test_acc, t.test_acc_sd)]
    out["gap to SB (points)"] = [("—" if math.isnan(g) else f"{g:+.2f}" + ("" if math.isnan(s) else f" ± {s:.2f}")
                                  + ("" if math.isnan(p) else f" (p = {p:.2g})"))
                                 for g, s, p in zip(t.gap, t.gap_sd, t.gap_p)]
    for e in eps:
        out[f"Metric 2.1, ε = {eps_label(e)}"] = t[sharpness_col(e)].map(lambda v: pm(v, sig=3))
    out["λ1"] = t.lambda_1.map(lambda v: pm(v, sig=3))
    out["adaptive (worst)"] = t.adaptive_worst.map(lambda v: pm(v, sig=3))
    out["adaptive (avg)"] = t.adaptive_average.map(lambda v: pm(v, sig=3))
    out["equivalent to SB (TOST p)"] = [("—" if math.isnan(p) else f"{p:.2g} (±{m:.2f})")
                                         for p, m in zip(t.tost_p, t.margin)]
    out["closes the gap"] = t.closes
    out["ends flat"] = t.flat
    return out


def reparam_table(rp: pd.DataFrame, eps=(1e-3, 5e-4)) -> pd.DataFrame:
    """Per (net, regime, alpha): the function's values and each measure of the rescaled minimizer."""
    if rp.empty:
        return rp
    cols = ["train_loss", "train_acc", "test_acc"] + [sharpness_col(e) for e in eps] + [
        "adaptive_worst", "adaptive_average"]
    return rp.set_index(["net", "regime", "alpha"])[cols]


def reparam_summary(rp: pd.DataFrame, eps: float = 1e-3) -> pd.DataFrame:
    """Per net: the largest change of the function over alpha (|delta loss|, |delta accuracy|), the
    range of Metric 2.1 over alpha for SB and LB, the alphas at which SB's rescaled minimizer is
    sharper than LB's unrescaled one, and the largest relative change of each adaptive measure."""
    rows = []
    col = sharpness_col(eps)
    for net, g in rp.groupby("net", sort=False):
        one = g[g.alpha == 1.0].set_index("regime")
        r = dict(net=net, eps=eps)
        r["max |Δ train loss|"] = float(max((g[g.regime == k].train_loss - one.at[k, "train_loss"]).abs().max()
                                             for k in one.index))
        r["max |Δ test acc|"] = float(max((g[g.regime == k].test_acc - one.at[k, "test_acc"]).abs().max()
                                           for k in one.index))
        for k in ("SB", "LB"):
            s = g[g.regime == k][col]
            r[f"{k} Metric 2.1 min"], r[f"{k} Metric 2.1 max"] = float(s.min()), float(s.max())
        lb1 = float(one.at["LB", col]) if "LB" in one.index else math.nan
        sb = g[g.regime == "SB"]
        r["alphas with SB sharper than LB"] = ", ".join(f"{a:g}" for a in sb.alpha[sb[col] > lb1]) or "none"
        for m in ("adaptive_worst", "adaptive_average"):
            rel = [float(((g[g.regime == k][m] - one.at[k, m]).abs() / abs(one.at[k, m])).max()) for k in one.index]
            r[f"max relative change, {m.replace('_', ' ')}"] = max(rel)
        rows.append(r)
    return pd.DataFrame(rows).set_index("net")


def noise_table(nz: pd.DataFrame) -> pd.DataFrame:
    """Per (net, regime, epoch): B_simple, its parts, and the SB and LB batches over it."""
    if nz.empty:
        return nz
    t = nz.set_index(["net", "regime", "epoch"])[["b_simple", "trace_sigma", "grad_norm_sq", "n", "sb_batch",
                                                  "lb_batch"]]
    return t.assign(**{"LB / B_simple": t.lb_batch / t.b_simple, "SB / B_simple": t.sb_batch / t.b_simple})


def tau_table(taus: pd.DataFrame) -> pd.DataFrame:
    """Kendall tau [95 % bootstrap interval] (n) per measure, against test error and against the gap."""
    if taus.empty:
        return taus
    t = taus.assign(measure=taus.measure.map(lambda m: MEASURE_LABELS.get(m, m)))
    t["cell"] = [("—" if math.isnan(a) else f"{a:+.2f} [{lo:+.2f}, {hi:+.2f}]") + f" (n = {n})"
                 for a, lo, hi, n in zip(t.tau, t.low, t.high, t.n)]
    return t.pivot_table(index=["net", "measure"], columns="target", values="cell", aggfunc="first",
                         sort=False).rename(columns={"test_error": "τ with test error",
                                                     "gap": "τ with the gap (train - test)"})


# --------------------------------------------------------------------------- sentences
def _fmt(v: float, digits: int = 2) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def _ci(r) -> str:
    """", 95 % CI lo to hi" of a closing-table row's paired gap (nothing with fewer than 2 seeds)."""
    return "" if math.isnan(r.get("gap_lo", math.nan)) else f", 95 % CI {r.gap_lo:+.2f} to {r.gap_hi:+.2f}"


def closing_text(t: pd.DataFrame, eps: float = 1e-3) -> dict:
    """Glue: one sentence per method (``bey_<arm>``), the closest to SB (``bey_closest``) and which
    close the gap (``bey_closers``)."""
    out = {}
    if t.empty:
        return {"bey_closest": "no method ran", "bey_closers": "no method ran"}
    col = sharpness_col(eps)
    for (net, method), r in t.iterrows():
        sb = t.loc[(net, LABELS["SB"])]
        g = "—" if math.isnan(r.gap) else f"{r.gap:+.2f}" + ("" if math.isnan(r.gap_sd) else f" ± {r.gap_sd:.2f}")
        p = "" if math.isnan(r.gap_p) else f", p = {r.gap_p:.2g}"
        if not math.isnan(r.tost_p):
            p += f"; equivalence within ±{r.margin:.2f}: TOST p = {r.tost_p:.2g}"
        key = next(k for k, v in LABELS.items() if v == method)
        if key == "SB":
            continue
        if r.seeds < 2:
            p += f"; one seed: no paired sd, SB's seed-to-seed sd is {sb.test_acc_sd:.2f}"
        steps = (f"; {r.steps:.0f} steps ({r.epochs:.0f} epochs) against SB's {sb.steps:.0f}"
                 if key == "longer" else "")
        out[f"bey_{net}_{key}"] = (
            f"{method} on {net}: test accuracy {pm(r.test_acc, r.test_acc_sd)} % over {r.seeds} "
            f"seed{'s' if r.seeds != 1 else ''}, gap SB - it {g} points (n = {r.seeds}{p}{_ci(r)}); "
            f"Metric 2.1 (ε = {eps_label(eps)}) {r[col]:.3g} against SB's {sb[col]:.3g}{steps}: "
            f"{'closes the gap' if r.closes == 'closes' else r.closes}, "
            f"{'ends flat' if r.flat == 'flat' else r.flat}")
    methods = t[~t.index.get_level_values("method").isin([LABELS[b] for b in BASELINES])]
    if len(methods):
        best = methods.gap.abs().idxmin()
        r = methods.loc[best]
        sb_sd = float(t.loc[(best[0], LABELS["SB"]), "test_acc_sd"])
        out["bey_closest"] = (f"{best[1]} on {best[0]} comes closest to SB: gap SB - it {r.gap:+.2f}"
                              + ("" if math.isnan(r.gap_sd) else f" ± {r.gap_sd:.2f}")
                              + f" points (n = {r.seeds}"
                              + ("" if math.isnan(r.gap_p) else f", p = {r.gap_p:.2g}") + _ci(r)
                              + (f"; SB's seed-to-seed sd {sb_sd:.2f}" if r.seeds < 2 else "") + ")")
        closers = [f"{m} ({n})" for (n, m), r in methods.iterrows() if r.closes == "closes"]
        flat = [f"{m} ({n})" for (n, m), r in methods.iterrows() if r.closes == "closes" and r.flat == "flat"]
        narrow = [f"{m} ({n})" for (n, m), r in methods.iterrows() if r.closes == "narrows"]
        inc = int((methods.closes == "inconclusive").sum())
        out["bey_closers"] = (
            (f"closes the gap: {', '.join(closers)}; of those ending flat: {', '.join(flat) or 'none'}"
             if closers else "no method is shown to close the gap (equivalent to SB within the margin)")
            + (f"; narrows it (resolved better than plain LB): {', '.join(narrow)}" if narrow else "")
            + (f"; {inc} of {len(methods)} judgments are inconclusive (fewer than {MIN_SEEDS} seeds, "
               "or neither equivalent to SB nor resolved below it)" if inc else ""))
    return out


def reparam_text(s: pd.DataFrame) -> dict:
    out = {}
    for net, r in s.iterrows():
        out[f"rep_{net}"] = (
            f"on {net}, rescaling changes the training loss by at most {r['max |Δ train loss|']:.2g} and "
            f"the test accuracy by at most {r['max |Δ test acc|']:.2g} points, while Metric 2.1 "
            f"(ε = {eps_label(r.eps)}) of the SB minimizer ranges over {r['SB Metric 2.1 min']:.3g}-"
            f"{r['SB Metric 2.1 max']:.3g} and of the LB minimizer over {r['LB Metric 2.1 min']:.3g}-"
            f"{r['LB Metric 2.1 max']:.3g}; alphas at which the rescaled SB minimizer is sharper than the "
            f"LB one: {r['alphas with SB sharper than LB']}. Adaptive sharpness changes by at most "
            f"{r['max relative change, adaptive worst']:.1e} (worst case) and "
            f"{r['max relative change, adaptive average']:.1e} (average), relative")
    return out


def surface_text(sf: pd.DataFrame) -> dict:
    out = {}
    for net, g in sf.groupby("net", sort=False):
        span = g.a.abs().max()
        parts = []
        for k in ("SB", "LB"):
            h = g[g.regime == k]
            edge = h[(h.a.abs() == span) | (h.b.abs() == span)]
            centre = h[(h.a == 0) & (h.b == 0)]
            parts.append(f"{k} from {float(centre.loss.iloc[0]):.3g} at the minimizer to a mean "
                         f"{float(edge.loss.mean()):.3g} on the grid's edge")
        out[f"surf_{net}"] = f"on {net} the training loss rises " + ", ".join(parts)
    return out


def noise_text(nz: pd.DataFrame) -> dict:
    out = {}
    for net, g in nz.groupby("net", sort=False):
        lb = int(g.lb_batch.iloc[0])
        x0 = g[g.epoch == 0].b_simple
        parts = [f"{float(x0.iloc[0]):.3g} at x0"] if len(x0) else []
        for k in ("SB", "LB"):
            h = g[(g.regime == k) & (g.epoch > 0)]
            if len(h):
                parts.append(f"{float(h.b_simple.min()):.3g}-{float(h.b_simple.max()):.3g} along {k}'s training "
                             f"({float(h[h['last']].b_simple.iloc[0]):.3g} at its minimizer)")
        ratio = ", ".join(f"{lb / float(v):.3g} times it at the {k} minimizer"
                          for k, v in g[g["last"]].set_index("regime").b_simple.items())
        out[f"noise_{net}"] = (f"on {net}, B_simple is {'; '.join(parts)} (examples); LB = {lb} is "
                               + (f"{lb / float(x0.iloc[0]):.3g} times it at x0, " if len(x0) else "") + ratio)
    return out


def correlation_text(taus: pd.DataFrame) -> dict:
    out = {}
    for (net, target), g in taus.groupby(["net", "target"], sort=False):
        g = g.dropna(subset=["tau"])
        if g.empty:
            out[f"corr_{net}_{target}"] = "no measure has two models"
            continue
        b = g.loc[g.tau.abs().idxmax()]
        resolved = g[(g.low > 0) | (g.high < 0)]
        out[f"corr_{net}_{target}"] = (
            f"the strongest rank correlation with {'test error' if target == 'test_error' else 'the gap'} "
            f"on {net} is {MEASURE_LABELS.get(b.measure, b.measure)}'s, τ = {b.tau:+.2f} "
            f"[{b.low:+.2f}, {b.high:+.2f}] over {int(b.n)} models; intervals excluding 0: "
            + (", ".join(MEASURE_LABELS.get(m, m) for m in resolved.measure) or "none"))
    return out


def _joined(d: dict, prefix: str, empty: str = "nothing ran") -> str:
    v = [x for k, x in d.items() if k.startswith(prefix)]
    return "; ".join(v) if v else empty


def settings_text(S) -> str:
    """What the profile runs: networks, the methods' seeds, "train longer"'s epochs, and the
    analyses' examples."""
    if not S.specs:
        return "nothing (no network of this profile has data and trials)"
    parts = []
    for spec in S.specs:
        P = S.profile
        seeds = spec.seeds if spec.seeds is not None else P.net(spec.net).seeds
        longer = next((m.epochs for m in spec.methods if m.name == "longer"), None)
        parts.append(
            f"{spec.net}: baselines the {len(P.net(spec.net).seeds)} trials of the gap chapter, each method "
            f"on {len(seeds)} seed{'s' if len(seeds) != 1 else ''} ({', '.join(map(str, seeds))}), "
            f"'train longer' {longer} fixed epochs, adaptive sharpness on "
            f"{spec.adaptive_subset or 'all'} training examples (baselines: the first "
            f"{spec.adaptive_seeds or 'all'} trial{'s' if spec.adaptive_seeds != 1 else ''}), "
            f"reparametrization on {spec.reparam_subset or 'all'}, surfaces on {spec.surface_subset or 'all'} "
            f"({spec.surface_points} x {spec.surface_points} points), noise scale on "
            f"{spec.noise_subset or 'all'}")
    return "; ".join(parts)


def margins_text(nets) -> str:
    """"F1: ±0.11 points, C1: ±1.39 points": each network's equivalence margin (``closing_rule``)."""
    parts = [f"{n}: ±{m:.2f} points" for n in nets if (m := closing_rule.margin(n)) is not None]
    return ", ".join(parts) or "no network with a paper gap"


def twin_sentence(C) -> str:
    """Whether each baseline's twin ended at the baseline's minimizer (``beyond.same_model``), from
    the two runs' records: where it did not, the twin is another model, measured as itself."""
    def end(r):
        return f"{r.meta['epochs_run']} epochs, test {r.final['test_acc']:.2f} %"
    parts = []
    for spec in C.plan.specs:
        for s in ex.twin_seeds(C.profile, spec):
            for regime, cfg in zip(BASELINES, C.profile.trial(spec.net, s)):
                base, tw = C.runs.get(cfg.name), C.runs.get(ex.twin(cfg).name)
                if base is None or tw is None or {base.status, tw.status} != {"done"}:
                    continue
                parts.append(f"trial {s}'s {regime} twin ended at its baseline's minimizer ({end(tw)})"
                             if ex.same_model(base, tw) else
                             f"trial {s}'s {regime} twin stopped elsewhere ({end(tw)}; its baseline "
                             f"{end(base)}): another model, measured as itself, never as the baseline")
    return "; ".join(parts) or "no twin was trained under this profile"


def chapter_text(C) -> dict:
    """Every glue key of the chapter's prose from its parts."""
    P = C.profile
    t = closing_table(C.closing, P.sharpness_eps)
    out = {"bey_profile": P.name, "bey_settings": settings_text(C.plan),
           "bey_rho": f"{C.plan.specs[0].adaptive_rho:g}" if C.plan.specs else "—",
           "bey_avg_rho": f"{C.plan.specs[0].average_rho:g}" if C.plan.specs else "—",
           "bey_min_seeds": str(MIN_SEEDS),
           "bey_margin": margins_text(s.net for s in C.plan.specs)}
    out.update(closing_text(t, P.sharpness_eps[0]))
    out["rep_sentence"] = _joined(reparam_text(reparam_summary(C.reparam, P.sharpness_eps[0]))
                                  if len(C.reparam) else {}, "rep_")
    out["twin_sentence"] = twin_sentence(C)
    out["surf_sentence"] = _joined(surface_text(C.surfaces) if len(C.surfaces) else {}, "surf_")
    out["noise_sentence"] = _joined(noise_text(C.noise) if len(C.noise) else {}, "noise_")
    ct = correlation_text(C.correlation["taus"]) if len(C.correlation["taus"]) else {}
    out["corr_test_error"] = _joined({k: v for k, v in ct.items() if k.endswith("test_error")}, "corr_")
    out["corr_gap"] = _joined({k: v for k, v in ct.items() if k.endswith("_gap")}, "corr_")
    out["corr_models"] = ", ".join(f"{n}: {int((C.correlation['models'].net == n).sum())}"
                                   for n in dict.fromkeys(C.correlation["models"].get("net", [])))
    return out


def method_sentences(t: pd.DataFrame, eps: float = 1e-3) -> "Markdown":
    """The per-method sentences as a Markdown list."""
    from IPython.display import Markdown
    d = closing_text(t, eps)
    return Markdown("\n".join(f"- {v}." for k, v in d.items() if k not in ("bey_closest", "bey_closers"))
                    or "Nothing ran.")


def methods_table(S) -> pd.DataFrame:
    """What each arm trains under the plan (from the specs alone, not the runs): per (net, method)
    the TrainConfig method and arguments, the stop rule and epochs, and the seeds."""
    rows = []
    for spec in S.specs:
        P = S.profile
        for arm, seed, cfg in ex.arms(P, spec):
            rows.append(dict(net=spec.net, method=LABELS.get(arm, arm), batch=cfg.batch_size,
                             optimizer_step=cfg.method, arguments=", ".join(f"{k}={v}" for k, v in
                                                                           cfg.method_args.items()) or "—",
                             stop=("plateau rule, cap " if cfg.stop == "plateau" else "fixed ") + f"{cfg.epochs} epochs",
                             seed=seed))
    if not rows:
        return pd.DataFrame(columns=["net", "method", "batch", "optimizer_step", "arguments", "stop", "seeds"])
    df = pd.DataFrame(rows)
    keys = ["net", "method", "batch", "optimizer_step", "arguments", "stop"]
    return df.groupby(keys, sort=False).seed.agg(lambda v: " ".join(map(str, v))).rename("seeds").reset_index() \
        .set_index(["net", "method"])


def coverage(C) -> "Markdown":
    """Which networks ran under the profile, why the others did not, and what computing it took."""
    from IPython.display import Markdown
    from .captions import cost_text
    S = C.plan
    base = {c.key for spec in S.specs for arm, _, c in ex.arms(S.profile, spec) if arm in BASELINES}
    own = [r for r in C.runs.values() if r.config.key not in base]
    shared = len(C.runs) - len(own)
    lines = [f"Profile `{S.profile.name}` runs this chapter on {', '.join(s.net for s in S.specs) or 'no network'}. "
             + (f"Its baselines are the gap chapter's {shared} trial runs (trained there); the rest "
                f"are its own (the methods and the baselines' twins). " if own and shared else "")
             + cost_text(own or list(C.runs.values()), "beyond", S.profile.name)]
    lines += [f"- {net}: {why}." for net, why in S.skipped.items()]
    return Markdown("\n".join(lines))


verdict_frame = frame  # the chapter's verdict rows as a table; their claim: verdicts.claim


# --------------------------------------------------------------------------- verdict rows
def verdict_rows(t: pd.DataFrame, problems=()) -> list[dict]:
    """One extension row per (net, method): the paper's account tested on it (``CLAIM``);
    ``problems``: reasons every row is inconclusive (``verdicts.uncommitted`` of its runs)."""
    out = []
    for (net, method), r in t.iterrows():
        if method == LABELS["SB"]:
            continue
        ev = (f"{CLAIM}: test {pm(r.test_acc, r.test_acc_sd)} vs SB, gap {r.gap:+.2f}"
              + ("" if math.isnan(r.gap_sd) else f" ± {r.gap_sd:.2f}")
              + f" (n = {r.seeds}" + ("" if math.isnan(r.gap_p) else f", p = {r.gap_p:.2g}")
              + f"): {r.closes}; minimizer {r.flat}")
        probs = ([f"{r.seeds} seed{'s' if r.seeds != 1 else ''} (at least {MIN_SEEDS} needed)"]
                 if r.seeds < MIN_SEEDS else []) + list(problems)
        verdict = "inconclusive" if problems else r.verdict
        out.append(row(ARTIFACT.format(method), net, verdict, ev, probs, kind="extension",
                       seeds=[int(x) for x in r.seed_list.split()]))
    return out
