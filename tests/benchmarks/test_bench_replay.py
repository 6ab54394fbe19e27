"""What driving the emulated devkit through samna's API costs beyond the emulator's compute.

Per case, the baseline is the emulator's own ``run`` (a fresh ``Speck`` given the same chip
inputs: what a replay's reset and run must do at least); the replay through the samna backend
is measured in the same session, with the power monitor sampling as it does by default, and
its ratio to the baseline asserted. The asserted ratio pairs each replay with a baseline run
timed just before it, so a load that changes between tests cannot move it. Times are the
process's CPU time (``timer=time.process_time``), so the ratios hold on a machine whose cores
other jobs share. The object path (samna's event objects, as a real devkit is driven) is
measured per event in and out.
"""

from __future__ import annotations

import time

import pytest

from hil import recordings
from hil.backends import open_device
from hil.emulator import Speck
from hil.emulator.samna import device as emulated_devices
from hil.examples import INPUT_SHAPE_34, INPUT_SHAPE_128, scnn_34, scnn_128
from hil.recordings import synthetic

pytestmark = pytest.mark.slow

#: name: (network, input shape, events, benchmark rounds)
CASES = {
    "poisson_34": (scnn_34, INPUT_SHAPE_34, lambda: recordings.by_name("poisson_34"), 15),
    "moving_bar_128": (scnn_128, INPUT_SHAPE_128, lambda: recordings.by_name("moving_bar_128"), 15),
    "bar_1M": (scnn_128, INPUT_SHAPE_128, lambda: synthetic.moving_bar(1e6, 1.0, sweeps=4), 5),
    "bar_10M": (scnn_128, INPUT_SHAPE_128, lambda: synthetic.moving_bar(1e6, 10.0, sweeps=40), 3),
}
OBJECT_PATH_CASES = ["poisson_34", "moving_bar_128"]
MAX_RATIO = 1.5
MAX_OBJECT_US_PER_EVENT = 2.5


@pytest.fixture(scope="module")
def device():
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])
    with open_device("sim") as device:
        device.arrays = True  # the array fast path (HIL_SIM_ARRAYS=1), opt-in for big runs
        yield device


@pytest.fixture(scope="module")
def prepared(device):
    """Per case, its deployment and events, made once."""
    made = {}

    def get(case: str):
        if case not in made:
            net, shape, events, _rounds = CASES[case]
            made[case] = device.deploy(net(), shape, monitor="all"), events()
        return made[case]

    return get


@pytest.mark.parametrize("case", CASES)
@pytest.mark.benchmark(timer=time.process_time)
def test_emulator_run(benchmark, speed_ratio, prepared, case):
    deployment, events = prepared(case)
    inputs = deployment.mapping.input_spikes(_sensor_events(events))
    config, profile = deployment.mapping.config, deployment.device.profile
    benchmark.group = f"replay-{case}"
    rounds = CASES[case][3]
    outputs = benchmark.pedantic(
        lambda: Speck(config, profile).run(inputs), rounds=rounds, warmup_rounds=1
    )
    benchmark.extra_info.update(events_in=len(inputs), events_out=len(outputs))
    speed_ratio.baseline(benchmark.group, benchmark)
    assert len(outputs) > 0


@pytest.mark.parametrize("case", CASES)
@pytest.mark.benchmark(timer=time.process_time)
def test_replay(benchmark, speed_ratio, paired_baseline, prepared, case):
    """The array fast path both ways, default settings (the 10 M-event case needs no
    timeout), the power monitor sampling."""
    deployment, events = prepared(case)
    assert deployment.device.arrays
    benchmark.group = f"replay-{case}"
    rounds = CASES[case][3]
    inputs = deployment.mapping.input_spikes(_sensor_events(events))
    config, profile = deployment.mapping.config, deployment.device.profile
    paired = paired_baseline(lambda: Speck(config, profile).run(inputs))
    run = benchmark.pedantic(
        lambda: deployment.replay(events),
        setup=None if benchmark.disabled else paired,
        rounds=rounds,
        warmup_rounds=1,
    )
    assert len(run.inputs) == len(events)
    assert len(run.outputs) > 0
    assert run.power is not None and len(run.power) > 0
    speed_ratio.ratio(benchmark.group, benchmark)
    ratio = paired.ratio(benchmark)
    if ratio is not None:
        print(f"\nreplay of {case}: {ratio:.2f}x the emulator's own run")
        assert ratio <= MAX_RATIO, f"replay of {case} is {ratio:.2f}x the emulator's own run"


@pytest.mark.parametrize("case", OBJECT_PATH_CASES)
@pytest.mark.benchmark(timer=time.process_time)
def test_replay_with_event_objects(benchmark, speed_ratio, paired_baseline, device, prepared, case):
    """samna's event objects both ways, as a real devkit sees them (the default path): its
    ratio to the emulator's own run, paired as the array path's, and its cost per event."""
    deployment, events = prepared(case)
    benchmark.group = f"replay-{case}"
    inputs = deployment.mapping.input_spikes(_sensor_events(events))
    config, profile = deployment.mapping.config, deployment.device.profile
    paired = paired_baseline(lambda: Speck(config, profile).run(inputs))
    device.arrays = False
    try:
        run = benchmark.pedantic(
            lambda: deployment.replay(events),
            setup=None if benchmark.disabled else paired,
            rounds=5,
            warmup_rounds=1,
        )
    finally:
        device.arrays = True
    ratio = paired.ratio(benchmark)
    if ratio is not None:
        print(f"\nobject-path replay of {case}: {ratio:.2f}x the emulator's own run")
    baseline_s = speed_ratio.baseline_s(benchmark.group)
    if benchmark.stats is None or baseline_s is None:
        return
    speed_ratio.ratio(benchmark.group, benchmark)
    per_event_us = (
        (benchmark.stats.stats.median - baseline_s) / (len(run.inputs) + len(run.outputs)) * 1e6
    )
    benchmark.extra_info["us_per_event"] = round(per_event_us, 3)
    print(f"\nobject path on {case}: {per_event_us:.2f} µs per event in or out")
    assert per_event_us <= MAX_OBJECT_US_PER_EVENT


def _sensor_events(events):
    return events.events if isinstance(events, recordings.Recording) else events
