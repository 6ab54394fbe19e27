"""SynOps counted per period as the cores serve them: what the emulated power monitor samples,
counted in the same pass that computes the outputs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from hil.chip.profile import PROFILE_DIR, load_profile
from hil.emulator import Speck
from hil.emulator.handmade import make_core, make_program
from hil.events import SPIKE_DTYPE

PERIOD_US = 1000.0
SYNOPS_PER_EVENT = 10  # ten output channels, 1x1 kernel: 100 µs per event at 1e5 SynOps/s


def slow_chip() -> Speck:
    """Core 0 serving 10 SynOps per event at 1e5 SynOps/s (100 SynOps per period)."""
    weights = np.zeros((SYNOPS_PER_EVENT, 1, 1, 1))
    weights[0] = 1
    profile = replace(load_profile("speck2f"), synops_per_s=(1e5,) * 9)
    return Speck(make_program(make_core(0, (1, 1, 1), weights)), profile=profile)


def stream(times_us) -> np.ndarray:
    spikes = np.zeros(len(times_us), SPIKE_DTYPE)
    spikes["t"] = times_us
    return spikes


def test_work_is_counted_in_the_periods_it_is_served_split_at_their_bounds():
    chip = slow_chip()
    chip.count_served_per_period(PERIOD_US)
    # Served 0-100, 100-200, 200-300 µs; the last from 950 to 1050 µs, half in each period.
    chip.run(stream([0, 10, 20, 950]))
    first, served = chip.take_served_per_period()
    assert (first, len(served)) == (0, 0)  # no period has passed yet: work may still come
    chip.run(stream([]), until=2500)
    first, served = chip.take_served_per_period()
    assert first == 0 and served.shape == (2, 9)
    assert served[:, 0] == pytest.approx([35, 5])
    assert not served[:, 1:].any()
    assert chip.take_served_per_period()[0] == 2 and not len(chip.take_served_per_period()[1])


def test_an_overloaded_core_is_counted_at_its_rate_not_when_work_arrives():
    chip = slow_chip()
    chip.count_served_per_period(PERIOD_US)
    chip.run(stream(np.zeros(1000)))  # 100 ms of work arriving at once; more periods than
    chip.run(stream([]), until=150_000)  # the first buffer holds
    first, served = chip.take_served_per_period()
    assert first == 0 and len(served) == 150
    assert served[:100, 0] == pytest.approx(np.full(100, 100.0))
    assert not served[100:].any()
    assert served.sum() == pytest.approx(chip.synops_served.sum())


def test_counting_starts_at_the_period_of_the_chip_time_and_restarts_after_reset():
    chip = slow_chip()
    chip.run(stream([0, 2500]))
    chip.count_served_per_period(PERIOD_US)
    chip.run(stream([3100]), until=4000)
    first, served = chip.take_served_per_period()
    assert first == 2 and served[:, 0] == pytest.approx([0, 10])
    chip.reset()
    chip.run(stream([100]), until=1000)
    first, served = chip.take_served_per_period()
    assert first == 0 and served[:, 0] == pytest.approx([10])


def test_counting_changes_no_output_of_a_noisy_chip():
    rng = np.random.default_rng(3)
    weights = rng.integers(-2, 6, (4, 2, 3, 3))
    program = make_program(make_core(0, (2, 8, 8), weights, threshold_high=6, threshold_low=-8))
    profile = load_profile("speck2f", override=PROFILE_DIR / "noisy.toml")
    inputs = np.zeros(3000, SPIKE_DTYPE)
    inputs["feature"] = rng.integers(0, 2, len(inputs))
    inputs["y"], inputs["x"] = rng.integers(0, 8, (2, len(inputs)))
    inputs["t"] = np.sort(rng.integers(0, 30_000, len(inputs)))
    plain, counted = Speck(program, profile, seed=7), Speck(program, profile, seed=7)
    counted.count_served_per_period(PERIOD_US)
    expected = plain.run(inputs)
    assert len(expected) > 100  # the noise and the network both act
    assert np.array_equal(counted.run(inputs), expected)
    assert np.array_equal(counted.neuron_states(0), plain.neuron_states(0))
    counted.run(inputs[:0], until=40_000)
    assert counted.take_served_per_period()[1].sum() == pytest.approx(plain.synops_served.sum())


def test_reading_counts_never_started_or_a_bad_period_is_refused():
    chip = slow_chip()
    with pytest.raises(RuntimeError, match="count_served_per_period"):
        chip.take_served_per_period()
    with pytest.raises(ValueError, match="positive"):
        chip.count_served_per_period(0)
    chip.count_served_per_period(PERIOD_US)
    chip.count_served_per_period(None)
    with pytest.raises(RuntimeError):
        chip.take_served_per_period()
