import dataclasses

import numpy as np
import pytest
import sinabs.layers as sl
import torch
from torch import nn

from hil.analysis.synops import CoreSynops, projective_field_sizes, synops_report, used_cores
from hil.backends import Run, open_device
from hil.emulator.samna import device as emulated_devices
from hil.events import SPIKE_DTYPE
from hil.recordings import synthetic


def conv_net(*layers: nn.Module, seed: int = 0, low: float = 0.0) -> nn.Sequential:
    """Each conv followed by an IAF; weights uniform in low..0.5."""
    torch.manual_seed(seed)
    modules = []
    for layer in layers:
        modules.append(layer)
        if isinstance(layer, nn.Conv2d):
            with torch.no_grad():
                layer.weight.uniform_(low, 0.5)
            modules.append(sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0))
    return nn.Sequential(*modules)


def two_layer_net(low: float = 0.0) -> nn.Sequential:
    return conv_net(
        nn.Conv2d(2, 4, 3, padding=1, bias=False),
        sl.SumPool2d(2),
        nn.Conv2d(4, 3, 3, stride=2, padding=1, bias=False),
        low=low,
    )


def agree(measured: float, estimate: float, rel: float) -> bool:
    return abs(measured - estimate) <= rel * estimate


def peak_inside(core: CoreSynops, start_us: int, end_us: int) -> bool:
    first, last = core.peak_window_us
    return start_us <= first and last <= end_us


@pytest.fixture(scope="module")
def sim():
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])
    with open_device("sim") as device:
        yield device
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])


@pytest.fixture(scope="module")
def large_map_run(sim) -> Run:
    deployment = sim.deploy(
        conv_net(nn.Conv2d(2, 8, 3, padding=1, bias=False)), (2, 64, 64), monitor="all"
    )
    return deployment.replay(synthetic.poisson(50_000, 0.2, size=(64, 64), seed=1))


def test_measured_synops_agree_with_the_formula_on_a_large_map(sim, large_map_run):
    (core,) = synops_report(large_map_run, sinabs_dt_us=None).cores.values()
    measured, formula = core.mean_synops_per_s, core.formula_synops_per_s
    print(f"\n64x64 k3: measured {measured:.4g}, formula {formula:.4g}")
    assert core.input_events == len(large_map_run.inputs)
    assert agree(core.mean_synops_per_s, core.formula_synops_per_s, 0.10)

    # The formula ignores kernels hanging over the border: on a map barely larger than the
    # kernel it overestimates many times over, and the same check fails.
    small = sim.deploy(conv_net(nn.Conv2d(2, 8, 5, bias=False)), (2, 6, 6), monitor="all")
    run = small.replay(synthetic.poisson(50_000, 0.2, size=(6, 6), seed=1))
    (edge_bound,) = synops_report(run, sinabs_dt_us=None).cores.values()
    print(
        f"6x6 k5: measured {edge_bound.mean_synops_per_s:.4g}, "
        f"formula {edge_bound.formula_synops_per_s:.4g}"
    )
    assert not agree(edge_bound.mean_synops_per_s, edge_bound.formula_synops_per_s, 0.10)


def test_exact_counts_by_hand_edges_and_pooled_routes(sim):
    deployment = sim.deploy(two_layer_net(), (2, 6, 6), monitor="all")
    first, second = (deployment.mapping.core_of(layer) for layer in (0, 1))
    cores = used_cores(deployment.mapping, sim.profile)
    # 6 inputs, k3 s1 p1: edge rows touch 2 outputs, the rest 3.
    np.testing.assert_array_equal(projective_field_sizes(cores[first], 0), [2, 3, 3, 3, 3, 2])
    # 3 inputs, k3 s2 p1, 2 outputs: output o covers inputs 2o-1..2o+1.
    np.testing.assert_array_equal(projective_field_sizes(cores[second], 1), [1, 2, 1])

    inputs = np.zeros(3, SPIKE_DTYPE)
    inputs["layer"] = first
    inputs["x"], inputs["y"], inputs["feature"], inputs["t"] = (
        [0, 3, 5],
        [0, 2, 1],
        [0, 1, 0],
        [0, 10, 20],
    )
    outputs = np.zeros(4, SPIKE_DTYPE)
    outputs["layer"] = [first, first, first, second]
    # Core `first` output (x, y) reaches `second` at (x // 2, y // 2).
    outputs["x"], outputs["y"], outputs["feature"] = [5, 2, 0, 1], [5, 3, 4, 1], [1, 3, 0, 2]
    outputs["t"] = [30, 40, 50, 60]
    run = Run(inputs, outputs, deployment, wall_start=0.0, wall_s=0.0)
    report = synops_report(run, sinabs_dt_us=None)

    by_hand = {
        first: [2 * 2 * 4, 3 * 3 * 4, 3 * 2 * 4],  # (0,0) corner, (3,2) inside, (5,1) edge
        second: [1 * 1 * 3, 2 * 2 * 3, 1 * 1 * 3],  # pooled (2,2), (1,1), (0,2)
    }
    for core, counts in by_hand.items():
        assert report.cores[core].synops == sum(counts)
        assert report.cores[core].input_events == len(counts)
    naive = 3 * 3 * 4 * len(inputs)  # k² · C_out per event: what the formula assumes
    assert report.cores[first].synops != naive
    assert report.cores[first].layer == 0 and report.cores[second].layer == 1


def test_a_sender_that_is_not_monitored_is_refused(sim):
    events = synthetic.poisson(20_000, 0.05, size=(6, 6), seed=2)
    exit_only = sim.deploy(two_layer_net(), (2, 6, 6), monitor="exit")
    run = exit_only.replay(events)
    sender = exit_only.mapping.core_of(0)
    with pytest.raises(ValueError, match=f"core {sender} sends to core .* not monitored"):
        synops_report(run, sinabs_dt_us=None)
    monitored = sim.deploy(two_layer_net(), (2, 6, 6), monitor="all")
    assert synops_report(monitored.replay(events), sinabs_dt_us=None).cores[sender].synops > 0


def test_sliding_window_peak_locates_a_burst(sim):
    deployment = sim.deploy(
        conv_net(nn.Conv2d(2, 4, 3, padding=1, bias=False)), (2, 32, 32), monitor="all"
    )
    burst = synthetic.burst(
        2_000, 1.0, size=(32, 32), burst_rate=200_000, burst_duration_s=0.05, seed=3
    )
    (core,) = synops_report(deployment.replay(burst), sinabs_dt_us=None).cores.values()
    assert peak_inside(core, 475_000, 525_000)
    assert core.peak_synops_per_s > 5 * core.mean_synops_per_s
    assert len(core.synops_per_s) == len(core.window_start_us)
    assert (np.diff(core.window_start_us) == 1_000).all()

    uniform = synthetic.poisson(len(burst), 1.0, size=(32, 32), seed=3)
    (flat,) = synops_report(deployment.replay(uniform), sinabs_dt_us=None).cores.values()
    assert not peak_inside(flat, 475_000, 525_000)
    assert not flat.peak_synops_per_s > 5 * flat.mean_synops_per_s


def test_an_over_budget_core_is_detected(sim, large_map_run):
    within = synops_report(large_map_run, sinabs_dt_us=None)
    assert within.over_budget() == []
    peak = next(iter(within.cores.values())).peak_synops_per_s
    tight = dataclasses.replace(sim.profile, synops_per_s=(peak / 2,) * sim.profile.n_cores)
    over = synops_report(large_map_run, profile=tight, sinabs_dt_us=None).over_budget()
    assert [core.core for core in over] == list(large_map_run.deployment.mapping.monitored_cores)
    assert over[0].load == pytest.approx(2.0)
    assert over[0].budget_synops_per_s == peak / 2


def test_sinabs_analyzer_figure_is_in_synops_per_second(sim):
    # Inhibitory weights make the chip's per-event order and clamp at threshold_low matter,
    # so the chip's first-layer spikes, and the second core's SynOps, differ from sinabs'.
    deployment = sim.deploy(two_layer_net(low=-0.3), (2, 16, 16), monitor="all")
    run = deployment.replay(synthetic.poisson(50_000, 0.2, size=(16, 16), seed=4))
    report = synops_report(run, compute_sinabs=True)
    entry = report.cores[deployment.mapping.entry_core]
    # The entry core gets the same events in both, so only the units can make them differ.
    assert entry.sinabs_synops_per_s == pytest.approx(entry.mean_synops_per_s, rel=1e-6)
    for core in report.cores.values():
        print(
            f"\ncore {core.core}: measured {core.mean_synops_per_s:.4g} SynOps/s, "
            f"sinabs {core.sinabs_synops_per_s:.4g}"
        )
        assert core.synops > 0
        assert 0.5 <= core.sinabs_synops_per_s / core.mean_synops_per_s <= 2.0
    # Read with dt in µs instead of ms, the figure is 1000x off and the check fails.
    misread = entry.sinabs_synops_per_s / 1000
    assert not 0.5 <= misread / entry.mean_synops_per_s <= 2.0
