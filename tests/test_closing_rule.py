"""The equivalence test behind "closes the gap" (lbsm.report.closing_rule), against known answers."""
import math

import numpy as np
import pytest
import scipy.stats

from lbsm.report.verdicts import Paired


def test_tost_is_the_larger_one_sided_p_value():
    v = [0.05, -0.02, 0.03, 0.01, 0.04]
    P, m = Paired.of(v), 0.1
    se = np.std(v, ddof=1) / math.sqrt(5)
    lower = scipy.stats.ttest_1samp(v, -m, alternative="greater").pvalue   # H0: mean <= -m
    upper = scipy.stats.ttest_1samp(v, m, alternative="less").pvalue      # H0: mean >= m
    assert P.tost(m) == pytest.approx(max(lower, upper))
    assert P.tost(m) == pytest.approx(scipy.stats.t.cdf((np.mean(v) - m) / se, 4))


def test_tost_agrees_with_the_90_percent_interval_inside_the_margin():
    rng = np.random.default_rng(0)
    for _ in range(500):
        P = Paired.of(rng.normal(rng.normal(0, 0.2), rng.uniform(0.05, 0.4), size=rng.integers(3, 20)))
        m = rng.uniform(0.05, 0.5)
        lo, hi = P.ci(0.90)
        assert (P.tost(m) < 0.05) == (-m < lo and hi < m)


def test_tost_undefined_cases():
    assert math.isnan(Paired.of([0.1]).tost(0.1))          # one value: no sd
    assert math.isnan(Paired.of([0.1, 0.2]).tost(0.0))     # no margin
    assert Paired.of([0.01, 0.01, 0.01]).tost(0.1) == 0.0  # identical values inside the margin
    assert Paired.of([0.5, 0.5, 0.5]).tost(0.1) == 1.0     # ... outside it
