"""Verdicts from numbers: every rule on hand-made per-seed frames, each outcome it can give
(reproduced, same direction, inconclusive, contradicts), ties and too few seeds included."""
import math

import numpy as np
import pandas as pd
import pytest

from lbsm.report import judgments, summary, verdicts
from lbsm.report.verdicts import Paired

NOISE = np.array([-0.02, 0.01, 0.03, -0.01, -0.01])  # a fixed, zero-mean seed noise


# --------------------------------------------------------------------------- statistics
def test_paired_matches_scipy_and_resolves_only_beyond_noise():
    import scipy.stats
    x = [0.3, 0.1, 0.5, 0.2, 0.4]
    t = Paired.of(x)
    assert t.n == 5 and math.isclose(t.mean, 0.3) and math.isclose(t.p, scipy.stats.ttest_1samp(x, 0).pvalue)
    assert t.direction == 1 and Paired.of([-v for v in x]).direction == -1
    assert Paired.of([-0.27, 0.10, 0.54, 0.33, 0.52]).direction == 0  # the audit's gap: p = 0.18
    assert Paired.of([0.3, 0.2]).direction == 0                     # two seeds: never resolved
    assert Paired.of([0.0] * 5).direction == 0                      # an exact tie
    lo, hi = t.ci()
    assert lo < t.mean < hi


def test_power_and_trials_needed_match_the_noncentral_t():
    """Known answers: a one-sample two-sided t-test at alpha 0.05 needs 34 trials for 80 % power
    at d = 0.5 (Cohen's tables, G*Power), 10 at d = 1; power grows with n."""
    half = Paired(5, 0.5, 1.0, 0.3)
    assert half.trials_needed() == 34 and half.power(34) >= 0.8 > half.power(33)
    assert Paired(5, -1.0, 1.0, 0.1).trials_needed() == 10
    assert Paired(5, 0.0, 1.0, 1.0).trials_needed() is None       # nothing to resolve
    assert Paired(1, 0.3, math.nan, math.nan).trials_needed() is None
    unresolved = Paired.of([-0.27, 0.10, 0.54, 0.33, 0.52]).text(2)
    assert "trials would resolve a difference of this size with 80% power" in unresolved
    assert "would resolve" not in Paired.of([0.3, 0.1, 0.5, 0.2, 0.4]).text(2)   # resolved


def test_verdicts_are_also_given_at_the_paper_five_trials():
    from lbsm.report.summary import at_paper_trials
    noise = np.tile(NOISE, 4) * np.repeat([1, 3, 5, 7], 5)
    t = trials(98.03, 97.95, noise=noise)                     # 20 trials
    (r,) = at_paper_trials(judgments.table2, t)
    assert "n = 20" in r["evidence"] and "with the paper's 5 trials (seeds 0-4):" in r["evidence"]
    (r5,) = at_paper_trials(judgments.table2, t[t.seed < 5])
    assert "paper's 5 trials" not in r5["evidence"]


def test_decide_orders_the_outcomes():
    assert verdicts.decide([1, 1], True, []) == "reproduced"
    assert verdicts.decide([1], None, []) == "same direction"      # no paper number: never reproduced
    assert verdicts.decide([1, 1], False, []) == "same direction"
    assert verdicts.decide([1, 0], True, []) == "inconclusive"
    assert verdicts.decide([1, -1], True, []) == "contradicts"
    assert verdicts.decide([1], True, ["fixed epochs"]) == "inconclusive"
    assert verdicts.decide([], True, []) == "inconclusive"


# --------------------------------------------------------------------------- Table 2 and Figure 2
def trials(test_sb, test_lb, train_sb=99.66, train_lb=99.92, noise=NOISE):
    n = len(noise)
    return pd.DataFrame({"net": "F1", "seed": range(n), "train_sb": train_sb + noise[:n],
                         "train_lb": train_lb + noise[:n] / 5, "test_sb": test_sb + noise[:n],
                         "test_lb": test_lb - noise[:n]})


@pytest.mark.parametrize("sb,lb,train_sb,expected", [
    (98.03, 97.81, 99.66, "reproduced"),       # the paper's numbers, a resolved gap
    (98.03, 97.81, 99.0, "same direction"),    # a training accuracy outside +- 2 sd
    (98.0, 98.0, 99.66, "inconclusive"),       # a tie: the gap is noise
    (97.5, 98.0, 99.66, "contradicts")])
def test_table2_rule(sb, lb, train_sb, expected):
    (r,) = judgments.table2(trials(sb, lb, train_sb))
    assert r["verdict"] == expected and r["kind"] == "paper"
    assert "n = 5" in r["evidence"] and "p = " in r["evidence"] and "±" in r["evidence"]


def test_table2_few_seeds_and_protocol_problems_are_inconclusive():
    assert judgments.table2(trials(98.03, 97.81, noise=NOISE[:2]))[0]["verdict"] == "inconclusive"
    r = judgments.table2(trials(98.03, 97.81), {"F1": ["precision bf16, not fp32"]})[0]
    assert r["verdict"] == "inconclusive" and "bf16" in r["evidence"]


def histories(final_sb, final_lb, peak_lb=None, n=5):
    rows = []
    for s in range(n):
        for regime, end in (("SB", final_sb), ("LB", final_lb)):
            curve = [90.0, end - 0.5, (peak_lb if regime == "LB" and peak_lb else end), end + NOISE[s]]
            rows += [dict(net="F1", seed=s, regime=regime, epoch=e, test_acc=a) for e, a in enumerate(curve)]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("sb,lb,peak,expected", [(98.0, 97.5, None, "same direction"),
                                                 (98.0, 98.0, None, "inconclusive"),
                                                 (98.0, 97.5, 99.0, "contradicts"),
                                                 (97.0, 98.0, None, "contradicts")])
def test_figure2_rule(sb, lb, peak, expected):
    (r,) = judgments.figure2(histories(sb, lb, peak))
    assert r["verdict"] == expected and r["kind"] == "extension"  # the paper plots F2 and C1


# --------------------------------------------------------------------------- Tables 3, 4, Hessian
def solves(sb, lb, n=5, iterations=10, message="STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT",
           sb5=None, lb5=None):
    rows = []
    for s in range(n):
        f = 1 + NOISE[s]
        for eps, (a, b) in (("1e-3", (sb, lb)), ("5e-4", (sb5 or sb / 2, lb5 or lb / 4))):
            rows += [dict(net="F1", seed=s, regime="sb", eps=eps, value=a * f, iterations=iterations,
                          message=message),
                     dict(net="F1", seed=s, regime="lb", eps=eps, value=b / f, iterations=iterations,
                          message=message)]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("sb,lb,sb5,lb5,expected", [
    (1.23, 205.0, 0.61, 42.9, "reproduced"),
    (7.0, 300.0, None, None, "same direction"),
    (5.0, 5.0, 2.5, 2.5, "inconclusive"),
    (5.0, 1.0, 2.0, 0.5, "contradicts"),
    (1.23, 205.0, 0.61, 0.3, "contradicts")])   # one eps against: contradicts
def test_sharpness_rule_judges_both_eps(sb, lb, sb5, lb5, expected):
    (r,) = judgments.sharpness(solves(sb, lb, sb5=sb5, lb5=lb5), "Table 3", iters=10)
    assert r["verdict"] == expected and "eps 1e-3" in r["evidence"] and "eps 5e-4" in r["evidence"]


def test_sharpness_rule_refuses_solves_that_did_not_run():
    early = solves(1.23, 205.0, sb5=0.61, lb5=42.9, iterations=1,
                   message="CONVERGENCE: RELATIVE REDUCTION OF F <= FACTR*EPSMCH")
    r = judgments.sharpness(early, "Table 4", iters=10)[0]
    assert r["verdict"] == "inconclusive" and "stopped before 10 iterations" in r["evidence"]
    stationary = solves(1.23, 205.0, sb5=0.61, lb5=42.9, iterations=0,
                        message="CONVERGENCE: NORM OF PROJECTED GRADIENT <= PGTOL")
    assert judgments.sharpness(stationary, "Table 3", iters=10)[0]["verdict"] == "reproduced"
    assert judgments.sharpness(solves(1.23, 205.0, sb5=0.61, lb5=42.9, iterations=2), "Table 3",
                              iters=2)[0]["verdict"] == "inconclusive"  # 2 iterations, not 10


def test_sharpness_evidence_gives_the_means_the_log_ratio_test_compares():
    """One LB outlier lifts LB's arithmetic mean above SB's while every trial has LB flatter: the
    evidence also shows the geometric means (known answers), so it cannot read as the opposite of
    the log ratio beside it."""
    rows = [dict(net="F1", seed=s, regime=r, eps=e, value=v, iterations=10, message="")
            for s in range(5) for e in ("1e-3", "5e-4")
            for r, v in (("sb", 2.0), ("lb", 100.0 if s == 0 else 0.1))]
    (r,) = judgments.sharpness(pd.DataFrame(rows), "Table 3", iters=10)
    lb_geo = (100.0 * 0.1 ** 4) ** (1 / 5)
    assert f"SB 2 (geometric 2) vs LB 20.1 (geometric {lb_geo:.3g})" in r["evidence"]
    assert verdicts.geometric_mean([1.0, 100.0]) == pytest.approx(10.0)
    assert math.isnan(verdicts.geometric_mean([]))


def test_solves_that_converged_early_are_counted_apart_from_those_that_stopped():
    stopped = solves(1.23, 205.0, sb5=0.61, lb5=42.9, iterations=3,
                     message="ABNORMAL_TERMINATION_IN_LNSRCH")
    vertex = solves(1.23, 205.0, sb5=0.61, lb5=42.9, iterations=0,
                    message="CONVERGENCE: NORM OF PROJECTED GRADIENT <= PGTOL")
    r = judgments.sharpness(pd.concat([stopped.iloc[:4], vertex.iloc[4:]]), "Table 3", iters=10)[0]
    assert r["verdict"] == "inconclusive"
    assert ("4 of 20 solves stopped before 10 iterations without converging (another 16 converged "
            "before 10, at a stationary point of the box), so their values only bound the maximum "
            "from below: solves that reach 10 iterations or converge would decide it") in r["evidence"]


@pytest.mark.parametrize("message,stall", [
    ("CONVERGENCE: RELATIVE REDUCTION OF F <= FACTR*EPSMCH", True),   # SciPy >= 1.15
    ("CONVERGENCE: REL_REDUCTION_OF_F_<=_FACTR*EPSMCH", True),        # older SciPy
    ("ABNORMAL_TERMINATION_IN_LNSRCH", False)])
def test_the_stall_reading_counts_only_a_stop_on_no_reduction_of_f(message, stall):
    """Under the stall reading (a sensitivity) a solve that stopped on L-BFGS-B's test of no
    reduction of f counts as converged; any other early stop still makes the row inconclusive,
    and the adopted rule counts both as early."""
    early = solves(1.23, 205.0, sb5=0.61, lb5=42.9, iterations=4, message=message)
    adopted = judgments.sharpness(early, "Table 3", iters=10)[0]
    reading = judgments.sharpness(early, "Table 3", iters=10, stall_converged=True)[0]
    assert adopted["verdict"] == "inconclusive" and "stopped before 10 iterations" in adopted["evidence"]
    assert reading["verdict"] == ("reproduced" if stall else "inconclusive")


@pytest.mark.parametrize("sb,lb,expected", [(1.0, 3.0, "same direction"), (2.0, 2.0, "inconclusive"),
                                            (3.0, 1.0, "contradicts")])
def test_hessian_rule(sb, lb, expected):
    h = pd.DataFrame([dict(net="F1", seed=s, regime=r, lambda_1=v * (1 + NOISE[s]))
                      for s in range(5) for r, v in (("SB", sb), ("LB", lb))])
    (r,) = judgments.hessian(h)
    assert r["verdict"] == expected and r["kind"] == "extension"


# --------------------------------------------------------------------------- Figures 3 and 7, distance
ALPHAS = np.linspace(-1, 2, 25)


def curves(rise_sb, rise_lb, n=5):
    """A training-loss curve per seed: flat 0 between the minimizers, rising linearly beyond them,
    saturating at ln 10 far out (where the old rule compared 2.30 with 2.29)."""
    rows = []
    for s in range(n):
        for a in ALPHAS:
            beyond_sb, beyond_lb = max(0.0, -a) / 0.125, max(0.0, a - 1) / 0.125
            loss = min(math.log(10), rise_sb * (1 + NOISE[s]) * beyond_sb + rise_lb * beyond_lb)
            rows.append(dict(net="F1", seed=s, alpha=a, split="train", loss=loss))
    return pd.DataFrame(rows)


def test_first_rises_are_one_grid_step_beyond_each_minimizer():
    h, sb, lb = judgments.first_rises(curves(0.01, 0.5, n=1))
    assert math.isclose(h, 0.125) and math.isclose(sb, 0.01 * (1 + NOISE[0])) and math.isclose(lb, 0.5)


@pytest.mark.parametrize("rise_sb,rise_lb,expected", [(0.01, 0.5, {"reproduced", "same direction"}),
                                                      (0.2, 0.2, {"inconclusive"}),
                                                      (0.5, 0.01, {"contradicts"})])
def test_parametric_rule(rise_sb, rise_lb, expected):
    for kind, artifact in (("linear", "Figure 3"), ("curvilinear", "Figure 7")):
        (r,) = judgments.parametric(curves(rise_sb, rise_lb), kind)
        assert r["verdict"] in expected and r["artifact"] == artifact


def test_parametric_rule_compares_magnitudes_with_the_paper():
    from lbsm.core import paper
    ref = judgments._paper_rise("Fig3_F1", 0.125)
    assert ref is not None and paper.has_figure("Fig3_F1")
    exact = judgments.parametric(curves(ref[0], ref[1]), "linear")[0]
    if ref[1] > ref[0] > 0:
        assert exact["verdict"] == "reproduced"
    far = judgments.parametric(curves(ref[0] * 100, ref[1] * 1000), "linear")[0]
    assert far["verdict"] == "same direction"


def test_a_seed_whose_loss_falls_beyond_a_minimizer_is_left_out_and_counted():
    """A rise <= 0 (the loss falls beyond SB: not a minimum along the line) has no log ratio: the
    seed is left out of the test, and the evidence counts it rather than only saying "0 seeds"."""
    c = curves(0.01, 0.5, n=3)
    c.loc[(c.seed == 0) & (c.alpha < 0), "loss"] *= -1      # seed 0: the loss falls beyond SB
    (r,) = judgments.parametric(c, "linear")
    assert "left out: 1 of 3 seeds whose loss does not rise beyond SB" in r["evidence"]
    assert "(n = 2" in r["evidence"] and r["verdict"] == "inconclusive"
    (full,) = judgments.parametric(curves(0.01, 0.5, n=3), "linear")
    assert "left out" not in full["evidence"]


@pytest.mark.parametrize("ratio,expected", [(5.0, "reproduced"), (1.5, "same direction"),
                                            (1.0, "inconclusive"), (0.5, "contradicts")])
def test_distance_rule(ratio, expected):
    d = pd.DataFrame({"net": "F1", "seed": range(5), "ratio": ratio * (1 + 5 * NOISE)})
    assert judgments.distance(d)[0]["verdict"] == expected
    assert judgments.distance(d.iloc[:2])[0]["verdict"] == "inconclusive"


# --------------------------------------------------------------------------- Section 3
def sweep(acc_small, acc_large, sharp_small, sharp_large, n=5):
    rows = []
    for s in range(n):
        for b, acc, sh in ((256, acc_small, sharp_small), (15000, acc_large, sharp_large)):
            rows.append({"net": "F1", "seed": s, "batch_size": b, "test_acc": acc + NOISE[s],
                         "sharpness_1e-03": sh * (1 + NOISE[s]), "sharpness_5e-04": sh / 3 * (1 + NOISE[s])})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("args,expected", [((98.0, 96.0, 5.0, 500.0), "same direction"),
                                           ((98.0, 98.0, 5.0, 500.0), "inconclusive"),
                                           ((96.0, 98.0, 5.0, 500.0), "contradicts"),
                                           ((98.0, 96.0, 500.0, 5.0), "contradicts")])
def test_figure4_rule(args, expected):
    assert judgments.figure4(sweep(*args))[0]["verdict"] == expected
    assert judgments.figure4(sweep(*args, n=1))[0]["verdict"] == "inconclusive"  # one seed


def warm(acc_first, acc_last, sharp_first, sharp_last, n=5):
    rows = []
    for s in range(n):
        for e, acc, sh in ((0, acc_first, sharp_first), (10, acc_last, sharp_last)):
            rows.append({"net": "F1", "seed": s, "sb_epoch": e, "lb_test_acc": acc + NOISE[s],
                         "sharpness_1e-03": sh * (1 + NOISE[s]), "sharpness_5e-04": sh / 2 * (1 + NOISE[s])})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("args,expected", [((97.0, 98.0, 300.0, 10.0), "same direction"),
                                           ((97.0, 97.0, 300.0, 10.0), "inconclusive"),
                                           ((98.0, 97.0, 300.0, 10.0), "contradicts")])
def test_figure5_rule(args, expected):
    assert judgments.figure5(warm(*args))[0]["verdict"] == expected
    assert judgments.figure5(warm(*args, n=1))[0]["verdict"] == "inconclusive"


def along(sb_start, sb_end, lb_start, lb_end, n=5):
    rows = []
    for s in range(n):
        for regime, (a, b) in (("SB", (sb_start, sb_end)), ("LB", (lb_start, lb_end))):
            for e, v in ((0, a), (10, b)):
                rows.append({"net": "F1", "seed": s, "regime": regime, "epoch": e,
                             "sharpness_1e-03": v * (1 + NOISE[s]), "sharpness_5e-04": v / 4 * (1 + NOISE[s])})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("args,expected", [((50.0, 10.0, 50.0, 400.0), "same direction"),
                                           ((50.0, 10.0, 50.0, 50.0), "inconclusive"),
                                           ((50.0, 400.0, 50.0, 10.0), "contradicts")])
def test_figure6_rule(args, expected):
    assert judgments.figure6(along(*args))[0]["verdict"] == expected


# --------------------------------------------------------------------------- Appendix E
def remedied(rem_acc, plain_acc, rem_sharp, sb_sharp=1.23, n=5, remedy="conservative", sb=True):
    rows = []
    for s in range(n):
        f = 1 + NOISE[s]
        rows += [dict(net="F1", remedy=remedy, regime="SB", seed=s, test_acc=98.03 + NOISE[s],
                      **{"sharpness_1e-03": sb_sharp * f if sb else math.nan, "sharpness_5e-04": math.nan}),
                 dict(net="F1", remedy=remedy, regime="LB+remedy", seed=s, test_acc=rem_acc + NOISE[s],
                      **{"sharpness_1e-03": rem_sharp * f, "sharpness_5e-04": rem_sharp / 5 * f}),
                 dict(net="F1", remedy=remedy, regime="LB", seed=s, test_acc=plain_acc - NOISE[s],
                      **{"sharpness_1e-03": 205.0 * f, "sharpness_5e-04": 42.0 * f})]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("args,expected", [((98.12, 97.81, 232.25), "reproduced"),
                                           ((98.5, 97.81, 232.25), "same direction"),
                                           ((97.81, 97.81, 232.25), "inconclusive"),
                                           ((97.5, 97.81, 232.25), "contradicts"),
                                           ((98.12, 97.81, 0.1), "contradicts")])
def test_table7_rule(args, expected):
    r = judgments.remedy(remedied(*args), 7)[0]
    assert r["verdict"] == expected and r["artifact"] == "Table 7"


def test_table7_without_sb_sharpness_is_inconclusive():
    assert judgments.remedy(remedied(98.12, 97.81, 232.25, sb=False), 7)[0]["verdict"] == "inconclusive"


@pytest.mark.parametrize("rem_acc,rem_sharp,expected", [(97.81, 205.0, "same direction"),
                                                        (99.5, 205.0, "contradicts"),
                                                        (97.81, 5.0, "contradicts"),
                                                        (98.31, 205.0, "inconclusive")])
def test_robust_rule_is_an_equivalence_test(rem_acc, rem_sharp, expected):
    d = remedied(rem_acc, 97.81, rem_sharp, remedy="adversarial")
    d.loc[d.regime == "LB+remedy", "test_acc"] = rem_acc + 2 * NOISE  # wider noise than plain LB
    assert judgments.robust(d)[0]["verdict"] == expected
    assert "it holds where both 95 % CIs lie inside" in judgments.robust(d)[0]["evidence"]
    assert judgments.robust(remedied(rem_acc, 97.81, rem_sharp, n=1))[0]["verdict"] == "inconclusive"


# --------------------------------------------------------------------------- rows, kinds, counts
def test_kinds_separate_the_papers_panels_from_extensions():
    assert verdicts.kind_of("Table 2", "F1") == "paper"
    assert verdicts.kind_of("Figure 4", "F1") == "extension"   # the paper plots F2 and C1
    assert verdicts.kind_of("Hessian spectrum", "F1") == "extension"
    with pytest.raises(ValueError, match="unknown verdict"):
        verdicts.row("Table 2", "F1", "partial", "")


def test_counts_per_kind():
    rows = [verdicts.row("Table 2", "F1", "reproduced", ""), verdicts.row("Figure 4", "F1", "inconclusive", ""),
            verdicts.row("Table 2", "C1", "not run", "")]
    c = verdicts.counts(rows)
    assert (c["v_paper_reproduced"], c["v_paper_not_run"], c["v_extension_inconclusive"],
            c["v_paper_total"], c["v_total"]) == ("1", "1", "1", "2", "3")


def test_not_run_says_why():
    ready = {"mnist": True, "cifar10": True, "cifar100": False, "timit": False}  # as a chapter found it
    rows = {r["net"]: r["evidence"] for r in verdicts.not_run("Table 2", {"F1"}, "cpu", ready=ready)}
    assert "F1" not in rows
    assert rows["F2"] == "needs data: TIMIT"                       # licensed: data is what it needs
    assert rows["C3"] == ("needs a free download (CIFAR-100) and a GPU: in the paper profile, "
                          "not in cpu")                             # a download plus compute
    assert rows["C1"].startswith("needs a GPU")


def test_run_problems_name_the_protocol_deviations():
    from types import SimpleNamespace as NS
    from lbsm.train.protocol import TrainConfig
    ok = NS(config=TrainConfig("F1", 256, stop="plateau"), meta={"precision": "fp32", "stopped_by": "plateau"},
            status="done")
    assert verdicts.run_problems([ok]) == []
    bad = NS(config=TrainConfig("F1", 6000, stop="plateau", epochs=100, train_subset=5000),
             meta={"precision": "bf16", "stopped_by": "cap"}, status="done")
    text = "; ".join(verdicts.run_problems([ok, bad]))
    assert "bf16" in text and "cap of 100" in text and "5000 training" in text
    fixed = NS(config=TrainConfig("F1", 256), meta={"precision": "fp32"}, status="done")
    assert "fixed epochs" in verdicts.run_problems([fixed])[0]


def test_every_verdict_row_states_its_claim_and_chapter():
    from lbsm.core import catalog
    from lbsm.report import beyond as rb
    rows = [verdicts.row("Table 2", "F1", "reproduced", "e"),
            verdicts.row(rb.ARTIFACT.format("LB + SAM"), "F1", "inconclusive", "e", kind="extension")]
    claims = verdicts.frame(rows).claim.tolist()
    assert claims == [catalog.claim("Table 2"), verdicts.BEYOND_CLAIM] and all(claims)
    assert [catalog.chapter_of(r["artifact"]) for r in rows] == ["gap", "beyond"]
    assert catalog.chapter_of("Table 9") is None and verdicts.claim("Table 9") == ""
    # every artifact of the catalog has a claim, or is a table the setup chapter lists
    assert {a for a, ch, *_ in catalog.artifacts() if not verdicts.claim(a)} == {"Table 1", "Table 5"}


def test_a_cap_that_is_the_reading_budget_is_judged_and_noted():
    from types import SimpleNamespace as NS
    from lbsm.experiments.profiles import NetPlan
    from lbsm.train.protocol import TrainConfig
    sb = NS(config=TrainConfig("F1", 256, stop="plateau", epochs=100), meta={"stopped_by": "plateau"},
            status="done")
    lb = NS(config=TrainConfig("F1", 6000, stop="plateau", epochs=100), meta={"stopped_by": "cap"},
            status="done")
    flagged = NetPlan(seeds=(0,), sb_epochs=100, lb_epochs=100, stop="plateau")
    budget = NetPlan(seeds=(0,), sb_epochs=100, lb_epochs=100, stop="plateau", cap_is_budget=True)
    assert "cap of 100" in verdicts.run_problems([sb, lb], flagged)[0]
    assert verdicts.budget_note([sb, lb], flagged) == ""
    assert verdicts.run_problems([sb, lb], budget) == []
    assert verdicts.budget_note([sb, lb], budget).startswith("1 of 2 runs ended at the 100-epoch budget")
    assert verdicts.budget_note([sb], budget) == ""  # nothing the cap ended: nothing to say


def test_a_note_added_to_the_evidence_is_never_read_as_a_reason():
    r = verdicts.row("Table 4", "F1", "inconclusive", "eps 1e-3: +0.5", ["2 of 48 solves stopped early"])
    e = verdicts.with_evidence(r["evidence"], "; with the paper's 5 trials (seeds 0-4): inconclusive")
    assert verdicts.reasons(e) == ["2 of 48 solves stopped early"]
    assert verdicts.short_reasons(e) == ("eps 1e-3: +0.5; with the paper's 5 trials (seeds 0-4): "
                                         "inconclusive — because: 2 of 48 solves stopped early")
    assert verdicts.with_evidence("a", "; b") == "a; b"            # a row without reasons
