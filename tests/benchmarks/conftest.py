"""Benchmarks report their speed as a ratio against a baseline measured in the same run.

A baseline test calls ``speed_ratio.baseline(group, benchmark)`` after benchmarking; the test
it is compared with calls ``speed_ratio.ratio(group, benchmark)``, which stores
``ratio_to_baseline`` (median time over the baseline's median) in the benchmark's extra info
and returns it, or None when benchmarks are disabled or the baseline did not run.
"""

from __future__ import annotations

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
