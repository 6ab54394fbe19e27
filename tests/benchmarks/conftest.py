"""Benchmarks report their speed as a ratio against a baseline measured in the same run.

A baseline test calls ``speed_ratio.baseline(group, benchmark)`` after benchmarking; the test
it is compared with calls ``speed_ratio.ratio(group, benchmark)``, which stores
``ratio_to_baseline`` (median time over the baseline's median) in the benchmark's extra info
and returns it, or None when benchmarks are disabled or the baseline did not run.

Where a goal is asserted on a machine other jobs share, the load can change between two
tests; ``paired_baseline(function)`` then times the baseline right before each round of the
benchmark (as pedantic's ``setup``), so both see the same load, and its ``ratio`` is the
median of the rounds' ratios.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import pytest


class SpeedRatios:
    def __init__(self) -> None:
        self._baselines: dict[str, float] = {}

    def baseline(self, group: str, benchmark) -> None:
        if benchmark.stats is not None:
            self._baselines[group] = benchmark.stats.stats.median

    def baseline_s(self, group: str) -> float | None:
        """The baseline's median time, if it ran."""
        return self._baselines.get(group)

    def ratio(self, group: str, benchmark) -> float | None:
        if benchmark.stats is None or group not in self._baselines:
            return None
        ratio = benchmark.stats.stats.median / self._baselines[group]
        benchmark.extra_info["ratio_to_baseline"] = round(ratio, 3)
        return ratio


@pytest.fixture(scope="session")
def speed_ratio() -> SpeedRatios:
    return SpeedRatios()


@pytest.fixture(scope="session")
def bench_size(pytestconfig: pytest.Config) -> Callable[[int, int], int]:
    """``bench_size(timed, untimed)``: the workload size for a benchmark that is timed, and a
    small one for the single untimed run ``make test`` makes (it checks the result only, and
    the suite has a time budget). pytest-benchmark disables timing under xdist too."""
    session = getattr(pytestconfig, "_benchmarksession", None)
    timed = session is not None and not session.disabled
    return lambda full, small: full if timed else small


class PairedBaseline:
    """A baseline timed (process CPU time) right before each round of a benchmark: pass it as
    ``benchmark.pedantic(..., setup=paired)``."""

    def __init__(self, baseline: Callable[[], object]) -> None:
        self._baseline = baseline
        self.times: list[float] = []

    def __call__(self) -> None:
        start = time.process_time()
        self._baseline()
        self.times.append(time.process_time() - start)

    def ratio(self, benchmark) -> float | None:
        """Median over the timed rounds of round time / its baseline's time (the warm-up
        rounds' baselines come first and are left out), stored in the extra info."""
        if benchmark.stats is None:
            return None
        rounds = np.asarray(benchmark.stats.stats.data)
        baselines = np.asarray(self.times[-len(rounds) :])
        ratio = float(np.median(rounds / baselines))
        benchmark.extra_info["paired_baseline_median_s"] = float(np.median(baselines))
        benchmark.extra_info["paired_ratio"] = round(ratio, 3)
        return ratio


@pytest.fixture
def paired_baseline() -> Callable[[Callable[[], object]], PairedBaseline]:
    return PairedBaseline
