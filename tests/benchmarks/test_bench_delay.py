"""Delay analysis of a run with 10 million outputs: matching each neuron's k-th spike against
the zero-latency run costs a small multiple of one sort of 10 M keys."""

import time

import numpy as np
import pytest

from hil.analysis.delay import match_outputs
from hil.events import SPIKE_DTYPE

pytestmark = pytest.mark.slow
GROUP = "delay-10M-outputs"


@pytest.fixture(scope="module")
def n_outputs(bench_size) -> int:
    return bench_size(10_000_000, 500_000)


@pytest.fixture(scope="module")
def outputs(n_outputs):
    """Device outputs 0..500 µs later than the ideal chip's, over 4 cores of 8x64x64."""
    n = n_outputs
    rng = np.random.default_rng(0)
    ideal = np.empty(n, SPIKE_DTYPE)
    ideal["layer"] = rng.integers(0, 4, n)
    ideal["x"] = rng.integers(0, 64, n)
    ideal["y"] = rng.integers(0, 64, n)
    ideal["feature"] = rng.integers(0, 8, n)
    ideal["t"] = np.sort(rng.integers(0, 10_000_000, n))
    device = ideal.copy()
    device["t"] += rng.integers(0, 500, n)
    return device[np.argsort(device["t"], kind="stable")], ideal


@pytest.mark.benchmark(group=GROUP, timer=time.process_time)
def test_sort_10M_keys(benchmark, speed_ratio, n_outputs):
    keys = np.random.default_rng(1).integers(0, 2**40, n_outputs)
    benchmark.pedantic(lambda: np.sort(keys), rounds=3, iterations=1)
    speed_ratio.baseline(GROUP, benchmark)


@pytest.mark.benchmark(group=GROUP, timer=time.process_time)
def test_match_outputs(benchmark, outputs, speed_ratio):
    device, ideal = outputs
    delays = benchmark.pedantic(lambda: match_outputs(device, ideal), rounds=3, iterations=1)
    assert len(delays.delay_us) > 0.9 * len(ideal)
    assert 0 <= np.median(delays.delay_us) < 500
    ratio = speed_ratio.ratio(GROUP, benchmark)
    if ratio is not None:
        print(
            f"\nmatch_outputs on 10 M outputs: {benchmark.stats.stats.median:.2f} s, "
            f"{ratio:.1f}x one sort of 10 M keys"
        )
        assert ratio < 100
