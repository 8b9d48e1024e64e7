"""Kendall's tau between a sharpness measure and test error (or the gap), with a bootstrap interval.

Jiang et al. 2020 ("Fantastic Generalization Measures and Where to Find Them") and Andriushchenko
et al. 2023 judge a measure by the rank correlation of its values with generalization over a set
of trained models; Kendall's tau is the fraction of concordant minus discordant pairs.

Decisions:

* tau is ``scipy.stats.kendalltau`` (the tau-b variant, which corrects for ties; its two-sided
  p-value is reported too, valid only for independent pairs);
* NaN-safe: pairs where either value is NaN or infinite are dropped before anything else (a
  measure that failed on one model does not poison the rest); with fewer than 2 pairs left, or
  all values of one side tied, tau is NaN;
* the interval is the percentile bootstrap: ``n_boot`` resamples of the pairs with replacement,
  drawn from ``numpy.random.default_rng(seed)``, tau of each, and the (1 - level)/2 and
  (1 + level)/2 quantiles of those taus (resamples whose tau is undefined, e.g. all one value,
  are left out, and their count is reported).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.stats

from ..core import validate


@dataclass
class KendallResult:
    tau: float
    low: float            # the bootstrap interval's lower end
    high: float           # and its upper end
    level: float          # e.g. 0.95
    pvalue: float         # scipy's, under independence
    n: int                # pairs used (finite on both sides)
    dropped: int          # pairs dropped for a NaN or an infinite value
    n_boot: int           # bootstrap resamples drawn
    undefined: int        # resamples whose tau was undefined (left out of the interval)

    def __str__(self) -> str:
        return (f"Kendall tau = {self.tau:.3f} [{self.low:.3f}, {self.high:.3f}] "
                f"({100 * self.level:g} % bootstrap, n = {self.n})")


def tau(a, b) -> float:
    """Kendall's tau-b of two equal-length sequences (NaN if undefined)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(scipy.stats.kendalltau(a, b).statistic)


def finite_pairs(measure, target) -> tuple[np.ndarray, np.ndarray, int]:
    """The pairs with both values finite, and how many were dropped."""
    a, b = np.asarray(measure, dtype=float).ravel(), np.asarray(target, dtype=float).ravel()
    if len(a) != len(b):
        raise ValueError(f"measure and target differ in length: {len(a)} != {len(b)}")
    keep = np.isfinite(a) & np.isfinite(b)
    return a[keep], b[keep], int((~keep).sum())


def kendall(measure, target, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> KendallResult:
    """Kendall's tau of ``measure`` against ``target`` (test error, or the generalization gap)
    over the same models, with a seeded percentile-bootstrap interval at ``level``."""
    validate.positive_int("n_boot", n_boot)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    a, b, dropped = finite_pairs(measure, target)
    n = len(a)
    if n < 2:
        nan = float("nan")
        return KendallResult(nan, nan, nan, level, nan, n, dropped, n_boot, n_boot)
    with np.errstate(invalid="ignore", divide="ignore"):
        res = scipy.stats.kendalltau(a, b)
    rng = np.random.default_rng(seed)
    boots = np.array([tau(a[i], b[i]) for i in rng.integers(0, n, size=(n_boot, n))])
    ok = boots[np.isfinite(boots)]
    if len(ok):
        low, high = np.quantile(ok, [(1 - level) / 2, (1 + level) / 2])
    else:
        low = high = float("nan")
    return KendallResult(float(res.statistic), float(low), float(high), level, float(res.pvalue), n,
                         dropped, n_boot, int(n_boot - len(ok)))
