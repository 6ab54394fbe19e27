"""What the noise model costs: the emulator on the shipped ``noisy`` chip against the same
network on the deterministic chip, measured in the same run (``ratio_to_baseline``).

Run with ``.venv/bin/python -m pytest tests/benchmarks/test_bench_noise.py --benchmark-enable
-p no:xdist``. With noise off the compiled loop takes no noise branch, so the deterministic
chip's speed is the one ``test_bench_emulator.py`` holds to its targets.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_bench_emulator import NETWORKS, cases, emulate  # noqa: F401 (cases is a fixture)

from hil.chip.profile import PROFILE_DIR, load_profile
from hil.emulator import Speck

pytestmark = pytest.mark.slow

NOISY = load_profile("speck2f", override=PROFILE_DIR / "noisy.toml")


@pytest.mark.parametrize("name", NETWORKS)
def test_deterministic_chip(benchmark, speed_ratio, cases, name):  # noqa: F811
    benchmark.group = f"noise-{name}"
    benchmark.pedantic(emulate, args=(cases[name],), rounds=5, warmup_rounds=1)
    speed_ratio.baseline(benchmark.group, benchmark)


@pytest.mark.parametrize("name", NETWORKS)
def test_noisy_chip(benchmark, speed_ratio, cases, name):  # noqa: F811
    case = cases[name]
    noisy = replace(case, chip=Speck(case.chip.program, profile=NOISY))
    benchmark.group = f"noise-{name}"
    out = benchmark.pedantic(emulate, args=(noisy,), rounds=5, warmup_rounds=1)
    assert len(out) > 0
    ratio = speed_ratio.ratio(benchmark.group, benchmark)
    if ratio is not None:
        assert ratio < 3  # noise may cost, within reason: a noisy replay stays quick
