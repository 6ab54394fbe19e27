import numpy as np
import pytest
import sinabs.layers as sl
import torch
from torch import nn

from hil import synthetic
from hil.analysis.delay import match_outputs, output_delays
from hil.analysis.stall import rate_lag_us, stall_report
from hil.backends import open_device
from hil.emulator.samna import device as emulated_devices
from hil.events import SPIKE_DTYPE

BUDGET_TOML = "[timing]\nsynops_per_s = [{0}, {0}, {0}, {0}, {0}, {0}, {0}, {0}, {0}]\n"


def spikes(rows) -> np.ndarray:
    return np.array(rows, dtype=SPIKE_DTYPE)


def one_layer_net() -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(2, 16, 3, stride=2, padding=1, bias=False),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
    )
    with torch.no_grad():
        net[0].weight.uniform_(0.0, 0.3)
    return net


@pytest.fixture(autouse=True)
def one_board():
    emulated_devices.attach_emulated_devkits(["speck2fmodule"])


def replay(stimulus, budget=None, tmp_path=None):
    """On an emulated chip with this SynOps budget per core, which the harness knows."""
    profile = None
    if budget is not None:
        profile = tmp_path / "budget.toml"
        profile.write_text(BUDGET_TOML.format(budget))
    with pytest.MonkeyPatch.context() as patch:
        if profile is not None:
            patch.setenv("HIL_SIM_PROFILE", str(profile))
        with open_device("sim", profile=profile) as device:
            return device.deploy(one_layer_net(), (2, 64, 64), monitor="all").replay(stimulus)


@pytest.fixture(scope="module")
def burst():
    # 5 k ev/s with 100 ms at 200 k ev/s: each event costs ~36 SynOps (16 channels, 3x3/2x2)
    return synthetic.burst(
        5_000, 0.6, size=(64, 64), seed=2, burst_rate=200_000, burst_duration_s=0.1
    )


def test_matching_pairs_each_neurons_kth_spikes():
    device = spikes([(0, 1, 1, 0, 110), (0, 1, 1, 0, 250), (0, 2, 1, 0, 40), (1, 0, 0, 3, 300)])
    ideal = spikes([(0, 1, 1, 0, 100), (0, 2, 1, 0, 30), (0, 1, 1, 0, 200), (0, 5, 5, 0, 9)])
    matched = match_outputs(device, ideal)
    order = np.argsort(matched.t_us)
    assert matched.t_us[order].tolist() == [40, 110, 250]
    assert matched.delay_us[order].tolist() == [10, 10, 50]
    assert matched.layer[order].tolist() == [0, 0, 0]
    assert (matched.unmatched_device, matched.unmatched_reference) == (1, 1)


def test_within_budget_no_stall(tmp_path):
    stimulus = synthetic.poisson(20_000, 0.3, size=(64, 64), seed=1)
    report = stall_report(replay(stimulus))
    assert not report.stalled
    assert report.reasons == []
    assert 0 < report.max_us < 50
    assert report.p50_us <= report.p99_us <= report.max_us
    assert abs(report.drift_us_per_s) < 100
    assert report.drain_us < 100


def test_burst_over_budget_stalls(tmp_path, burst):
    budget = 2e6
    report = stall_report(replay(burst, budget, tmp_path))
    assert report.stalled
    assert "output delay reached" in report.reasons[0]
    assert "limit 1,000 µs" in report.reasons[0]
    # the most delayed output is caused at the end of the burst (0.25..0.35 s): backlog peaks
    assert abs(report.peak_t_us - report.max_us - 350_000) < 10_000
    assert report.max_us > 100_000
    assert report.rate_lag_us > 1_000


def test_same_burst_within_a_large_budget_passes(tmp_path, burst):
    assert not stall_report(replay(burst, 1e9, tmp_path)).stalled


def test_limits_can_be_given(tmp_path):
    stimulus = synthetic.poisson(20_000, 0.3, size=(64, 64), seed=1)
    run = replay(stimulus)
    assert stall_report(run, max_delay_us=0.5).stalled
    assert "drifted" in stall_report(run, max_drift=-1e9).reasons[0]
    assert not stall_report(run, max_drift=1e9).stalled


def test_drain_limit(tmp_path, burst):
    run = replay(burst[burst["t"] < 350_000], 2e6, tmp_path)
    report = stall_report(run, max_delay_us=1e9)
    assert report.drain_us > 10_000
    assert "after the last input" in report.reasons[0]


def test_time_stepped_runs_have_no_delay():
    stimulus = synthetic.poisson(2_000, 0.1, size=(64, 64), seed=1)
    with open_device("sinabs") as device:
        run = device.deploy(one_layer_net(), (2, 64, 64)).replay(stimulus)
    assert output_delays(run) is None
    with pytest.raises(ValueError, match="no output delays"):
        stall_report(run)


def test_rate_lag_finds_a_shift(tmp_path):
    stimulus = synthetic.poisson(20_000, 0.3, size=(64, 64), seed=1)
    run = replay(stimulus)
    assert rate_lag_us(run) == 0
    shifted = run.outputs.copy()
    shifted["t"] += 7_000
    run.outputs = shifted
    assert rate_lag_us(run) == 7_000
