"""Power: the emulated monitor draws what its profile says, runs carry the samples, and
``measure.power`` passes a good case and fails each bad one."""

import dataclasses

import numpy as np
import pytest
import sinabs.layers as sl
import torch
from sinabs.activation import MembraneReset
from torch import nn

from hil import recordings
from hil.analysis.checks import HilMeasure
from hil.analysis.plots import plot_run
from hil.analysis.power import power_report
from hil.analysis.synops import synops_report
from hil.backends import open_device
from hil.chip.profile import ProfileError, load_profile
from hil.emulator.samna import device as emulated_devices
from hil.measurement import Outcome
from hil.recordings import synthetic

ENERGY = (2e-11, 3e-11, 4e-11, 5e-11, 6e-11, 7e-11, 8e-11, 9e-11, 1e-10)


def one_core_net() -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(2, 16, 3, padding=1, bias=False),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0, reset_fn=MembraneReset()),
    )
    with torch.no_grad():
        net[0].weight.uniform_(-0.1, 0.3)
    return net


@pytest.fixture(autouse=True)
def one_board():
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])


@pytest.fixture(scope="module")
def stream():
    events = synthetic.poisson(20_000, 0.5, size=(32, 32), seed=4)
    return recordings.Recording.from_events(events, (32, 32), name="stream")


def truth(synops_per_s=5e7, noise=0.0):
    """A chip that differs from what the harness believes, set on the emulated board."""
    base = load_profile("speck2f")
    power = dataclasses.replace(
        base.power, energy_per_synop_j=ENERGY, sample_noise_w=noise, offset_w=()
    )
    return dataclasses.replace(base, power=power, synops_per_s=(synops_per_s,) * 9)


def replay_on(chip, stream, core=3):
    with open_device("sim") as speck:
        emulated_devices.emulated_devkit("SIM0000").use_profile(chip)
        deployment = speck.deploy(
            one_core_net(), (2, 32, 32), reset="zero", monitor="all", layer2core_map={0: core}
        )
        return deployment.replay(stream, timeout_s=60)


def test_samples_every_rail_every_period_at_idle_plus_work(stream):
    chip = truth()
    run = replay_on(chip, stream)
    report = power_report(run)
    assert report.period_us == 10_000
    assert len(run.power) == 5 * len(report.t_us) and len(report.t_us) >= 45
    idle = chip.power.idle_w
    for rail, measured in zip(chip.power.rails, report.rails, strict=True):
        assert measured.rail == rail
    assert report.rails[0].mean_w == pytest.approx(idle[0])  # io draws no SynOp energy
    synops = synops_report(run, sinabs_dt_us=None).cores[3].synops
    dynamic_j = report.energy_j - chip.power.idle_total_w * report.duration_us / 1e6
    assert dynamic_j == pytest.approx(ENERGY[3] * synops, rel=0.03)


def test_an_overloaded_core_draws_no_more_than_it_can_serve(stream):
    slow = truth(synops_per_s=1e6)
    report = power_report(replay_on(slow, stream))
    ceiling = slow.power.idle_total_w + ENERGY[3] * 1e6
    assert report.peak_w == pytest.approx(ceiling, rel=1e-6)


def test_sampling_leaves_the_chip_s_outputs_as_they_are(stream):
    with open_device("sim") as speck:
        board = emulated_devices.emulated_devkit("SIM0000")
        board.use_profile(truth())
        deployment = speck.deploy(
            one_core_net(), (2, 32, 32), reset="zero", monitor="all", layer2core_map={0: 3}
        )
        sampled = deployment.replay(stream, timeout_s=60)
        board.get_power_monitor().stop_auto_power_measurement()
        unsampled = deployment.replay(stream, timeout_s=60)
    assert len(sampled.power) and not len(unsampled.power)
    assert np.array_equal(sampled.outputs, unsampled.outputs)


def test_monitor_noise_is_seeded_and_sized_as_the_profile_says(stream):
    first = replay_on(truth(noise=1e-5), stream).power
    second = replay_on(truth(noise=1e-5), stream).power
    assert np.array_equal(first["watts"], second["watts"])
    io = first["watts"][first["rail"] == 0]
    assert np.std(io) == pytest.approx(1e-5, rel=0.3)


def test_sample_rate_above_what_the_monitor_can_is_refused():
    with open_device("sim"):
        monitor = emulated_devices.emulated_devkit("SIM0000").get_power_monitor()
        with pytest.raises(ValueError, match=r"100\] Hz"):
            monitor.start_auto_power_measurement(1000)


def test_sinabs_device_has_no_power(stream):
    with open_device("sinabs") as speck:
        deployment = speck.deploy(one_core_net(), (2, 32, 32), reset="zero", monitor="all")
        assert deployment.replay(stream).power is None


def test_measure_power_records_rails_totals_and_energy(stream):
    run = replay_on(truth(), stream)
    measure = HilMeasure()
    report = measure.power(run, max_mw=10, max_uj=1000)
    names = {m.name: m for m in measure}
    assert {"stream.power.logic_mean", "stream.power.io_peak", "stream.energy"} <= set(names)
    assert names["stream.power_peak"].value == pytest.approx(report.peak_w * 1e3)
    assert names["stream.energy"].unit == "µJ"
    assert not measure.failures


def test_measure_power_fails_over_its_limits(stream):
    run = replay_on(truth(), stream)
    measure = HilMeasure()
    report = measure.power(run, max_mw=0.4, max_uj=report_energy_uj(run) * 0.9)
    failed = {m.name for m in measure.failures}
    assert failed == {"stream.power_peak", "stream.energy"}
    assert report.peak_w * 1e3 > 0.4


def report_energy_uj(run) -> float:
    return power_report(run).energy_j * 1e6


def test_a_limit_on_a_device_without_monitor_fails(stream):
    with open_device("sinabs") as speck:
        run = speck.deploy(one_core_net(), (2, 32, 32), reset="zero").replay(stream)
    measure = HilMeasure()
    assert measure.power(run, max_mw=1.0) is None
    (only,) = measure.measurements
    assert only.outcome is Outcome.FAIL and "no power monitor" in only.note
    unlimited = HilMeasure()
    unlimited.power(run)
    assert not unlimited.failures


def test_power_is_in_the_picture(stream, tmp_path):
    run = replay_on(truth(), stream)
    measure = HilMeasure()
    measure.power(run)
    (picture,) = measure.draw(tmp_path)
    assert picture.stat().st_size > 1000
    assert plot_run(tmp_path / "p.png", "t", power=power_report(run)).exists()


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ("idle_w = [1e-4, 1e-4]", "power.idle_w must list 5 rails"),
        ("energy_per_synop_j = [1e-11]", "power.energy_per_synop_j must list 9 cores"),
        ("idle_w = [-1e-4, 1e-4, 1e-4, 1e-4, 1e-4]", "power.idle_w must not be negative"),
        ("synop_rail_share = [0.5, 0.0, 0.0, 0.0, 0.0]", "must add up to 1"),
        ("sample_noise_w = -1.0", "sample_noise_w must not be negative"),
    ],
)
def test_bad_power_section_is_refused_naming_the_field(tmp_path, section, problem):
    path = tmp_path / "bad.toml"
    path.write_text(f"[power]\n{section}\n")
    with pytest.raises(ProfileError, match=problem) as failure:
        load_profile("speck2f", override=path)
    assert str(path) in str(failure.value)


def test_a_monitor_that_will_not_start_leaves_the_board_usable(stream, monkeypatch):
    from hil.emulator.devkit import EmulatedDevkit

    def broken(self):
        raise RuntimeError("no power monitor on this board")

    monkeypatch.setattr(EmulatedDevkit, "get_power_monitor", broken)
    with open_device("sim") as speck:
        deployment = speck.deploy(one_core_net(), (2, 32, 32), reset="zero", monitor="all")
        run = deployment.replay(stream, timeout_s=60)
    assert run.power is None and len(run.outputs)
