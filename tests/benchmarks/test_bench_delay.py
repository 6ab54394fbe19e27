"""Delay analysis of a run with 10 million outputs: matching each neuron's k-th spike against
the zero-latency run costs a small multiple of one sort of 10 M keys."""

import time

import numpy as np
import pytest

from hil.analysis.delay import match_outputs
from hil.events import SPIKE_DTYPE

pytestmark = pytest.mark.slow
N_OUTPUTS = 10_000_000
GROUP = "delay-10M-outputs"


@pytest.fixture(scope="module")
def outputs():
    """Device outputs 0..500 µs later than the ideal chip's, over 4 cores of 8x64x64."""
    rng = np.random.default_rng(0)
    ideal = np.empty(N_OUTPUTS, SPIKE_DTYPE)
    ideal["layer"] = rng.integers(0, 4, N_OUTPUTS)
    ideal["x"] = rng.integers(0, 64, N_OUTPUTS)
    ideal["y"] = rng.integers(0, 64, N_OUTPUTS)
    ideal["feature"] = rng.integers(0, 8, N_OUTPUTS)
    ideal["t"] = np.sort(rng.integers(0, 10_000_000, N_OUTPUTS))
    device = ideal.copy()
    device["t"] += rng.integers(0, 500, N_OUTPUTS)
    return device[np.argsort(device["t"], kind="stable")], ideal


@pytest.mark.benchmark(group=GROUP, timer=time.process_time)
def test_sort_10M_keys(benchmark, speed_ratio):
    keys = np.random.default_rng(1).integers(0, 2**40, N_OUTPUTS)
    benchmark.pedantic(lambda: np.sort(keys), rounds=3, iterations=1)
    speed_ratio.baseline(GROUP, benchmark)


@pytest.mark.benchmark(group=GROUP, timer=time.process_time)
def test_match_outputs(benchmark, outputs, speed_ratio):
    device, ideal = outputs
    delays = benchmark.pedantic(lambda: match_outputs(device, ideal), rounds=3, iterations=1)
    assert len(delays.delay_us) > 0.9 * N_OUTPUTS
    assert 0 <= np.median(delays.delay_us) < 500
    ratio = speed_ratio.ratio(GROUP, benchmark)
    if ratio is not None:
        print(
            f"\nmatch_outputs on 10 M outputs: {benchmark.stats.stats.median:.2f} s, "
            f"{ratio:.1f}x one sort of 10 M keys"
        )
        assert ratio < 100
