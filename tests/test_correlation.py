"""lbsm.analyses.correlation: Kendall's tau with a seeded percentile-bootstrap interval."""
import math

import numpy as np
import pytest
import scipy.stats

from lbsm.analyses.correlation import kendall


def noisy(n, seed, noise=1.0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(n)
    return a, a + noise * rng.standard_normal(n)


def test_equals_scipy():
    a, b = noisy(30, 0)
    res = kendall(a, b, n_boot=200)
    ref = scipy.stats.kendalltau(a, b)
    assert res.tau == ref.statistic and res.pvalue == ref.pvalue
    assert (res.n, res.dropped, res.undefined, res.n_boot, res.level) == (30, 0, 0, 200, 0.95)
    # ties: scipy's tau-b, as given
    t = [1, 1, 2, 3, 3, 4]
    assert kendall(t, [2, 1, 2, 5, 4, 4], n_boot=50).tau == scipy.stats.kendalltau(t, [2, 1, 2, 5, 4, 4]).statistic


def test_monotone_and_reversed():
    a = np.arange(12.0)
    up, down = kendall(a, a ** 3 + 1, n_boot=100), kendall(a, -np.exp(a), n_boot=100)
    # scipy's tau-b divides by sqrt of products of pair counts: 1 to the last bit or two
    assert [up.tau, up.low, up.high] == pytest.approx([1.0, 1.0, 1.0], abs=1e-12)
    assert [down.tau, down.low, down.high] == pytest.approx([-1.0, -1.0, -1.0], abs=1e-12)


def test_interval_contains_tau_and_narrows_with_more_data():
    widths = []
    for n in (20, 80, 320):
        res = kendall(*noisy(n, 1), n_boot=500, seed=0)
        assert res.low <= res.tau <= res.high
        assert -1 <= res.low < res.high <= 1
        widths.append(res.high - res.low)
    assert widths[0] > widths[1] > widths[2]
    assert widths[0] > 1.5 * widths[2]  # a 16-fold sample: ~4x narrower in theory, 1.5x asserted


def test_deterministic_per_seed():
    a, b = noisy(25, 2)
    r1, r2, r3 = kendall(a, b, seed=7, n_boot=300), kendall(a, b, seed=7, n_boot=300), kendall(a, b, seed=8, n_boot=300)
    assert r1 == r2
    assert (r1.low, r1.high) != (r3.low, r3.high) and r1.tau == r3.tau


def test_nan_safe():
    a, b = noisy(20, 3)
    a2, b2 = a.copy(), b.copy()
    a2[[2, 5]] = np.nan
    b2[7] = np.inf
    res = kendall(a2, b2, n_boot=200, seed=1)
    keep = np.ones(20, bool)
    keep[[2, 5, 7]] = False
    assert res.dropped == 3 and res.n == 17
    assert res.tau == scipy.stats.kendalltau(a[keep], b[keep]).statistic
    clean = kendall(a[keep], b[keep], n_boot=200, seed=1)  # dropping first: the same resamples
    assert (res.tau, res.low, res.high, res.pvalue) == (clean.tau, clean.low, clean.high, clean.pvalue)
    # too few pairs, or one side constant: NaN, no exception
    few = kendall([1.0, np.nan], [2.0, 3.0], n_boot=10)
    assert math.isnan(few.tau) and math.isnan(few.low) and few.n == 1
    flat = kendall([1.0, 1.0, 1.0], [1.0, 2.0, 3.0], n_boot=10)
    assert math.isnan(flat.tau) and math.isnan(flat.low) and flat.undefined == 10
    with pytest.raises(ValueError, match="length"):
        kendall([1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="level"):
        kendall([1, 2], [1, 2], level=1.0)
