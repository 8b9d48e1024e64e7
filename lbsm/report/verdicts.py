"""Verdicts, computed: does each of the paper's findings hold in our numbers, beyond seed noise?

One verdict per (artifact, network), from the per-seed numbers the chapter shows, by rules stated
here once. Each rule can fail, and each carries its uncertainty in its evidence sentence.

Outcomes (``VERDICTS``):

* ``reproduced``: the claim (the inequality the artifact is about) is resolved in the paper's
  direction, and every number of the artifact is within the paper's mean +- 2 sd (where the paper
  gives an sd) or within the stated tolerance of its plotted values or stated range (where it
  gives none: ``PARAMETRIC_TOL_DECADES``, the distance ratio's 3-10).
* ``same direction``: the claim is resolved in the paper's direction, but some number is outside
  the paper's band, or the paper gives no number to compare (an extension row, the Hessian): a
  claim without a paper number can hold or fail, never be reproduced.
* ``inconclusive``: the claim is not resolved beyond seed noise (``ALPHA``), fewer than
  ``MIN_SEEDS`` seeds, a tie inside a stated tolerance, a sharpness solve that stopped before its
  iterations without reaching a stationary point, or runs that are not at the paper's scale and
  protocol (fixed epochs, a subset of the data, a precision other than fp32, a run ended by the
  epoch cap rather than the plateau rule).
* ``contradicts``: the claim is resolved against the paper.
* ``not run``: and why: ``needs data`` (TIMIT, CIFAR-100 are not here), ``needs a GPU`` (the
  network is in the ``paper`` profile only), ``not in profile``.

"Resolved" is a two-sided one-sample t-test over seeds of the per-seed paired difference (SB and
LB of a trial share x0): of test SB - test LB for accuracies, and of the log10 ratio for every
positive ratio-scale quantity (sharpness, eigenvalues, the parametric plots' rises, distances);
p < ``ALPHA`` and the sign of the mean decide. Each evidence sentence gives mean +- sd, n and p,
and an unresolved one how many trials would resolve a difference of its size with 80 % power
(:meth:`Paired.trials_needed`).

``kind`` separates the paper's own panels (``paper``: the networks the paper shows the artifact
for) from our additions (``extension``: another network in a panel, F1 standing in for F2, the
Hessian spectrum): both are judged by the same rules, the intro counts them apart.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.stats

from ..core import paper
from ..experiments import profiles
from ..core.datasets import LICENSED
from ..experiments.plans import data_need, dataset_of
from ..core import catalog
from ..core.catalog import BEYOND_PREFIX

VERDICTS = ("reproduced", "same direction", "inconclusive", "contradicts", "not run")
KINDS = ("paper", "extension")
ALPHA = 0.05                 # significance of the paired test over seeds
MIN_SEEDS = 3                # fewer seeds: inconclusive
POWER = 0.8                  # an unresolved difference: the trials that would resolve it this often
DECAY_TOL = 0.5              # Fig. 2: "no peak and decay" = LB's best epoch <= 0.5 points above its last
PARAMETRIC_TOL_DECADES = 0.5  # Figs. 3/7: our rise within a factor 10^0.5 of the paper's plotted one
EQUIV_ACC = 0.5              # E.3 "no notable change": test accuracy within +- 0.5 points ...
EQUIV_SHARP = 2.0            # ... and sharpness within a factor 2 of plain LB's
NOT_IN_PAPER = {"Hessian spectrum"}  # artifacts that are ours entirely

# the chapter "Beyond the paper": one row per LB method (artifact ``catalog.BEYOND_PREFIX + method``)
BEYOND_CLAIM = ("test accuracy moves against sharpness: a minimizer resolved sharper than SB's has "
                "test accuracy resolved below SB's, one resolved flatter has it resolved above")


def claim(artifact: str) -> str:
    """The claim a verdict row on ``artifact`` tests."""
    return BEYOND_CLAIM if artifact.startswith(BEYOND_PREFIX) else catalog.claim(artifact)


# --------------------------------------------------------------------------- statistics
@dataclass(frozen=True)
class Paired:
    """A one-sample t-test over seeds of per-seed differences (or log ratios)."""
    n: int
    mean: float
    sd: float
    p: float

    @classmethod
    def of(cls, values) -> "Paired":
        v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
        n = len(v)
        if n == 0:
            return cls(0, math.nan, math.nan, math.nan)
        mean = float(v.mean())
        sd = float(v.std(ddof=1)) if n > 1 else math.nan
        if n < 2:
            p = math.nan
        elif sd <= 1e-12 * abs(mean) or sd == 0:  # identical differences: resolved unless all zero
            p = 1.0 if mean == 0 else 0.0
        else:
            p = float(scipy.stats.ttest_1samp(v, 0.0).pvalue)
        return cls(n, mean, sd, p)

    @property
    def direction(self) -> int:
        """+1 / -1: resolved positive / negative (p < ALPHA, n >= MIN_SEEDS); 0: not resolved."""
        if self.n < MIN_SEEDS or not (self.p < ALPHA) or self.mean == 0:
            return 0
        return 1 if self.mean > 0 else -1

    def ci(self, level: float = 0.95) -> tuple[float, float]:
        if self.n < 2 or not np.isfinite(self.sd):
            return (math.nan, math.nan)
        h = scipy.stats.t.ppf(0.5 + level / 2, self.n - 1) * self.sd / math.sqrt(self.n)
        return (self.mean - h, self.mean + h)

    def tost(self, margin: float) -> float:
        """The p-value of the two one-sided tests (TOST) that the true mean lies inside
        (-margin, margin): the larger of the p-values of H0: mean <= -margin and H0: mean >= margin
        (NaN below 2 values). p < ``ALPHA`` shows equivalence within the margin."""
        if self.n < 2 or not (np.isfinite(self.sd) and margin > 0):
            return math.nan
        se = self.sd / math.sqrt(self.n)
        if se == 0:
            return 0.0 if abs(self.mean) < margin else 1.0
        df = self.n - 1
        return float(max(scipy.stats.t.sf((self.mean + margin) / se, df),
                         scipy.stats.t.cdf((self.mean - margin) / se, df)))

    def power(self, n: int) -> float:
        """The power of this test with ``n`` trials against a true mean difference equal to the
        observed mean, at the observed sd (two-sided, ``ALPHA``; the noncentral t)."""
        if n < 2 or not (np.isfinite(self.sd) and self.sd > 0 and np.isfinite(self.mean)):
            return math.nan
        df, nc = n - 1, abs(self.mean) / self.sd * math.sqrt(n)
        t = scipy.stats.t.ppf(1 - ALPHA / 2, df)
        return float(scipy.stats.nct.sf(t, df, nc) + scipy.stats.nct.cdf(-t, df, nc))

    def trials_needed(self, power: float = POWER, most: int = 100_000) -> int | None:
        """The fewest trials (>= ``MIN_SEEDS``) whose test resolves a difference of the observed
        size at the observed sd with ``power`` (None: no difference to resolve, or more than
        ``most``)."""
        if math.isnan(self.power(2)) or self.mean == 0:
            return None
        lo, hi = MIN_SEEDS, MIN_SEEDS
        while self.power(hi) < power:          # double, then bisect: power grows with n
            lo, hi = hi, hi * 2
            if hi > most:
                return None
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (mid + 1, hi) if self.power(mid) < power else (lo, mid)
        return lo

    def text(self, digits: int = 2, unit: str = "") -> str:
        if self.n == 0:
            return "no values"
        sd = f" ± {self.sd:.{digits}f}" if np.isfinite(self.sd) else ""
        p = f", p = {self.p:.2g}" if np.isfinite(self.p) else ""
        out = f"{self.mean:+.{digits}f}{sd}{unit} (n = {self.n}{p}"
        if self.direction == 0 and self.n >= 2:
            need = self.trials_needed()
            out += (f"; about {need} trials would resolve a difference of this size with "
                    f"{POWER:.0%} power" if need else "; no difference to resolve")
        return out + ")"


def _log_ratios(pairs) -> list[float]:
    return [math.log10(b / a) if a > 0 and b > 0 else math.nan for a, b in pairs]


def geometric_mean(values) -> float:
    """The geometric mean of the positive ``values`` (NaN if there are none): the average that
    matches a test of log ratios (10 ** mean log10(LB / SB) is the ratio of the two arms' geometric
    means), where one outlier can move the arithmetic mean past the other arm's."""
    x = np.asarray([v for v in values if v > 0], dtype=float)
    return float(np.exp(np.log(x).mean())) if len(x) else math.nan


def means_text(x: pd.Series) -> str:
    """``x``'s arithmetic mean (what the paper's tables report) and, over more than one value,
    its geometric mean (what the paired log-ratio test compares), e.g. "1.75 (geometric 1.30)"."""
    x = x.dropna()
    return f"{x.mean():.3g}" + (f" (geometric {geometric_mean(x):.3g})" if len(x) > 1 else "")


def _within(ours: float, p: float, sd: float) -> bool:
    return not (math.isnan(ours) or math.isnan(p) or math.isnan(sd)) and abs(ours - p) <= 2 * sd


def decide(directions: list[int], within: bool | None, problems: list[str]) -> str:
    """The outcome from the claim's parts (each +1 resolved as the paper, -1 against, 0 not
    resolved), whether the numbers are within the paper's band (None: no paper numbers), and
    the reasons the comparison is not at the paper's protocol."""
    if problems:
        return "inconclusive"
    if any(d < 0 for d in directions):
        return "contradicts"
    if not directions or any(d == 0 for d in directions):
        return "inconclusive"
    # reproduced needs the paper's numbers: a claim it gives none for can hold, never reproduce
    return "reproduced" if within is True else "same direction"


def kind_of(artifact: str, net: str) -> str:
    """``paper`` for the networks the paper shows ``artifact`` for, else ``extension``."""
    if artifact in NOT_IN_PAPER:
        return "extension"
    wanted = next((a[3] for a in catalog.artifacts() if a[0] == artifact), ())
    return "paper" if net in wanted else "extension"


class Theirs(str):
    """A clause of a verdict's evidence that gives the paper's (or the official run's) numbers, or
    how ours compare with them: the evidence keeps it in its place, the row's ``ours`` (the short
    form the landing page and the chapters' opening lines show) leaves it out."""


def row(artifact: str, net: str, verdict: str, evidence, problems=(), kind: str | None = None,
        numbers=(), seeds=None) -> dict:
    """A verdict row. ``evidence``: the numbers the verdict was decided on, one string or a list of
    clauses (joined by "; "), those made :class:`Theirs` marking the paper's; the row's ``ours`` is
    the rest. ``numbers``: the compared numbers behind it (``number``), for the intro's summary of
    ours against the paper; ``seeds``: the seeds the verdict was judged on (its table's seeds
    column: those used, not every seed the chapter trained)."""
    if verdict not in VERDICTS:
        raise ValueError(f"unknown verdict {verdict!r}; one of {', '.join(VERDICTS)}")
    clauses = [evidence] if isinstance(evidence, str) else list(evidence)
    ours = "; ".join(c for c in clauses if not isinstance(c, Theirs))
    evidence = "; ".join(clauses)
    if problems:
        evidence += "; inconclusive because: " + "; ".join(problems)
    out = {"artifact": artifact, "net": net, "kind": kind or kind_of(artifact, net),
           "verdict": verdict, "evidence": evidence, "ours": ours, "numbers": list(numbers)}
    if seeds is not None:
        out["seeds"] = " ".join(str(int(x)) for x in sorted(set(seeds)))
    return out


def number(quantity: str, ours: float, paper_value: float, lo: float, hi: float) -> dict:
    """One compared number: ours, the paper's, and the band the rule accepts (the paper's +- 2 sd,
    a stated tolerance of its plotted value, or its stated range)."""
    return {"quantity": quantity, "ours": float(ours), "paper": float(paper_value),
            "lo": float(lo), "hi": float(hi)}


def _band(m: float, sd: float) -> tuple[float, float]:
    return (m - 2 * sd, m + 2 * sd)


def _few_seeds(n: int) -> list[str]:
    return [f"{n} seed{'s' if n != 1 else ''} (at least {MIN_SEEDS} needed)"] if n < MIN_SEEDS else []


def not_run(artifact: str, done, profile: str, *, ready) -> list[dict]:
    """``not run`` rows for the networks the paper shows ``artifact`` for that did not run, each
    with its reason (data, compute, profile): licensed data it lacks is "needs data"; a free
    download it lacks is named as one, with the compute the run needs besides. ``ready``: {data
    set: there}, as the compute step found it (``Chapter.data_ready``)."""
    wanted = next(a[3] for a in catalog.artifacts() if a[0] == artifact)
    out = []
    for net in wanted:
        if net in done or net not in paper.NETS:
            continue
        ds = dataset_of(net)
        gpu = net in profiles.get("paper").nets and profile != "paper"
        if not ready[ds]:
            why = data_need(ds) + (f" and a GPU: in the paper profile, not in {profile}"
                                   if gpu and ds not in LICENSED else "")
        elif gpu:
            why = f"needs a GPU: in the paper profile, not in {profile}"
        else:
            why = f"not in profile {profile}"
        out.append(row(artifact, net, "not run", why))
    return out


# --------------------------------------------------------------------------- protocol checks
def run_problems(runs, plan: profiles.NetPlan | None = None) -> list[str]:
    """Why runs are not at the paper's protocol for the trial-based artifacts: fixed epochs, a
    data subset, a precision other than fp32, a run the epoch cap ended (unless ``plan`` reads the
    cap as the run's budget, ``NetPlan.cap_is_budget``), a diverged run."""
    runs = list(runs)
    out = []
    stops = {r.config.stop for r in runs}
    if "epochs" in stops:
        out.append("fixed epochs, not 'until the loss ceased to improve'")
    subsets = {(r.config.train_subset, r.config.test_subset) for r in runs} - {(None, None)}
    if subsets:
        tr, te = sorted(subsets, key=str)[0]
        out.append(f"{tr or 'all'} training / {te or 'all'} test examples, not the whole data set")
    prec = sorted({r.meta.get("precision", r.config.precision) for r in runs} - {"fp32"})
    if prec:
        out.append(f"precision {'/'.join(prec)}, not fp32")
    capped = [r for r in runs if r.meta.get("stopped_by") == "cap"]
    if capped and not (plan and plan.cap_is_budget):
        out.append(f"{len(capped)} of {len(runs)} runs ended by the cap of "
                   f"{capped[0].config.epochs} epochs before the plateau rule stopped them")
    diverged = [r for r in runs if r.status != "done"]
    if diverged:
        out.append(f"{len(diverged)} run(s) diverged")
    return out + uncommitted(runs)


def uncommitted(runs) -> list[str]:
    """The problem of runs trained from uncommitted code (a ``-dirty`` commit is no provenance):
    their numbers are shown, marked, and judged inconclusive until recomputed from a commit."""
    runs = list(runs)
    dirty = [c for c in (str(r.meta.get("commit", "")) for r in runs) if c.endswith("-dirty")]
    if not dirty:
        return []
    return [f"{len(dirty)} of {len(runs)} runs trained from uncommitted code "
            f"({', '.join(sorted(set(dirty)))}): not a published result until recomputed from a commit"]


def budget_note(runs, plan: profiles.NetPlan | None) -> str:
    """Where the cap is the runs' budget (``NetPlan.cap_is_budget``) and ended some of them, the
    sentence a verdict's evidence carries about it ("" otherwise)."""
    runs = list(runs)
    capped = [r for r in runs if r.meta.get("stopped_by") == "cap"]
    if not (capped and plan and plan.cap_is_budget):
        return ""
    return (f"{len(capped)} of {len(runs)} runs ended at the {capped[0].config.epochs}-epoch "
            "budget, their loss still falling (the reading's nb_epoch)")


# --------------------------------------------------------------------------- per artifact


def rule_glue() -> dict:
    """The rules' constants as glue for the chapters' prose (``v_alpha``, ``v_min_seeds``)."""
    return {"v_alpha": f"{ALPHA:g}", "v_min_seeds": str(MIN_SEEDS)}


# --------------------------------------------------------------------------- tables and counts
COLUMNS = ["artifact", "net", "kind", "verdict", "claim", "evidence"]


def frame(rows: list[dict]) -> pd.DataFrame:
    """Verdict rows as a table (artifact, net) -> kind, verdict, claim, evidence. A row's claim
    is the catalog's for its artifact, or its own ``claim`` where it carries one (a claim the
    catalog does not list, such as ``lbsm.report.official``'s)."""
    cols = ["artifact", "net", "kind", "verdict", "evidence"]
    cols += [c for c in ("seeds", "profile") if any(c in r for r in rows)]  # where rows carry them
    df = pd.DataFrame(rows, columns=cols)
    df.insert(4, "claim", [r.get("claim") or claim(r["artifact"]) for r in rows])
    return df.set_index(["artifact", "net"])


def ours(r: dict) -> str:
    """Our numbers in a verdict row (its evidence without the paper's clauses and the notes added
    after it: :func:`row`'s ``ours``); a row made without it (a hand-made frame) gives its
    evidence up to its reasons."""
    return r["ours"] if "ours" in r else r["evidence"].partition("; inconclusive because: ")[0]


def folded(rows: list[dict], brief: bool = False) -> pd.DataFrame:
    """:func:`frame` of the rows that ran, then one row per reason for the panels that did not
    (e.g. "needs a GPU"), listing them: the landing page's table, readable at a glance. ``brief``:
    each verdict's evidence cut to our numbers (:func:`ours`), the reasons of an
    inconclusive one named in a word; the chapters and the CSV keep the whole evidence."""
    ran = [r for r in rows if r["verdict"] != "not run"]
    if brief:
        ran = [{**r, "evidence": short_reasons(r["evidence"], ours(r))} for r in ran]
    out = frame(ran).reset_index()
    gone = pd.DataFrame([r for r in rows if r["verdict"] == "not run"],
                        columns=["artifact", "net", "kind", "verdict", "evidence", "profile"])
    for why, g in gone.groupby("evidence", sort=False):
        panels = "; ".join(f"{a} ({', '.join(h.net)})" for a, h in g.groupby("artifact", sort=False))
        out.loc[len(out)] = {"artifact": f"{len(g)} panels", "net": ", ".join(dict.fromkeys(g.net)),
                             "kind": "/".join(dict.fromkeys(g.kind)), "verdict": "not run",
                             "claim": why, "evidence": panels,
                             **({"profile": "/".join(dict.fromkeys(g.profile.dropna()))}
                                if "profile" in out else {})}
    return out.set_index(["artifact", "net"])


def short_reasons(evidence: str, body: str | None = None) -> str:
    """A verdict's evidence with the reasons of an inconclusive one named up to their first colon
    (" — because: 3 seeds; ..."); ``body``: what stands before them in place of the evidence (our
    numbers, :func:`ours`, as the landing page's table shows them)."""
    why = reasons(evidence)
    body = evidence.partition("; inconclusive because: ")[0] if body is None else body
    return body + (" — because: " + "; ".join(p.split(":")[0] for p in why) if why else "")


def with_evidence(evidence: str, more: str) -> str:
    """``evidence`` with ``more`` added to what was measured, before the reasons an inconclusive
    verdict carries (so that :func:`reasons` never reads a note as a reason)."""
    body, sep, tail = evidence.partition("; inconclusive because: ")
    return body + more + sep + tail


def reasons(evidence: str) -> list[str]:
    """The reasons a verdict is inconclusive, as :func:`row` appended them to its evidence."""
    _, _, tail = evidence.partition("; inconclusive because: ")
    return [p for p in tail.split("; ") if p] if tail else []


def counts(rows: list[dict]) -> dict:
    """Glue-ready counts per kind and outcome: ``v_paper_reproduced``, ``v_extension_inconclusive``,
    ..., ``v_paper_total``, ``v_total``."""
    df = pd.DataFrame(rows, columns=["artifact", "net", "kind", "verdict", "evidence"])
    out = {"v_total": str(len(df))}
    for k in KINDS:
        sub = df[df.kind == k]
        out[f"v_{k}_total"] = str(len(sub))
        for v in VERDICTS:
            out[f"v_{k}_{v.replace(' ', '_')}"] = str(int((sub.verdict == v).sum()))
    return out


# --------------------------------------------------------------------------- per chapter


