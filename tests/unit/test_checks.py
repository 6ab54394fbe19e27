"""Every check ``measure`` offers passes a good case and fails a bad one, naming where."""

import pytest
import sinabs.layers as sl
import torch
from sinabs.activation import MembraneReset
from torch import nn

from hil import recordings
from hil.analysis.checks import HilMeasure
from hil.backends import open_device
from hil.emulator.samna import device as emulated_devices
from hil.measurement import Outcome
from hil.recordings import synthetic


def small_net(weight_scale: float = 0.3, reset_fn=None) -> nn.Sequential:
    torch.manual_seed(0)
    options = {} if reset_fn is None else {"reset_fn": reset_fn}
    net = nn.Sequential(
        nn.Conv2d(2, 16, 3, stride=2, padding=1, bias=False),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0, **options),
        nn.Conv2d(16, 8, 3, stride=2, padding=1, bias=False),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0, **options),
    )
    with torch.no_grad():
        net[0].weight.uniform_(0.0, weight_scale)
        net[2].weight.uniform_(0.0, weight_scale)
    return net


@pytest.fixture(autouse=True)
def one_board():
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])


@pytest.fixture
def tight_budget(tmp_path, monkeypatch):
    """A slow emulated chip (its truth) and a lab profile that knows it (the belief)."""
    path = tmp_path / "tight.toml"
    path.write_text("[timing]\nsynops_per_s = [2e6, 2e6, 2e6, 2e6, 2e6, 2e6, 2e6, 2e6, 2e6]\n")
    monkeypatch.setenv("HIL_SIM_PROFILE", str(path))
    return path


@pytest.fixture(scope="module")
def quiet():
    return recordings.Recording.from_events(
        synthetic.poisson(5_000, 0.3, size=(64, 64), seed=1), (64, 64), name="quiet"
    )


@pytest.fixture(scope="module")
def burst():
    events = synthetic.burst(
        5_000, 0.6, size=(64, 64), seed=2, burst_rate=200_000, burst_duration_s=0.1
    )
    return recordings.Recording.from_events(events, (64, 64))


def outcomes(measure: HilMeasure, suffix: str) -> list[Outcome]:
    return [m.outcome for m in measure if m.name.endswith(suffix)]


def test_no_stall_passes_quiet_input_and_fails_a_burst(tmp_path, quiet, burst, tight_budget):
    with open_device("sim", profile=tight_budget) as device:
        deployment = device.deploy(small_net(), (2, 64, 64), monitor="all")
        good, bad = HilMeasure(), HilMeasure()
        good.no_stall(deployment.replay(quiet))
        bad.no_stall(deployment.replay(burst))
    assert good.failures == []
    # each declares what worse means, for the nightly history
    better = {m.name.rsplit(".", 1)[-1]: m.better for m in good}
    assert (better["delay_max"], better["delay_p99"], better["drain"]) == ("lower",) * 3
    assert better["delay_drift"] == "zero"  # a drift either way is worse
    assert better["delay_paired"] == "higher"
    assert outcomes(bad, "delay_max") == [Outcome.FAIL] * len(outcomes(bad, "delay_max"))
    (failure,) = [m for m in bad.failures if m.name == "delay_max"]
    assert "peak for inputs at t =" in failure.note
    assert failure.upper == 1000.0
    (core,) = [m for m in bad.failures if m.name == "core0.delay_max"]
    assert "over the limit for inputs from t =" in core.note


def test_synops_budget_names_layer_core_peak_budget_and_window(quiet, burst, tight_budget):
    with open_device("sim", profile=tight_budget) as device:
        deployment = device.deploy(small_net(), (2, 64, 64), monitor="all")
        good, bad = HilMeasure(), HilMeasure()
        good.synops_within_budget(deployment.replay(quiet))
        bad.synops_within_budget(deployment.replay(burst))
    assert good.failures == []
    assert {m.name for m in bad.failures} <= {"core0.synops_peak", "core1.synops_peak"}
    (failure,) = [m for m in bad.failures if m.name == "core0.synops_peak"]
    assert failure.upper == 2e6
    assert failure.value > 2e6
    assert "layer 0 on core 0, peak in" in failure.note
    assert " ms" in str(failure)


def test_agreement_fails_against_the_wrong_reference(quiet):
    with open_device("sim") as device:
        deployment = device.deploy(small_net(0.6), (2, 64, 64), monitor="all")
        run = deployment.replay(quiet)
        good, bad = HilMeasure(), HilMeasure()
        good.agreement(run, deployment.reference(quiet), max_count_error=0.1)
        bad.agreement(run, deployment.reference(quiet, reset="zero"), max_count_error=0.1)
    assert good.failures == []
    assert any(m.name.endswith("count_error") for m in bad.failures)
    assert all("reference reset zero" in m.note for m in bad.failures)


def test_reset_mode_catches_a_chip_configured_with_the_wrong_reset(quiet):
    made_for_zero = small_net(0.6, reset_fn=MembraneReset())
    with open_device("sim") as device:
        right, wrong = HilMeasure(), HilMeasure()
        right.reset_mode(device.deploy(made_for_zero, (2, 64, 64), reset="zero"), quiet)
        wrong.reset_mode(device.deploy(made_for_zero, (2, 64, 64), reset="subtract"), quiet)
    assert right.failures == []
    (failure,) = wrong.failures
    assert failure.name == "quiet.reset_mode_matches"
    assert "made for 'zero', behaves like 'subtract'" in failure.note


def test_fits_memory_fails_on_threshold_low_zero_and_counts_warnings():
    with open_device("sim") as device:
        good = HilMeasure()
        good.fits_memory(device.deploy(small_net(), (2, 64, 64)))
        hot = HilMeasure()
        hot.fits_memory(device.deploy(small_net(3.0), (2, 64, 64)))
        broken = device.deploy(small_net(), (2, 64, 64))
    broken.mapping.config.cnn_layers[broken.mapping.core_of(0)].threshold_low = 0
    bad = HilMeasure()
    bad.fits_memory(broken)
    assert good.failures == []
    assert [m.value for m in good if m.name == "lint_warnings"] == [0]
    assert [m.value for m in hot if m.name == "lint_warnings"] == [2]
    assert [m.name for m in bad.failures] == ["lint.threshold-low.layer0", "lint_errors"]
    for failure in bad.failures:
        assert "threshold_low" in failure.note
    assert {m.name for m in good} >= {
        "core0.kernel_words",
        "core0.neuron_words",
        "core0.bias_words",
    }


def test_pictures_of_checked_runs(tmp_path, quiet):
    with open_device("sim") as device:
        deployment = device.deploy(small_net(), (2, 64, 64), monitor="all")
        measure = HilMeasure()
        run = deployment.replay(quiet)
        measure.no_stall(run)
        measure.synops_within_budget(run)
        deployment.replay(quiet)  # not checked: no picture
    (picture,) = measure.draw(tmp_path)
    assert picture.name == "run0.png"
    assert picture.stat().st_size > 10_000
