"""Calibration finds what the emulated chip really is, not what the harness believes."""

import sys

import numpy as np
import pytest
import tomli_w

from hil.backends import open_device
from hil.calibration import search as calibration
from hil.calibration.profile import write_profile
from hil.calibration.search import (
    SYNOPS_PER_EVENT,
    CalibrationError,
    calibrate,
    calibration_network,
    regular_stream,
)
from hil.chip.profile import PROFILE_DIR, load_profile
from hil.emulator import Speck
from hil.emulator.devkit import FaultPlan
from hil.emulator.samna import device as emulated_devices
from hil.events import SPIKE_DTYPE

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

BUDGETS = (6e7, 2e7, 9e7, 3e7, 1e8, 4e7, 8e7, 5.5e7, 7e7)
IDLE_W = (2.0e-4, 1.0e-4, 3.0e-4, 5.0e-5, 4.0e-5)
ENERGY_J = (1.0e-11, 1.5e-11, 2.0e-11, 2.5e-11, 3.0e-11, 1.2e-11, 1.8e-11, 2.2e-11, 2.8e-11)


@pytest.fixture(autouse=True)
def one_board():
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])


def truth(budgets=BUDGETS, latency_us=12.0, idle_w=IDLE_W, energy_j=ENERGY_J, noisy=True):
    """An emulated chip unlike the shipped profile (which says 5e7 on every core), with the
    shipped noisy model unless ``noisy`` is false: a HIL_SIM_PROFILE file's tables."""
    tables = {
        "timing": {"synops_per_s": list(budgets), "pipeline_latency_us": latency_us},
        "power": {"idle_w": list(idle_w), "energy_per_synop_j": list(energy_j)},
    }
    tables["power"]["sample_noise_w"] = 5e-6
    tables["power"]["offset_w"] = [0.0] * len(idle_w)  # the monitor reads the rails as drawn
    if noisy:
        with (PROFILE_DIR / "noisy.toml").open("rb") as f:
            tables["noise"] = tomllib.load(f)["noise"]
    return tables


@pytest.fixture
def calibrate_truth(tmp_path, monkeypatch):
    """Calibrate the emulated devkit with a truth hidden from the harness (HIL_SIM_PROFILE);
    returns the result and the profile the harness believed."""

    def run(tables, cores=None, **options):
        path = tmp_path / "truth.toml"
        path.write_text(tomli_w.dumps(tables))
        monkeypatch.setenv("HIL_SIM_PROFILE", str(path))
        with open_device("sim") as device:
            return calibrate(device, cores, **options), device.profile

    return run


def test_each_input_event_costs_the_stated_synops_and_makes_one_spike():
    with open_device("sim") as device:
        deployment = device.deploy(
            calibration_network(), (1, 16, 16), reset="zero", layer2core_map={0: 5}
        )
    chip = Speck(deployment.mapping.config, "speck2f", timing=False)
    events = regular_stream(10_000, 0.05)
    spikes = np.zeros(len(events), SPIKE_DTYPE)
    spikes["layer"], spikes["x"], spikes["y"], spikes["t"] = (
        5,
        events["x"],
        events["y"],
        events["t"],
    )
    outputs = chip.run(spikes)
    assert chip.synops_served[5] == SYNOPS_PER_EVENT * len(events)
    assert chip.synops_served.sum() == chip.synops_served[5]  # no other core is loaded
    assert len(outputs) == len(events)
    assert np.array_equal(outputs["x"], events["x"]) and np.all(outputs["feature"] == 0)


@pytest.mark.slow
def test_recovers_nine_different_budgets_latency_and_power_on_a_noisy_chip(calibrate_truth):
    result, belief = calibrate_truth(truth())
    assert belief.synops_per_s == (5e7,) * 9  # the harness's own profile is untouched
    assert not result.partial and sorted(result.cores) == list(range(9))
    for core, budget in enumerate(BUDGETS):
        found = result.cores[core]
        assert found.synops_per_s == pytest.approx(budget, rel=0.05), core
        low, high = found.synops_per_s_ci
        assert low <= found.synops_per_s <= high and high / low < 1.02
        assert found.energy_per_synop_j == pytest.approx(ENERGY_J[core], rel=0.10), core
        assert np.allclose(found.idle_w, IDLE_W, rtol=0.10)
    assert result.pipeline_latency_us()[0] == pytest.approx(12.0, rel=0.20)


def test_a_different_chip_gives_different_answers(calibrate_truth):
    other = truth(budgets=(3.3e7,) * 9, latency_us=40.0, energy_j=(4e-11,) * 9)
    result, _ = calibrate_truth(other, cores=[2, 6])
    assert sorted(result.cores) == [2, 6]
    for core in (2, 6):
        assert result.cores[core].synops_per_s == pytest.approx(3.3e7, rel=0.05)
        assert result.cores[core].energy_per_synop_j == pytest.approx(4e-11, rel=0.10)
    assert result.pipeline_latency_us()[0] == pytest.approx(40.0, rel=0.20)


def test_progress_reports_every_step_in_order(calibrate_truth):
    seen = []
    result, _ = calibrate_truth(truth(noisy=False), cores=[5], on_step=seen.append)
    assert seen == result.steps == result.cores[5].steps
    assert [s.index for s in seen] == list(range(len(seen)))
    phases = [s.phase for s in seen]
    assert phases[0] == "bracket" and "bisect" in phases and "latency" in phases
    verdicts = {s.verdict for s in seen if s.phase in ("bracket", "bisect")}
    assert verdicts == {"flat", "grows"}


def test_unknown_core_is_refused_before_anything_runs():
    with open_device("sim") as device, pytest.raises(CalibrationError, match="unknown core 9"):
        calibrate(device, [0, 9])


def test_a_device_without_time_is_refused():
    with open_device("sinabs") as device, pytest.raises(CalibrationError, match="no time"):
        calibrate(device, [0])


def test_a_device_that_vanishes_keeps_the_finished_cores(tmp_path, calibrate_truth):
    def vanish_on_core_4(step):
        if step.core == 4 and step.index == 1:
            emulated_devices.emulated_devkit("SIM0000").inject_faults(
                FaultPlan(disconnect_after_events=10)
            )

    result, belief = calibrate_truth(truth(), cores=[1, 4, 7], on_step=vanish_on_core_4)
    assert sorted(result.cores) == [1] and result.partial
    assert "disconnected" in result.error
    path = write_profile(tmp_path / "lab.toml", result, belief)
    written = load_profile("speck2f", override=path)
    assert written.calibration.partial and written.calibration.cores == (1,)
    assert written.synops_per_s[1] == pytest.approx(BUDGETS[1], rel=0.05)
    assert written.synops_per_s[4] == 5e7  # not measured: the base's belief stays
    assert not written.synops_per_s_measured
    assert "PARTIAL" in written.budgets_note and "cores 1" in written.budgets_note


def test_written_profile_says_what_was_measured_and_how(tmp_path, calibrate_truth):
    result, belief = calibrate_truth(truth(), cores=[0, 3])
    path = write_profile(tmp_path / "lab.toml", result, belief)
    profile = load_profile("speck2f", override=path)
    assert profile.synops_per_s[0] == pytest.approx(BUDGETS[0], rel=0.05)
    assert profile.synops_per_s[3] == pytest.approx(BUDGETS[3], rel=0.05)
    assert profile.calibration.serial == "SIM0000"
    assert profile.calibration.samna_version == "emulated"
    assert profile.budget_measured(0) and not profile.budget_measured(1)
    assert profile.power.measured
    assert profile.power.energy_per_synop_j[3] == pytest.approx(ENERGY_J[3], rel=0.10)
    assert profile.power.energy_per_synop_j[1] == belief.power.energy_per_synop_j[1]
    assert sum(profile.power.synop_rail_share) == pytest.approx(1.0)
    text = path.read_text()
    assert "[[calibration.sweep]]" in text and "synops_per_s_ci" in text
    assert load_profile(path).synops_per_s == profile.synops_per_s  # complete on its own


def test_delay_growth_ignores_lost_and_spurious_spikes():
    inputs = np.arange(0, 100_000, 20, dtype=np.int64)  # 50 k ev/s, flat delay of 30 µs
    outputs = inputs + 30
    rng = np.random.default_rng(0)
    kept = outputs[rng.random(len(outputs)) > 0.05]
    noisy = np.sort(np.concatenate([kept, rng.integers(0, 100_000, len(inputs) // 50)]))
    start, end = calibration._delay_ends(inputs, noisy)
    assert abs(end - start) < calibration._growth_limit(100_000)
    growing = inputs + 30 + (inputs * 0.02).astype(np.int64)  # 2 % over budget
    start, end = calibration._delay_ends(inputs, growing[rng.random(len(inputs)) > 0.05])
    assert end - start > calibration._growth_limit(100_000)
