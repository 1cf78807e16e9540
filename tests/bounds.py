"""Floors and ceilings for tests that count successes over random samples.

A test that samples n cases from a process the benchmark measured at rate p should fail only
when the rate has really dropped, not on an unlucky sample. So its floor is the count that n
draws at a true rate p stay at or above with probability >= 0.999 (1 - RISK), and its ceiling,
for a rate that must stay low, the count they stay at or below with that probability. Each test
names the benchmark rate and n it derives its bound from.
"""

from __future__ import annotations

from scipy.stats import binom

RISK = 0.001  # a healthy model fails a bounded test once in a thousand runs at most


def floor(rate: float, n: int) -> int:
    """The fewest successes out of n that a true `rate` gives with probability >= 1 - RISK."""
    return int(binom.ppf(RISK, n, rate))


def ceiling(rate: float, n: int) -> int:
    """The most events out of n that a true `rate` gives with probability >= 1 - RISK."""
    return int(binom.ppf(1 - RISK, n, rate))
