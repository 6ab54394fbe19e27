"""The emulator's queueing model: a core serves SynOps at a finite rate, FIFO."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from hil.chip.profile import load_profile
from hil.emulator import Speck
from hil.emulator.handmade import make_core, make_program
from hil.emulator.program import Destination
from hil.events import SPIKE_DTYPE

SYNOPS_PER_S = 1e5
SYNOPS_PER_EVENT = 10  # ten output channels, 1x1 kernel
SERVICE_US = SYNOPS_PER_EVENT / SYNOPS_PER_S * 1e6  # 100 µs: a budget of 10 k events/s
LATENCY_US = 1.0


def slow_chip(*extra_cores, destinations=()) -> Speck:
    """Core 0 serving 10 SynOps per event at 1e5 SynOps/s; only channel 0 ever spikes."""
    weights = np.zeros((SYNOPS_PER_EVENT, 1, 1, 1))
    weights[0] = 1
    core = make_core(0, (1, 1, 1), weights, destinations=destinations)
    profile = replace(
        load_profile("speck2f"),
        synops_per_s=(SYNOPS_PER_S,) * 9,
        pipeline_latency_us=LATENCY_US,
    )
    return Speck(make_program(core, *extra_cores), profile=profile)


def stream(times_us: np.ndarray) -> np.ndarray:
    spikes = np.zeros(len(times_us), SPIKE_DTYPE)
    spikes["t"] = np.round(times_us)
    return spikes


def test_within_budget_delay_is_service_time_plus_latency():
    inputs = stream(np.arange(200) * 200.0)  # 5 k events/s, half the budget
    out = slow_chip().run(inputs)
    np.testing.assert_array_equal(out["t"] - inputs["t"], SERVICE_US + LATENCY_US)


def test_spikes_reach_the_next_core_when_they_leave():
    relay = make_core(1, (10, 1, 1), np.eye(10).reshape(10, 10, 1, 1))
    chip = slow_chip(relay, destinations=(Destination(1, True),))
    out = chip.run(stream(np.array([0.0])))
    # core 0: 100 µs + 1 µs; core 1: one input touching 10 neurons, 100 µs + 1 µs.
    assert out["layer"].tolist() == [0, 1]
    assert out["t"].tolist() == [101, 202]


def test_burst_above_budget_builds_then_drains_the_backlog():
    budget = 1e6 / SERVICE_US  # events/s the core can serve
    burst_s, before_s, after_s = 0.1, 0.05, 0.4
    rates = [(before_s, 0.5 * budget), (burst_s, 2 * budget), (after_s, 0.5 * budget)]
    times, start = [], 0.0
    for duration, rate in rates:
        times.append(start + np.arange(int(duration * rate)) * 1e6 / rate)
        start += duration * 1e6
    inputs = stream(np.concatenate(times))
    out = slow_chip().run(inputs)
    delay = (out["t"] - inputs["t"]).astype(float)
    baseline = SERVICE_US + LATENCY_US

    # Demand 2 s of work per second against a capacity of 1: the backlog grows by
    # (2 - 1) x 0.1 s = 100 ms over the burst.
    expected_peak = (2 * budget - budget) * burst_s / budget * 1e6
    assert delay.max() == pytest.approx(expected_peak, rel=0.1)
    assert np.argmax(delay) == pytest.approx(len(times[0]) + len(times[1]), abs=2)

    # Afterwards it drains at 1 - 0.5 of capacity: gone 200 ms after the burst.
    after = inputs["t"] >= (before_s + burst_s) * 1e6
    drained_by = (before_s + burst_s + expected_peak / 1e6 / 0.5) * 1e6
    assert np.all(delay[after & (inputs["t"] > drained_by * 1.05)] == baseline)
    assert np.all(delay[after & (inputs["t"] < drained_by * 0.95)] > baseline)
    assert np.all(delay[: len(times[0])] == baseline)


def test_state_of_the_queue_persists_across_runs_and_reset_clears_it():
    chip = slow_chip()
    chip.run(stream(np.zeros(100)))  # 10 ms of work at t = 0
    late = chip.run(stream(np.array([1000.0])))
    assert late["t"][0] == 100 * SERVICE_US + SERVICE_US + LATENCY_US
    chip.reset()
    again = chip.run(stream(np.array([1000.0])))
    assert again["t"][0] == 1000 + SERVICE_US + LATENCY_US
