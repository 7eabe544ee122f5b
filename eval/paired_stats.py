"""Intervals and paired tests for accuracies on the same problems (stdlib only).

Hand-written because the formulas are short and exact, and the project does not otherwise need scipy/statsmodels:
- Wilson score interval for one proportion (Wilson 1927).
- Exact McNemar test: two-sided binomial test on the discordant pairs (McNemar 1947; the exact form as in
  statsmodels' `mcnemar(exact=True)`).
- Interval for a paired difference of proportions: Newcombe's hybrid score interval, his method 10
  (Newcombe 1998, Statistics in Medicine 17:2635), which stays inside [-1, 1] and behaves at small counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """95% Wilson score interval for successes / n."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value; b = pairs only the first arm got right, c = only the second."""
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


@dataclass(frozen=True)
class PairedDifference:
    """Accuracy of arm A minus arm B on the same problems, with Newcombe's interval and McNemar's p."""

    n: int
    both: int
    only_a: int
    only_b: int
    neither: int
    difference: float
    low: float
    high: float
    p_value: float


def paired_difference(a: list[bool], b: list[bool], z: float = Z95) -> PairedDifference:
    """Compare two arms' per-problem correctness (same problems, same order)."""
    if len(a) != len(b):
        raise ValueError(f"paired arms need the same problems: {len(a)} vs {len(b)}")
    n = len(a)
    both = sum(x and y for x, y in zip(a, b))
    only_a = sum(x and not y for x, y in zip(a, b))
    only_b = sum(y and not x for x, y in zip(a, b))
    neither = n - both - only_a - only_b
    if n == 0:
        return PairedDifference(0, 0, 0, 0, 0, 0.0, -1.0, 1.0, 1.0)
    p1, p2 = (both + only_a) / n, (both + only_b) / n
    l1, u1 = wilson(both + only_a, n, z)
    l2, u2 = wilson(both + only_b, n, z)
    # Correlation term of method 10: phi from the 2x2 table, zero when a margin is empty.
    margins = (both + only_a) * (only_b + neither) * (both + only_b) * (only_a + neither)
    phi = (both * neither - only_a * only_b) / math.sqrt(margins) if margins else 0.0
    delta = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    epsilon = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    difference = p1 - p2
    return PairedDifference(n, both, only_a, only_b, neither, difference,
                            max(-1.0, difference - delta), min(1.0, difference + epsilon),
                            mcnemar_exact(only_a, only_b))
