"""The noise model (``[noise]``): each kind of noise does what it says, it is seeded, it is
off by default, and a bad value is refused with one line naming the field."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from hil.chip.profile import PROFILE_DIR, NoiseModel, ProfileError, load_profile
from hil.emulator import Speck
from hil.emulator.handmade import make_core, make_program
from hil.emulator.program import Destination
from hil.events import SPIKE_DTYPE

N = 10_000
SIZE = 8


def profile(**noise) -> object:
    return replace(load_profile("speck2f"), noise=NoiseModel(**noise))


def identity(index=0, threshold=1, channels=1, weight=1, **fields):
    """A 1x1 kernel of ``weight`` per output channel over an 8x8 map."""
    weights = np.full((channels, 1, 1, 1), weight)
    return make_core(index, (1, SIZE, SIZE), weights, threshold_high=threshold, **fields)


def stream(n=N, spacing_us=1, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    spikes = np.zeros(n, SPIKE_DTYPE)
    spikes["x"] = rng.integers(0, SIZE, n)
    spikes["y"] = rng.integers(0, SIZE, n)
    spikes["t"] = np.arange(n) * spacing_us
    return spikes


def run(program, timing=False, seed=None, inputs=None, **noise) -> np.ndarray:
    chip = Speck(program, profile=profile(**noise), seed=seed, timing=timing)
    return chip.run(stream() if inputs is None else inputs)


def binomial_bounds(n: int, p: float) -> tuple[float, float]:
    """n·p ± 5 standard deviations: a seeded test far from flaky, still sharp."""
    sigma = (n * p * (1 - p)) ** 0.5
    return n * p - 5 * sigma, n * p + 5 * sigma


def test_off_by_default_and_then_deterministic():
    noise = load_profile("speck2f").noise
    assert noise == NoiseModel() and not noise.enabled
    program = make_program(identity())
    first, second = run(program, seed=1), run(program, seed=2)
    np.testing.assert_array_equal(first, second)
    assert len(first) == N


def test_input_loss_loses_input_events():
    low, high = binomial_bounds(N, 0.7)
    assert low < len(run(make_program(identity()), input_loss=0.3)) < high
    assert len(run(make_program(identity()), input_loss=1.0)) == 0


def test_spike_loss_loses_a_spike_everywhere_after_the_core():
    chain = make_program(
        identity(destinations=(Destination(1, enable=True),)),
        identity(1),
    )
    out = run(chain, spike_loss=0.5)
    first, second = (int((out["layer"] == core).sum()) for core in (0, 1))
    assert binomial_bounds(N, 0.5)[0] < first < binomial_bounds(N, 0.5)[1]
    # Core 1 only sees what core 0 did not lose, and loses half of its own.
    assert binomial_bounds(first, 0.5)[0] < second < binomial_bounds(first, 0.5)[1]


def test_spurious_spikes_come_from_random_neurons_at_a_served_events_time():
    silent = identity(channels=4, weight=0)
    inputs = stream(spacing_us=3)
    out = run(make_program(silent), inputs=inputs, spurious_spikes=0.2)
    assert binomial_bounds(N, 0.2)[0] < len(out) < binomial_bounds(N, 0.2)[1]
    assert np.isin(out["t"], inputs["t"]).all()
    neurons = {tuple(row) for row in out[["feature", "y", "x"]].tolist()}
    assert len(neurons) > 200  # of 256
    assert len(run(make_program(silent), inputs=inputs)) == 0


def test_jitter_stamps_outputs_late_by_up_to_jitter_us():
    inputs = stream(spacing_us=1_000)
    out = run(make_program(identity()), inputs=inputs, jitter_us=50.0)
    late = out["t"].astype(np.int64) - inputs["t"].astype(np.int64)
    assert late.min() >= 0 and late.max() <= 50
    assert late.std() > 10
    assert (np.diff(out["t"].astype(np.int64)) >= 0).all()
    exact = run(make_program(identity()), inputs=inputs)
    np.testing.assert_array_equal(exact["t"], inputs["t"])


def test_a_stochastic_core_misaddresses_spikes_and_keeps_their_count():
    """100 inputs per neuron of weight 1 against threshold 10: 10 spikes each on an ideal
    chip; misaddressed spikes spread the counts over the map, the total stays."""
    inputs = stream(n=6_400)
    inputs["x"], inputs["y"] = np.arange(6_400) % SIZE, np.arange(6_400) // SIZE % SIZE
    program = make_program(identity(threshold=10))
    assert set(_counts(run(program, inputs=inputs))) == {10}
    noisy = _counts(run(program, inputs=inputs, stochastic_cores=(0,), misaddressed_spikes=0.5))
    assert noisy.sum() == 640
    assert noisy.std() > 1.0
    # Listed as stochastic only matters for the listed cores.
    other = run(program, inputs=inputs, stochastic_cores=(1,), misaddressed_spikes=0.5)
    assert set(_counts(other)) == {10}


def _counts(out: np.ndarray) -> np.ndarray:
    return np.bincount(out["y"].astype(np.int64) * SIZE + out["x"], minlength=SIZE * SIZE)


def test_a_stochastic_core_routes_the_spikes_of_one_event_in_random_order():
    eight = identity(channels=8)
    inputs = stream(n=200)
    ordered = run(make_program(eight), inputs=inputs)
    assert (ordered["feature"].reshape(-1, 8) == np.arange(8)).all()
    shuffled = run(make_program(eight), inputs=inputs, stochastic_cores=(0,))
    per_event = shuffled["feature"].reshape(-1, 8)
    assert (np.sort(per_event, axis=1) == np.arange(8)).all()
    assert (per_event != np.arange(8)).any(axis=1).mean() > 0.9


NOISY = {
    "input_loss": 0.1,
    "spike_loss": 0.1,
    "spurious_spikes": 0.05,
    "jitter_us": 20.0,
    "stochastic_cores": (0, 1),
    "misaddressed_spikes": 0.5,
}


def test_seeded_same_seed_same_output():
    chain = make_program(
        identity(threshold=3, destinations=(Destination(1, enable=True),)),
        identity(1, threshold=2),
    )
    first = run(chain, timing=True, seed=5, **NOISY)
    np.testing.assert_array_equal(first, run(chain, timing=True, seed=5, **NOISY))
    assert not np.array_equal(first, run(chain, timing=True, seed=6, **NOISY))
    from_profile = Speck(chain, profile=profile(seed=5, **NOISY)).run(stream())
    np.testing.assert_array_equal(first, from_profile)


def test_the_noise_stream_goes_on_across_runs_and_resets():
    chip = Speck(make_program(identity()), profile=profile(input_loss=0.5), timing=False)
    first = chip.run(stream())
    chip.reset()
    assert not np.array_equal(first, chip.run(stream()))


def test_the_shipped_noisy_profile_is_valid_and_noisy():
    noisy = load_profile("speck2f", override=PROFILE_DIR / "noisy.toml").noise
    assert noisy.enabled
    assert noisy.stochastic_cores == (0, 1)
    assert 0 < noisy.input_loss < 0.05 and 0 < noisy.spike_loss < 0.05


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("input_loss = 1.5", "noise.input_loss is a probability, in [0, 1]; got 1.5"),
        ("spike_loss = -0.1", "noise.spike_loss is a probability, in [0, 1]; got -0.1"),
        ("spurious_spikes = 'often'", "noise.spurious_spikes is a probability per served event"),
        ("jitter_us = -1", "noise.jitter_us is µs, in [0, inf]; got -1"),
        ("jitter_us = inf", "noise.jitter_us is µs, in [0, inf]; got inf"),
        ("misaddressed_spikes = 2", "noise.misaddressed_spikes is a probability, in [0, 1]"),
        ("stochastic_cores = [0, 9]", "noise.stochastic_cores: no core 9 (cores are 0..8)"),
        ("stochastic_cores = [0.5]", "noise.stochastic_cores must be a list of core indices"),
        ("stochastic_cores = 1", "noise.stochastic_cores must be a list of core indices"),
        ("seed = -3", "noise.seed must be a non-negative integer; got -3"),
        ("seed = true", "noise.seed must be a non-negative integer; got True"),
        ("dropout = 0.1", "noise.dropout is not a noise field (known: "),
    ],
)
def test_a_bad_noise_value_is_one_line_naming_the_field(line, problem, tmp_path):
    path = tmp_path / "lab.toml"
    path.write_text(f"[noise]\n{line}\n")
    with pytest.raises(ProfileError) as caught:
        load_profile("speck2f", override=path)
    message = str(caught.value)
    assert message.startswith(f"{load_profile('speck2f').source} + {path}: ")
    assert problem in message
    assert "\n" not in message


def test_noise_that_is_not_a_table_is_refused(tmp_path):
    path = tmp_path / "lab.toml"
    path.write_text("noise = 0.1\n")
    with pytest.raises(ProfileError, match=r"\[noise\] must be a table"):
        load_profile("speck2f", override=path)
