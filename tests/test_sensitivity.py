"""The sensitivity study: its runs, its summary and the closing table (known answers)."""
import math

import pandas as pd
import pytest

from lbsm.pipeline import compute
from lbsm.experiments import parameters
from lbsm.experiments import sensitivity


def test_study_retrains_only_the_stop_and_precision_variants():
    P = parameters.override("cpu")
    cfgs = sensitivity.configs(P)
    sb, lb = sensitivity.baseline_trial(P)
    k = P.sensitivity.precision_seeds
    assert cfgs[:2] == [sb, lb]  # the gap chapter's first trial ...
    assert cfgs[:2 * k] == [c for s in P.net("F1").seeds[:k] for c in P.trial("F1", s)]  # ... and next
    variants = {(c.stop, c.epochs, c.precision, c.batch_size, c.seed) for c in cfgs[2 * k:]}
    assert {v[:4] for v in variants if v[0] == "epochs"} == {("epochs", 15, "fp32", 256),
                                                               ("epochs", 30, "fp32", 6000)}
    assert {(v[2], v[3], v[4]) for v in variants if v[0] == "plateau"} == {
        ("bf16", b, s) for b in (256, 6000) for s in range(k)}
    assert set(compute.graph("sensitivity", P)[0]) == {f"F1-{c.key}" for c in cfgs}
    assert sensitivity.configs(parameters.override("paper")) == []


def test_distance_in_decades():
    assert sensitivity.distance(1.23, 205.14, 1.23, 205.14) == 0
    assert sensitivity.distance(12.3, 20.514, 1.23, 205.14) == pytest.approx(2.0)
    assert sensitivity.distance(0.0, 1.0, 1.0, 1.0) == math.inf


def frame():
    rows = []
    for choice, setting, base, sb, lb in [("start", "sign", True, 12.3, 2051.4), ("start", "zero", False, 1.23, 205.14),
                                          ("iters", "10", True, 12.3, 2051.4), ("iters", "30", False, 123.0, 2051.4)]:
        for regime, v in (("SB", sb), ("LB", lb)):
            rows.append(dict(choice=choice, setting=setting, baseline=base, regime=regime, sharpness=v,
                             test_acc=98.0 if regime == "SB" else 97.5, seed=0, iterations=10))
    df = pd.DataFrame(rows)
    df.attrs.update(net="F1", eps=1e-3, seed=0)
    return df


def test_closing_ranks_the_choice_that_moves_table3_most():
    summ = sensitivity.summary(frame())
    assert summ.attrs["paper_sb"] == pytest.approx(1.23)
    close = sensitivity.closing(summ)
    assert list(close.index) == ["L-BFGS-B start", "L-BFGS-B iterations"]
    assert close.iloc[0]["moves toward the paper (decades)"] == pytest.approx(2.0)
    assert close.iloc[0]["closest setting"] == "zero"
    assert close.iloc[1]["moves toward the paper (decades)"] == 0  # the baseline is the closest
    from lbsm.report import study
    assert "is the L-BFGS-B start: from sign" in study.sensitivity_text(summ, close)["sens_sentence"]
