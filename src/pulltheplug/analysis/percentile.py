"""One percentile definition for every figure (the summary, the report's timeline, the live page): nearest rank.

The p-th percentile of n values is the smallest value with at least p% of them at or below it (numpy's
`inverted_cdf`): always a value that occurred, never an interpolation. The rank is computed exactly, where numpy's
float rank can overshoot by one: the 99.9th percentile of 1,000 values is the 999th (0.999 * 1000 is
999.0000000000001 in floating point, which numpy rounds up to the 1,000th).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction


def rank(n: int, p: float) -> int:
    """The 0-based index of the p-th percentile among n sorted values (n >= 1)."""
    return max(math.ceil(Fraction(str(p)) * n / 100) - 1, 0)


def nearest_rank(sorted_values: Sequence[float], p: float) -> float:
    """The p-th percentile of values already sorted."""
    return sorted_values[rank(len(sorted_values), p)]
