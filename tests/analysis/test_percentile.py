"""One percentile definition: nearest rank, as numpy's inverted_cdf, exact where floating point is not."""

from __future__ import annotations

import numpy as np
import pytest

from pulltheplug.analysis.latency import percentiles
from pulltheplug.analysis.percentile import nearest_rank, rank


def test_the_99th_of_100_values_is_the_99th() -> None:
    assert rank(100, 99) == 98
    assert rank(1, 50) == 0 and rank(4, 50) == 1 and rank(4, 100) == 3


@pytest.mark.parametrize("n", [1, 2, 7, 100, 1000, 12345])
def test_nearest_rank_is_numpys_inverted_cdf(n: int) -> None:
    values = np.sort(np.random.default_rng(n).exponential(5.0, n))
    for p in (1, 25, 50, 75, 100):  # products numpy's float rank gets exactly
        assert nearest_rank(values.tolist(), p) == np.percentile(values, p, method="inverted_cdf"), p


def test_where_numpys_float_rank_overshoots_the_exact_rank_holds() -> None:
    values = list(range(1000))
    assert nearest_rank(values, 99.9) == 998  # 999 of 1000 values at or below it
    assert np.percentile(values, 99.9, method="inverted_cdf") == 999  # 0.999 * 1000 = 999.0000000000001


def test_latency_percentiles_are_exact_to_the_microsecond() -> None:
    seconds = np.random.default_rng(7).exponential(0.02, 5000)
    got = percentiles(seconds.tolist())
    assert got is not None and got.count == 5000
    micros = np.round(seconds * 1e6)
    for p, value in ((50, got.p50_ms), (90, got.p90_ms), (99, got.p99_ms)):
        assert value == np.percentile(micros, p, method="inverted_cdf") / 1000.0
