"""The chapter "Beyond the paper": its runs are the gap chapter's baselines plus the methods' LB
runs, its judgment (closes / does not close / inconclusive; flat / sharper) on hand-made frames
with known answers, its tables and sentences, and the stored-analysis readers that must mirror
the producers' keys."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from lbsm.core.constants import sharpness_col
from lbsm.core.store import Store
from lbsm.experiments import beyond, beyond_more, profiles, stored
from lbsm.experiments.specs import BeyondSpec, Closing
from lbsm.pipeline import chunks, compute
from lbsm.report import beyond as rb
from lbsm.train.protocol import TrainConfig, fit


# --------------------------------------------------------------------------- runs
@pytest.mark.parametrize("name", ["smoke", "cpu", "paper"])
def test_baselines_are_the_gap_chapters_runs(name):
    P = profiles.get(name)
    for spec in P.beyond:
        if spec.net not in P.nets:
            continue
        arms = beyond.arms(P, spec)
        base = {c.key for a, _, c in arms if a in beyond.BASELINES}
        assert base == {c.key for pair in P.trials(spec.net) for c in pair}
        for a, s, c in arms:
            if a in beyond.BASELINES:
                continue
            if a in beyond.TWINS.values():  # a twin keeps its weights, nothing else changes
                orig = P.trial(spec.net, s)[0 if a == beyond.TWINS["SB"] else 1]
                assert c == dataclasses.replace(orig, checkpoints=True) and c.key != orig.key
                continue
            _, lb = P.trial(spec.net, s)
            diff = {f.name for f in dataclasses.fields(TrainConfig)
                    if getattr(c, f.name) != getattr(lb, f.name)}
            allowed = {"method", "method_args"} | ({"epochs", "stop"} if a == "longer" else set())
            assert diff <= allowed and c.key != lb.key, (a, diff)


def test_paper_profile_runs_every_method_on_c1_and_c2_with_five_seeds():
    P = profiles.get("paper")
    specs = {s.net: s for s in P.beyond}
    for net in ("C1", "C2"):
        spec = specs[net]
        assert [m.name for m in spec.methods] == ["linear", "sqrt", "longer", "ghost", "sam", "asam"]
        assert beyond.seeds(P, spec) == (0, 1, 2, 3, 4)
        longer = next(m for m in spec.methods if m.name == "longer")
        assert longer.epochs == round(100 * 5000 / 256)  # as many steps as 100 SB epochs
    cpu = profiles.get("cpu")
    # the cpu profile: every method on the first four of the gap chapter's five trials (enough for
    # the paired test; the fifth would add about an hour on 2 cores)
    assert [s.net for s in cpu.beyond] == ["F1"] and beyond.seeds(cpu, cpu.beyond[0]) == (0, 1, 2, 3)


def test_gpu_priority_puts_beyond_after_the_papers_artifacts():
    names = [c for _, c, _ in chunks.PRIORITY]
    assert names.index("beyond") > names.index("remedies")
    assert [n for _, c, n in chunks.PRIORITY if c == "beyond"] == ["C1", "C2"]


def test_plan_skips_with_reasons():
    P = profiles.get("smoke")
    assert beyond.plan(P, nets="C1").skipped == {"F1": "not selected (nets = C1)"}
    bare = dataclasses.replace(P, nets={"C1": P.nets["C1"]})
    assert "no trial of F1" in beyond.plan(bare).skipped["F1"]


# --------------------------------------------------------------------------- the judgment
SEEDS = [0, 1, 2, 3, 4]
SB = pd.Series([98.0, 98.2, 97.9, 98.1, 98.05], index=SEEDS)
SB_SHARP = pd.Series([10.0, 12.0, 11.0, 9.0, 10.5], index=SEEDS)


def test_a_method_resolved_below_sb_does_not_close():
    low = SB - pd.Series([1.0, 1.1, 0.9, 1.05, 0.95], index=SEEDS)
    j = rb.judge(SB, low, SB_SHARP, SB_SHARP * 10)
    assert j["closes"] == "does not close" and j["gap"].n == 5
    assert j["gap"].mean == pytest.approx(1.0)
    assert j["gap"].p == pytest.approx(scipy.stats.ttest_1samp([1.0, 1.1, 0.9, 1.05, 0.95], 0).pvalue)
    assert j["flat"] == "sharper than SB" and j["verdict"] == "same direction"  # a gap at a sharp minimum


def test_closing_is_shown_by_equivalence_not_by_an_unresolved_gap():
    # every outcome of the rule from hand-made seeds, at F1's margin (half the paper's 0.22 points)
    from lbsm.report import closing_rule as cr
    m = cr.margin("F1")
    assert m == pytest.approx(0.5 * (98.03 - 97.81))
    tight = SB - pd.Series([0.01, -0.02, 0.015, -0.005, 0.0], index=SEEDS)   # within +-0.11, tight
    j = rb.judge(SB, tight, SB_SHARP, SB_SHARP * pd.Series([1.1, 0.9, 1.2, 0.8, 1.0], index=SEEDS),
                 margin=m)
    assert j["closes"] == "closes" and j["tost_p"] < 0.05 and j["flat"] == "flat"
    assert j["verdict"] == "inconclusive"  # neither difference resolved: the account is not tested
    noisy = SB + pd.Series([0.1, -0.2, 0.15, -0.05, 0.0], index=SEEDS)      # unresolved, sd 0.14
    j = rb.judge(SB, noisy, margin=m)
    assert j["closes"] == "inconclusive" and j["tost_p"] > 0.05   # not shown equivalent: not closed
    lb = SB - pd.Series([1.0, 1.1, 0.9, 1.05, 0.95], index=SEEDS)
    half = SB - pd.Series([0.5, 0.55, 0.45, 0.52, 0.48], index=SEEDS)       # below SB, above LB
    assert rb.judge(SB, half, lb_acc=lb, margin=m)["closes"] == "narrows"
    assert rb.judge(SB, lb - 0.01, lb_acc=lb, margin=m)["closes"] == "does not close"
    assert rb.judge(SB, SB + 1 + tight - SB, margin=m)["closes"] == "closes"  # resolved above SB
    # plain LB with the gap unresolved (F1's published numbers are like this) no longer "closes"
    assert rb.judge(SB, noisy, margin=None)["closes"] == "inconclusive"


def test_the_account_is_contradicted_only_by_resolved_differences_that_disagree():
    shift = pd.Series([0.01, -0.02, 0.0, 0.02, -0.01], index=SEEDS)
    low, high = SB - 1 + shift, SB + 1 + shift
    flatter, sharper = SB_SHARP / 10 * (1 + shift), SB_SHARP * 10 * (1 + shift)
    assert rb.judge(SB, high, SB_SHARP, flatter)["verdict"] == "same direction"    # better and flatter
    assert rb.judge(SB, low, SB_SHARP, flatter)["verdict"] == "contradicts"    # a gap at a flatter one
    assert rb.judge(SB, high, SB_SHARP, sharper)["verdict"] == "contradicts"   # better yet sharper
    assert rb.judge(SB, low, SB_SHARP, SB_SHARP)["verdict"] == "inconclusive"  # sharpness not resolved


def test_too_few_seeds_is_inconclusive():
    two = (SB - 3.0).iloc[:2]
    j = rb.judge(SB, two, SB_SHARP, SB_SHARP.iloc[:2] * 100)
    assert j["closes"] == "inconclusive" and j["flat"] == "inconclusive" and j["verdict"] == "inconclusive"
    assert j["gap"].n == 2                       # paired over the seeds both have
    one = rb.judge(SB, SB.iloc[:1])
    assert one["gap"].n == 1 and math.isnan(one["gap"].p) and one["flat"] == "inconclusive"


def _frame(arms: dict) -> pd.DataFrame:
    rows = []
    for arm, (accs, sharps) in arms.items():
        for s, (a, h) in enumerate(zip(accs, sharps)):
            rows.append(dict(net="F1", arm=arm, label=beyond.LABELS[arm], seed=s, test_acc=a, epochs_run=10,
                             steps=100, **{sharpness_col(1e-3): h, sharpness_col(5e-4): h / 2}, lambda_1=h,
                             adaptive_worst=math.nan if arm == "SB" else 0.01, adaptive_average=0.005,
                             run=f"F1-{arm}{s}"))
    return pd.DataFrame(rows)


def test_closing_table_and_sentences_from_a_hand_made_frame():
    df = _frame({"SB": ([98.0, 98.2, 97.9], [10, 12, 11]), "LB": ([97.0, 97.1, 96.8], [100, 110, 90]),
                 "sam": ([98.1, 98.1, 98.0], [11, 12, 10])})
    t = rb.closing_table(df)
    lb = t.loc[("F1", beyond.LABELS["LB"])]
    assert lb.gap == pytest.approx(np.mean([1.0, 1.1, 1.1])) and lb.closes == "does not close"
    assert lb.flat == "sharper than SB" and lb.verdict == "same direction" and lb.adaptive_worst_n == 3
    assert lb[sharpness_col(1e-3)] == pytest.approx((100 * 110 * 90) ** (1 / 3))  # the geometric mean
    sam = t.loc[("F1", beyond.LABELS["sam"])]
    # SB - SAM: -0.1, +0.1, -0.1: within F1's +-0.11 on average, yet TOST on 3 seeds cannot show
    # it (p > 0.05); SAM is resolved above plain LB, so it narrows the gap
    assert sam.closes == "narrows" and sam.flat == "flat" and sam.tost_p > 0.05
    assert sam.margin == pytest.approx(0.11)
    assert t.loc[("F1", beyond.LABELS["SB"])].gap == 0 and math.isnan(t.loc[("F1", "SB (plain)")].adaptive_worst)
    text = rb.closing_text(t)
    assert text["bey_closest"].startswith("LB + SAM on F1 comes closest to SB")
    # SB - SAM per seed: -0.1, +0.1, -0.1; the t interval mean +- t(0.975, 2) sd / sqrt(3)
    assert "95 % CI -0.32 to +0.25" in text["bey_closest"]
    assert text["bey_closers"].startswith("no method is shown to close the gap")
    assert "narrows it (resolved better than plain LB): LB + SAM (F1)" in text["bey_closers"]
    assert "TOST p = " in text["bey_F1_sam"]
    rows = rb.verdict_rows(t)
    assert {r["kind"] for r in rows} == {"extension"} and len(rows) == 2
    shown = rb.closing_shown(t)
    assert shown.loc[("F1", "LB (plain)"), "closes the gap"] == "does not close"


def test_reparam_summary_finds_the_alphas_where_sb_is_sharper():
    rp = pd.DataFrame([dict(net="F1", regime=k, alpha=a, train_loss=0.1, test_acc=98.0,
                            **{sharpness_col(1e-3): v}, adaptive_worst=0.01, adaptive_average=0.02)
                       for k, vals in (("SB", {0.1: 500.0, 1.0: 10.0, 10.0: 1.0}),
                                       ("LB", {0.1: 900.0, 1.0: 100.0, 10.0: 5.0}))
                       for a, v in vals.items()])
    s = rb.reparam_summary(rp).loc["F1"]
    assert s["alphas with SB sharper than LB"] == "0.1" and s["max |Δ train loss|"] == 0
    assert s["max relative change, adaptive worst"] == 0
    assert "0.1" in rb.reparam_text(rb.reparam_summary(rp))["rep_F1"]


def test_tau_table_and_strongest_measure():
    taus = pd.DataFrame([dict(net="F1", measure="lambda_1", target="test_error", tau=0.6, low=0.2, high=0.9, n=10),
                         dict(net="F1", measure="trace", target="test_error", tau=-0.1, low=-0.5, high=0.4, n=10)])
    t = rb.tau_table(taus)
    assert t.loc[("F1", "top Hessian eigenvalue"), "τ with test error"] == "+0.60 [+0.20, +0.90] (n = 10)"
    text = rb.correlation_text(taus)["corr_F1_test_error"]
    assert "top Hessian eigenvalue's, τ = +0.60" in text and text.endswith("top Hessian eigenvalue")


# --------------------------------------------------------------------------- stored-analysis keys
@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    store = Store(tmp_path_factory.mktemp("beyond"))
    run = fit(TrainConfig("F1", 50, epochs=1, train_subset=200, test_subset=100), store, progress=False)
    return store, run


def test_sharpness_reader_mirrors_run_sharpness(tiny):
    store, run = tiny
    res = stored.run_sharpness(run, (1e-3,), iters=1, subset=100, store=store)
    v = beyond_more._stored_value(store, "sharpness", beyond_more.sharpness_params(run, 1e-3, 1, 100),
                                  stored.sharpness.VERSION)
    assert v is not None and v["value"] == res[1e-3]["value"]
    assert beyond_more._stored_value(store, "sharpness", beyond_more.sharpness_params(run, 1e-3, 2, 100),
                                     stored.sharpness.VERSION) is None  # never computed by the reader


def test_adaptive_sharpness_is_invariant_under_the_reparametrization(tiny):
    store, run = tiny
    spec = BeyondSpec("F1", adaptive_iters=3, average_samples=4, adaptive_subset=64)
    x, y = stored.training_data(run, 64)
    from lbsm.analyses import reparam
    base = beyond.measure_adaptive(run.model("final").double(), x.double(), y, spec, "batch", 5000)
    scaled = beyond.measure_adaptive(reparam.rescale_before_batchnorm(run.model("final"), 4.0).double(),
                                     x.double(), y, spec, "batch", 5000)
    for k in ("adaptive_worst", "adaptive_average"):
        assert scaled[k] == pytest.approx(base[k], rel=1e-9, abs=1e-12)
    a = beyond.adaptive_values(run, spec, store)
    assert a["adaptive_worst"] == pytest.approx(base["adaptive_worst"], rel=1e-9)
    assert beyond.distance_x0(run, store) > 0


def test_chapter_is_registered():
    assert "beyond" in compute.CHAPTER_DEFS
    assert set(compute.CHAPTER_DEFS["beyond"].parts) == {"closing", "reparam", "surfaces", "noise", "correlation"}
    with pytest.raises(ValueError, match="unknown argument"):
        beyond.method_config(profiles.get("smoke"), profiles.get("smoke").beyond[0],
                             Closing("bad", "sam", {"rh": 0.1}), 0)


def test_a_twin_is_its_baselines_model_only_where_it_ended_at_the_same_minimizer():
    import types
    from lbsm.experiments.beyond import same_model

    def run(h=None, epochs=34, test=97.79, train=99.82):
        return types.SimpleNamespace(meta={"weights_sha256": h, "epochs_run": epochs},
                                     final={"test_acc": test, "train_acc": train})
    assert same_model(run("a"), run("a")) and not same_model(run("a"), run("b"))
    assert same_model(run(), run("b"))                            # no hash: the histories' ends agree
    assert not same_model(run(), run(epochs=23, test=97.87))       # stopped 11 epochs earlier
    assert not same_model(run(), run(test=97.80))


def test_the_twin_sentence_says_which_twin_is_its_baselines_model():
    import types
    from lbsm.experiments import profiles
    P = profiles.get("cpu")
    spec = P.beyond[0]
    sb, lb = P.trial(spec.net, beyond.twin_seeds(P, spec)[0])

    def run(epochs, test):
        return types.SimpleNamespace(status="done", meta={"epochs_run": epochs},
                                     final={"test_acc": test, "train_acc": 99.8})
    runs = {sb.name: run(34, 97.79), beyond.twin(sb).name: run(23, 97.87),
            lb.name: run(29, 97.94), beyond.twin(lb).name: run(29, 97.94)}
    C = types.SimpleNamespace(plan=types.SimpleNamespace(specs=[spec]), profile=P, runs=runs)
    assert rb.twin_sentence(C) == (
        "trial 0's SB twin stopped elsewhere (23 epochs, test 97.87 %; its baseline 34 epochs, "
        "test 97.79 %): another model, measured as itself, never as the baseline; trial 0's LB twin "
        "ended at its baseline's minimizer (29 epochs, test 97.94 %)")
    C.runs = {}
    assert rb.twin_sentence(C) == "no twin was trained under this profile"
