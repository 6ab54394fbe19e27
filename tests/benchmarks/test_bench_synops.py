"""SynOps analysis of a run with 10 million outputs costs a few times a plain bincount."""

import time

import numpy as np
import pytest
import sinabs.layers as sl
import torch
from torch import nn

from hil.analysis.synops import synops_report
from hil.backends import Run, open_device
from hil.emulator.samna import device as emulated_devices
from hil.events import SPIKE_DTYPE
from hil.recordings import synthetic

pytestmark = pytest.mark.slow
GROUP = "synops-10M-outputs"


def three_layer_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(2, 8, 3, stride=2, padding=1, bias=False),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
        nn.Conv2d(8, 16, 3, padding=1, bias=False),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
        sl.SumPool2d(2),
        nn.Conv2d(16, 8, 3, padding=1, bias=False),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
    )


@pytest.fixture(scope="module")
def big_run(bench_size) -> Run:
    """A deployed network's run whose 10 M outputs are drawn uniformly, not replayed."""
    n = bench_size(10_000_000, 500_000)
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])
    with open_device("sim") as device:
        deployment = device.deploy(three_layer_net(), (2, 128, 128), monitor="all")
    inputs = deployment.mapping.input_spikes(synthetic.poisson(1_000_000, 1.0, seed=0))
    rng = np.random.default_rng(0)
    cores = np.array(sorted(deployment.mapping.layer2core.values()), np.uint8)
    outputs = np.empty(n, SPIKE_DTYPE)
    outputs["layer"] = rng.choice(cores, n)
    outputs["x"] = rng.integers(0, 64, n)
    outputs["y"] = rng.integers(0, 64, n)
    outputs["feature"] = rng.integers(0, 8, n)
    outputs["t"] = np.sort(rng.integers(0, 1_000_000, n))
    return Run(inputs, outputs, deployment, wall_start=0.0, wall_s=0.0)


@pytest.mark.benchmark(group=GROUP, timer=time.process_time)
def test_bincount_of_output_times(benchmark, big_run, speed_ratio):
    counts = benchmark.pedantic(
        lambda: np.bincount(big_run.outputs["t"] // 1000), rounds=5, iterations=1
    )
    speed_ratio.baseline(GROUP, benchmark)
    assert counts.sum() == len(big_run.outputs)


@pytest.mark.benchmark(group=GROUP, timer=time.process_time)
def test_synops_report(benchmark, big_run, speed_ratio):
    report = benchmark.pedantic(
        lambda: synops_report(big_run, sinabs_dt_us=None), rounds=5, iterations=1
    )
    received = sum(core.input_events for core in report.cores.values())
    assert received > len(big_run.outputs) / 2
    ratio = speed_ratio.ratio(GROUP, benchmark)
    if ratio is not None:
        median_s = benchmark.stats.stats.median
        print(f"\nSynOps report of 10 M outputs: {median_s:.3f} s, {ratio:.1f}x a bincount")
        assert ratio < 30, f"SynOps analysis is {ratio:.1f}x slower than a bincount"
