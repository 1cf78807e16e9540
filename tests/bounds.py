"""Floors for tests that count successes: derived from a measured rate, not set under one run.

A test that reads n drawings and expects a rate p (measured by the benchmark on far more) asserts
at least floor_count(n, p) successes: the count a true rate p stays at or above with probability
1 - MISS. A real drop of a few points fails it; a run's bad luck almost never does.
"""

from __future__ import annotations

from scipy.stats import binom

MISS = 0.001


def floor_count(n: int, rate: float, miss: float = MISS) -> int:
    """The fewest successes out of n that a true success rate `rate` gives with probability 1 - miss."""
    return int(binom.ppf(miss, n, rate))
