"""Mean, sample standard deviation and 95 % Student t interval of a metric over replicate runs.

Replicates are jobs that differ only in ``seed`` (and the backtest fold): ``seqexp.summarize`` groups a
sweep's jobs by the other overrides and describes each final metric of a group with ``describe``. The t
quantile comes from a table (1-30 degrees of freedom) and the Cornish-Fisher expansion beyond it, so
neither scipy nor numpy is needed; ``tests/test_summarize.py`` checks both against scipy.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Sequence

# Two-sided 95 %: the 0.975 quantile of Student's t for 1..30 degrees of freedom (scipy.stats.t.ppf).
T_975 = (
    12.706205,
    4.302653,
    3.182446,
    2.776445,
    2.570582,
    2.446912,
    2.364624,
    2.306004,
    2.262157,
    2.228139,
    2.200985,
    2.178813,
    2.160369,
    2.144787,
    2.131450,
    2.119905,
    2.109816,
    2.100922,
    2.093024,
    2.085963,
    2.079614,
    2.073873,
    2.068658,
    2.063899,
    2.059539,
    2.055529,
    2.051831,
    2.048407,
    2.045230,
    2.042272,
)


def t_quantile_975(degrees_of_freedom: int) -> float:
    """The 0.975 quantile of Student's t: from ``T_975`` up to 30 degrees of freedom, then the Cornish-Fisher
    expansion around the normal quantile (Abramowitz & Stegun 26.7.5; off by less than 1e-6 beyond 30)."""
    if degrees_of_freedom < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {degrees_of_freedom}")
    if degrees_of_freedom <= len(T_975):
        return T_975[degrees_of_freedom - 1]
    z, nu = statistics.NormalDist().inv_cdf(0.975), float(degrees_of_freedom)
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / nu + g2 / nu**2 + g3 / nu**3 + g4 / nu**4


@dataclass(frozen=True)
class Estimate:
    """A metric over ``n`` replicates: mean, sample standard deviation (n - 1) and the 95 % t interval of the
    mean. ``sd`` and the interval are None below two replicates, every field but ``n`` at none."""

    n: int
    mean: float | None
    sd: float | None
    low: float | None
    high: float | None


def describe(values: Sequence[float]) -> Estimate:
    """``Estimate`` of finite ``values`` (the caller leaves out and reports the missing ones)."""
    if not all(math.isfinite(value) for value in values):
        raise ValueError(f"describe() takes finite values only, got {list(values)}")
    n = len(values)
    if n == 0:
        return Estimate(0, None, None, None, None)
    mean = statistics.fmean(values)
    if n == 1:
        return Estimate(1, mean, None, None, None)
    sd = statistics.stdev(values)
    half_width = t_quantile_975(n - 1) * sd / math.sqrt(n)
    return Estimate(n, mean, sd, mean - half_width, mean + half_width)
