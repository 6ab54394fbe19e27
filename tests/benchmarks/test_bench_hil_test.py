"""One HIL test on ``moving_bar_128`` (deploy, replay, reference, agreement, stall, SynOps)
costs little more than its sinabs reference alone: sinabs runs once, and the rest is the
emulated chip's work and numpy analyses.

Times are the process's CPU time, so the ratio holds on a busy machine (torch runs one
thread there; see ``hil.backends.torch_threads``). A third benchmark runs the reference with
one torch thread per usable core, to show the harness's choice is not the slower one.
"""

from __future__ import annotations

import os
import time

import pytest
import torch

from hil import recordings
from hil.analysis.checks import HilMeasure
from hil.backends import open_device
from hil.backends.torch_threads import use_torch_threads
from hil.emulator.samna import device as emulated_devices
from hil.examples import INPUT_SHAPE_128, scnn_128

pytestmark = pytest.mark.slow
GROUP = "hil-test-moving_bar_128"
MAX_RATIO = 1.5


@pytest.fixture(scope="module")
def device():
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])
    with open_device("sim") as device:
        yield device


@pytest.fixture(scope="module")
def recording():
    return recordings.by_name("moving_bar_128")


def deploy(device):
    return device.deploy(scnn_128(), INPUT_SHAPE_128, reset="zero", monitor="all")


@pytest.mark.benchmark(group=GROUP, timer=time.process_time)
def test_reference_alone(benchmark, speed_ratio, device, recording):
    deployment = deploy(device)
    reference = benchmark.pedantic(
        lambda: deployment.reference(recording), rounds=5, warmup_rounds=1
    )
    speed_ratio.baseline(GROUP, benchmark)
    benchmark.extra_info["torch_threads"] = torch.get_num_threads()
    assert len(reference.outputs) > 0


@pytest.mark.benchmark(group=GROUP, timer=time.process_time)
def test_one_hil_test(benchmark, speed_ratio, device, recording):
    def hil_test() -> HilMeasure:
        chip = deploy(device)
        run = chip.replay(recording)
        reference = chip.reference(recording)
        measure = HilMeasure()
        measure.agreement(run, reference)
        measure.no_stall(run)
        measure.synops_within_budget(run)
        return measure

    measure = benchmark.pedantic(hil_test, rounds=5, warmup_rounds=1)
    assert any(m.name.endswith("synops_sinabs") for m in measure.measurements)
    ratio = speed_ratio.ratio(GROUP, benchmark)
    if ratio is not None:
        print(f"\none HIL test on moving_bar_128: {ratio:.2f}x its reference alone")
        assert ratio <= MAX_RATIO


@pytest.mark.benchmark(group="reference-threads")
def test_reference_with_the_harness_threads(benchmark, speed_ratio, device, recording):
    deployment = deploy(device)
    threads = use_torch_threads() or torch.get_num_threads()
    benchmark.extra_info["torch_threads"] = threads
    benchmark.pedantic(lambda: deployment.reference(recording), rounds=3, warmup_rounds=1)
    speed_ratio.baseline("reference-threads", benchmark)


@pytest.mark.benchmark(group="reference-threads")
def test_reference_with_a_thread_per_core(benchmark, speed_ratio, device, recording):
    deployment = deploy(device)
    chosen = use_torch_threads() or torch.get_num_threads()
    cores = len(os.sched_getaffinity(0))
    benchmark.extra_info["torch_threads"] = cores
    torch.set_num_threads(cores)
    try:
        benchmark.pedantic(lambda: deployment.reference(recording), rounds=3, warmup_rounds=1)
    finally:
        torch.set_num_threads(chosen)
    ratio = speed_ratio.ratio("reference-threads", benchmark)
    if ratio is not None:
        print(f"\nreference with {cores} threads: {ratio:.2f}x the harness's {chosen}")
