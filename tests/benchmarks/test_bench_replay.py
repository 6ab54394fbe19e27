"""What driving the emulated devkit through samna's API costs beyond the emulator's compute."""

import pytest

from fixtures.models import INPUT_SHAPE_34, scnn_34
from hil import recordings
from hil.backends import open_device
from hil.emulator import Speck
from hil.emulator.samna import device as emulated_devices

pytestmark = pytest.mark.slow
GROUP = "replay-overhead"


@pytest.fixture(scope="module")
def deployment():
    emulated_devices.attach_emulated_devkits(["speck2fmodule"])
    with open_device("sim") as device:
        yield device.deploy(scnn_34(), INPUT_SHAPE_34, monitor="all")


@pytest.fixture(scope="module")
def recording():
    return recordings.by_name("poisson_34")


@pytest.mark.benchmark(group=GROUP)
def test_emulator_compute_alone(benchmark, deployment, recording, speed_ratio):
    inputs = deployment.mapping.input_spikes(recording.events)
    config, profile = deployment.mapping.config, deployment.device.profile
    outputs = benchmark.pedantic(
        lambda: Speck(config, profile).run(inputs), rounds=5, iterations=1, warmup_rounds=1
    )
    speed_ratio.baseline(GROUP, benchmark)
    assert len(outputs) > 0


@pytest.mark.benchmark(group=GROUP)
def test_replay_on_the_emulated_devkit(benchmark, deployment, recording, speed_ratio):
    run = benchmark.pedantic(
        lambda: deployment.replay(recording), rounds=5, iterations=1, warmup_rounds=1
    )
    assert len(run.outputs) > 0
    ratio = speed_ratio.ratio(GROUP, benchmark)
    if ratio is not None:
        compute_s = benchmark.stats.stats.median / ratio
        overhead_s = benchmark.stats.stats.median - compute_s
        per_event_us = overhead_s / (len(run.inputs) + len(run.outputs)) * 1e6
        benchmark.extra_info["overhead_s"] = round(overhead_s, 4)
        benchmark.extra_info["overhead_us_per_event"] = round(per_event_us, 3)
        print(
            f"\nreplay overhead {overhead_s * 1e3:.0f} ms per call "
            f"({per_event_us:.2f} µs per event in or out; {len(run.inputs)} in, "
            f"{len(run.outputs)} out)"
        )
