"""Replay deadlines in device time: a slow host never fails a healthy device, a real chip's
timeout says what the chip was doing, and a host that fell behind is never a chip stall."""

import dataclasses
import itertools
import subprocess
import sys
import time

import numpy as np
import pytest
from test_backends import two_layer_net

import hil.emulator.samna as emulated_samna
from hil.analysis.checks import HilMeasure
from hil.backends import DeviceError, open_device, parse_device_spec, samna_outputs
from hil.backends import samna_backend as backend
from hil.backends.samna_backend import SamnaDevice
from hil.chip.profile import load_profile
from hil.emulator.devkit import FaultPlan
from hil.emulator.samna import device as emulated_devices
from hil.recordings import Recording, synthetic


@pytest.fixture(autouse=True)
def one_board():
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])
    yield
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])


@pytest.fixture
def stimulus() -> np.ndarray:
    return synthetic.poisson(20_000, 0.2, size=(16, 16), seed=1)


class HostClock:
    """The backend's view of ``time``: every look at the clock finds ``step_s`` more gone
    by, however fast the host really is; nothing may sleep."""

    def __init__(self, step_s: float) -> None:
        self._ticks = itertools.count()
        self._step_s = step_s

    def monotonic(self) -> float:
        return self._step_s * next(self._ticks)

    def sleep(self, seconds: float) -> None:
        raise AssertionError("the backend slept")

    def __getattr__(self, name):
        return getattr(time, name)


def host_clock(monkeypatch, step_s: float) -> None:
    clock = HostClock(step_s)
    for module in (backend, samna_outputs):  # the replay, and when its outputs arrived
        monkeypatch.setattr(module, "time", clock)


# --- the emulated devkit: device time ------------------------------------------------------


@pytest.mark.parametrize("arrays", [True, False])
def test_a_slow_host_never_fails_a_healthy_emulated_device(monkeypatch, stimulus, arrays):
    with open_device("sim") as device:
        device.arrays = arrays
        deployment = device.deploy(two_layer_net(), (2, 16, 16), monitor="all")
        expected = deployment.replay(stimulus).outputs
        host_clock(monkeypatch, step_s=10.0)
        run = deployment.replay(stimulus, timeout_s=1.0)
    np.testing.assert_array_equal(run.outputs, expected)
    assert not run.host_limited


def test_an_emulated_chip_busy_past_the_deadline_never_went_quiet(stimulus):
    slow = dataclasses.replace(load_profile("speck2f"), synops_per_s=(2e5,) * 9)
    with open_device("sim") as device:
        device._handle.use_profile(slow)  # the emulated chip is slower than the belief
        deployment = device.deploy(two_layer_net(), (2, 16, 16), monitor="all")
        healthy = deployment.replay(stimulus)  # default: 5 s of device time after the input
        last_input = int(healthy.inputs["t"][-1])
        assert healthy.outputs["t"].max() > last_input + 100_000  # a backlog, but it drains
        with pytest.raises(DeviceError, match="never went quiet") as info:
            deployment.replay(stimulus, timeout_s=0.1)
    message = str(info.value)
    assert "device time" in message and "ev/s" in message
    partial = info.value.partial.outputs
    assert 0 < len(partial) < len(healthy.outputs)
    assert partial["t"].max() <= last_input + 100_000


def test_an_unresponsive_emulated_chip_fails_without_waiting(monkeypatch, stimulus):
    with open_device("sim") as device:
        deployment = device.deploy(two_layer_net(), (2, 16, 16), monitor="all")
        device._handle.inject_faults(FaultPlan(unresponsive_after_events=len(stimulus) // 2))
        host_clock(monkeypatch, step_s=0.0)
        with pytest.raises(DeviceError, match="did not answer the barrier read") as info:
            deployment.replay(stimulus, timeout_s=3600, reset=False)
    assert len(info.value.partial.outputs) > 0


# --- a real devkit: wall time from the last input's release ------------------------------


@pytest.fixture
def real_like():
    """The samna backend driving a board as it drives a real one (wall-clock deadlines,
    inputs led by REAL_LEAD_US, a quiet period), with the emulated board behind it."""
    device = SamnaDevice(
        emulated_samna,
        parse_device_spec("speck2fmodule"),
        load_profile("speck2f"),
        kind="real",
        samna_version="test",
        quiet_ms=5,
        arrays=False,
    )
    yield device
    device.close()


def test_a_real_chip_replay_in_time_is_not_host_limited(monkeypatch, real_like):
    sparse = synthetic.poisson(20_000, 0.1, size=(16, 16), seed=2)
    deployment = real_like.deploy(two_layer_net(), (2, 16, 16), monitor="all")
    host_clock(monkeypatch, step_s=0.01)  # a host that writes well within the 50 ms lead
    run = deployment.replay(sparse)
    assert run.host_lag_us == 0
    assert not run.host_limited
    assert len(run.outputs) > 0
    assert run.outputs["t"].min() >= run.inputs["t"][0]  # back on the inputs' time axis


def test_a_host_behind_the_stop_watch_is_flagged_not_judged_a_stall(monkeypatch, real_like):
    crowded = synthetic.poisson(2_000_000, 0.01, size=(16, 16), seed=3)  # 20 k events in 10 ms
    deployment = real_like.deploy(two_layer_net(), (2, 16, 16), monitor="all")
    monkeypatch.setattr(backend, "WRITE_CHUNK", 1000)
    host_clock(monkeypatch, step_s=0.05)
    run = deployment.replay(crowded, timeout_s=1e3)
    assert run.host_limited
    assert run.host_lag_us > 100_000
    measure = HilMeasure()
    measure.no_stall(run)
    names = {m.name: m for m in measure.measurements}
    assert names["host_lag"].outcome == "fail"
    assert "host" in names["host_lag"].note
    assert not any(name.startswith("delay") for name in names)


def test_a_real_chip_that_stops_answering_says_since_when(monkeypatch, real_like, stimulus):
    host_clock(monkeypatch, step_s=0.01)
    deployment = real_like.deploy(two_layer_net(), (2, 16, 16), monitor="all")
    board = emulated_devices.emulated_devkit("SIM0000")
    short = stimulus[stimulus["t"] < 20_000]
    board.inject_faults(FaultPlan(unresponsive_after_events=len(short) // 2))
    with pytest.raises(DeviceError, match="after the last input was released") as info:
        deployment.replay(short, timeout_s=0.1)
    assert "no reply to the barrier read" in str(info.value)
    assert "nothing since" in str(info.value)


def test_a_real_chip_that_keeps_talking_says_at_what_rate(monkeypatch, real_like, stimulus):
    host_clock(monkeypatch, step_s=0.01)
    deployment = real_like.deploy(two_layer_net(), (2, 16, 16), monitor="all")
    sink = real_like._sink
    read = sink.get_events_blocking
    chatter = emulated_samna.speck2f.event.Spike

    def never_quiet(timeout_ms):
        return [*read(timeout_ms), chatter()]

    monkeypatch.setattr(sink, "get_events_blocking", never_quiet)
    short = stimulus[stimulus["t"] < 20_000]
    with pytest.raises(DeviceError, match="never went quiet") as info:
        deployment.replay(short, timeout_s=0.1)
    assert "outputs still arriving at" in str(info.value)


def test_readout_values_and_sensor_events_in_the_sink_do_not_keep_a_replay_from_quiet(
    monkeypatch, real_like, stimulus
):
    """A real board's sink carries a ReadoutValue every slow-clock cycle (readout on) and raw
    sensor events (pass_sensor_events): quiet is judged from the monitored spikes alone."""
    host_clock(monkeypatch, step_s=0.01)
    deployment = real_like.deploy(two_layer_net(), (2, 16, 16), monitor="all")
    sink = real_like._sink
    read = sink.get_events_blocking
    events = emulated_samna.speck2f.event

    def chatty(timeout_ms):
        return [*read(timeout_ms), events.ReadoutValue(), events.DvsEvent()]

    monkeypatch.setattr(sink, "get_events_blocking", chatty)
    short = stimulus[stimulus["t"] < 20_000]
    run = deployment.replay(short, timeout_s=0.5)
    assert len(run.outputs) > 0


def test_the_engine_is_compiled_when_a_device_opens():
    """Compiling (or loading numba's cache) happens at open, outside every replay."""
    probe = (
        "from hil.backends import open_device\n"
        "from hil.emulator import kernels\n"
        "def compiled():\n"
        "    return len(kernels.run_events.signatures), len(kernels.leak_until.signatures)\n"
        "print('BEFORE', *compiled())\n"
        "with open_device('sim'):\n"
        "    print('OPEN', *compiled())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=600, check=True
    )
    before, opened = (line.split()[1:] for line in done.stdout.splitlines()[-2:])
    assert before == ["0", "0"]
    assert "0" not in opened


def test_the_replay_command_says_a_run_was_host_limited(stimulus):
    from hil.cli.replay import _run_summary

    with open_device("sim") as device:
        run = device.deploy(two_layer_net(), (2, 16, 16), monitor="all").replay(stimulus)
    recording = Recording.from_events(stimulus, (16, 16, 2))
    healthy = dict(_run_summary(device, recording, run))
    assert "HOST-LIMITED" not in healthy
    late = dict(_run_summary(device, recording, dataclasses.replace(run, host_lag_us=25_000)))
    assert "25,000 µs" in late["HOST-LIMITED"]
    assert "not the chip's" in late["HOST-LIMITED"]
