"""The emulator against sinabs' time-stepped forward of the same discretized network.

Run with ``.venv/bin/python -m pytest tests/benchmarks/test_bench_emulator.py --benchmark-enable
-p no:xdist``. Per network, the sinabs benchmark runs first and is the baseline; the emulator
benchmark records ``ratio_to_baseline``, ``speedup`` (its inverse) and ``realtime_factor``
(emulated seconds per CPU second) in ``extra_info``, and asserts the targets: at least 10 times
faster than sinabs, and faster than real time on the 128x128 network. Times are the process's
CPU time (sinabs with the harness's torch threads), so the ratios hold on a busy machine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pytest
import sinabs
import sinabs.layers as sl
import torch
from torch import nn

from hil.backends.simulate import spike_frames
from hil.backends.torch_threads import use_torch_threads
from hil.emulator import Speck
from hil.emulator.install import install_as_samna
from hil.events import SPIKE_DTYPE
from hil.recordings import synthetic

pytestmark = pytest.mark.slow

DURATION_US = 1_000_000
BIN_US = 1_000


@dataclass
class Case:
    """A discretized network, its chip configuration and one second of input."""

    network: torch.nn.Module
    chip: Speck
    spikes: np.ndarray
    frames: torch.Tensor


def neurons() -> sl.IAFSqueeze:
    # min_v_mem must be set: with None, sinabs' discretization zeroes every weight.
    return sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0)


def nir_scnn(seed: int = 0) -> nn.Sequential:
    """The SCNN of the NIR paper (Pedersen et al. 2024) for 2x34x34 N-MNIST input."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(2, 16, 5, stride=2, padding=1, bias=False),
        neurons(),
        nn.Conv2d(16, 16, 3, padding=1, bias=False),
        neurons(),
        sl.SumPool2d(2),
        nn.Conv2d(16, 8, 3, padding=1, bias=False),
        neurons(),
        sl.SumPool2d(2),
        nn.Flatten(),
        nn.Linear(128, 256, bias=False),
        neurons(),
        nn.Linear(256, 10, bias=False),
        neurons(),
    )


def dvs_gesture_net(seed: int = 0) -> nn.Sequential:
    """A small network on the full 128x128 sensor."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(2, 8, 2, stride=2, bias=False),
        neurons(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1, bias=False),
        neurons(),
        nn.Conv2d(16, 16, 3, stride=2, padding=1, bias=False),
        neurons(),
        nn.Flatten(),
        nn.Linear(4096, 11, bias=False),
        neurons(),
    )


def chip_events(events: np.ndarray) -> np.ndarray:
    """Sensor events as input spikes (the target core is set once the network is mapped)."""
    spikes = np.zeros(len(events), SPIKE_DTYPE)
    for name, source in (("t", "t"), ("x", "x"), ("y", "y"), ("feature", "p")):
        spikes[name] = events[source]
    return spikes


def build(snn: nn.Sequential, shape: tuple[int, int, int], spikes: np.ndarray) -> Case:
    install_as_samna()
    from sinabs.backend.dynapcnn import DynapcnnNetwork

    network = DynapcnnNetwork(snn, input_shape=shape, discretize=True)
    config = network.make_config(device="speck2fmodule", monitor_layers="all")
    chip = Speck(config)
    first = next(
        core.index for core in chip.program.cores if core.used and core.input_shape == shape
    )
    spikes = spikes.copy()
    spikes["layer"] = first
    frames = spike_frames(spikes, shape, BIN_US, n_bins=DURATION_US // BIN_US)
    return Case(network=network, chip=chip, spikes=spikes, frames=frames)


@pytest.fixture(scope="module")
def cases() -> dict[str, Case]:
    seconds = DURATION_US / 1e6
    scnn_input = synthetic.poisson(100_000, seconds, size=(34, 34), seed=0)
    bar = synthetic.moving_bar(1_000_000, seconds, size=(128, 128), seed=0, bar_width=6, sweeps=4)
    return {
        "nir_scnn": build(nir_scnn(), (2, 34, 34), chip_events(scnn_input)),
        "dvs_128": build(dvs_gesture_net(), (2, 128, 128), chip_events(bar)),
    }


def sinabs_forward(case: Case) -> torch.Tensor:
    use_torch_threads()  # as the harness runs it; CPU time would count idle threads' spinning
    sinabs.reset_states(case.network)
    with torch.no_grad():
        return case.network(case.frames)


def emulate(case: Case) -> np.ndarray:
    case.chip.reset()
    return case.chip.run(case.spikes)


NETWORKS = ["nir_scnn", "dvs_128"]


@pytest.mark.parametrize("name", NETWORKS)
@pytest.mark.benchmark(timer=time.process_time)
def test_sinabs_forward(benchmark, speed_ratio, cases, name):
    case = cases[name]
    benchmark.group = name
    benchmark.extra_info["events"] = len(case.spikes)
    out = benchmark.pedantic(sinabs_forward, args=(case,), rounds=3, warmup_rounds=1)
    benchmark.extra_info["output_spikes"] = int(out.sum())
    speed_ratio.baseline(name, benchmark)


@pytest.mark.parametrize("name", NETWORKS)
@pytest.mark.benchmark(timer=time.process_time)
def test_emulator(benchmark, speed_ratio, cases, name):
    case = cases[name]
    benchmark.group = name
    out = benchmark.pedantic(emulate, args=(case,), rounds=5, warmup_rounds=1)
    benchmark.extra_info["events"] = len(case.spikes)
    benchmark.extra_info["monitored_per_core"] = np.bincount(out["layer"]).tolist()
    assert len(out) > 0
    ratio = speed_ratio.ratio(name, benchmark)
    if ratio is None:  # benchmarks disabled, or the sinabs baseline did not run
        return
    benchmark.extra_info["speedup"] = round(1 / ratio, 2)
    emulator_s = benchmark.stats.stats.median
    benchmark.extra_info["realtime_factor"] = round(DURATION_US / 1e6 / emulator_s, 2)
    assert 1 / ratio >= 10
    if name == "dvs_128":
        assert emulator_s < 1.0
