"""speck-hil doctor on the emulated devkit: a clean board passes every check, and each fault
makes exactly its own check fail (a dead core 3 names core 3 and nothing else)."""

import numpy as np
import pytest
from fake_wall import fake_wall_clock  # noqa: F401 (the wall fixture)

from hil.backends import open_device
from hil.calibration.doctor import CHECKS, FAIL, PASS, UNKNOWN, DoctorError, run_doctor
from hil.chip.profile import ProfileError, load_profile
from hil.emulator import devkit as emulated_devkit
from hil.emulator import speck as emulated_speck
from hil.emulator.devkit import FaultPlan
from hil.emulator.samna import device as emulated_devices


@pytest.fixture(autouse=True)
def one_board():
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])
    yield
    emulated_devices.attach_emulated_devkits(["speck2fmodule@SIM0000"])


@pytest.fixture
def truth(tmp_path, monkeypatch):
    """Give the emulated board a ``[faults]`` table (HIL_SIM_PROFILE)."""

    def set_faults(text: str) -> None:
        path = tmp_path / "truth.toml"
        path.write_text(text if text.startswith("[") else f"[faults]\n{text}\n")
        monkeypatch.setenv("HIL_SIM_PROFILE", str(path))

    return set_faults


def doctor(wall, quick=True, clock=None, **kwargs):
    with open_device("sim") as device:
        return run_doctor(device, quick=quick, clock=clock or wall, sleep=wall.sleep, **kwargs)


def outcomes(report) -> dict:
    return {(f.check, f.core): f.outcome for f in report.findings}


def failed(report) -> list:
    return [(f.check, f.core) for f in report.findings if f.outcome == FAIL]


def test_a_clean_board_passes_every_check(wall):
    seen = []
    report = doctor(wall, quick=False, on_check=seen.append)
    assert sorted(seen) == sorted(CHECKS)  # progress: each check once, as it starts
    assert [f.check for f in report.findings] == [
        *CHECKS[:5],
        *["cores"] * 9,
        *CHECKS[6:],
    ]
    assert {f.outcome for f in report.findings if f.check != "unplug"} == {PASS}
    assert outcomes(report)[("unplug", None)] == UNKNOWN  # by hand: said how
    assert report.passed
    assert [f.as_dict()["core"] for f in report.findings if f.check == "cores"] == list(range(9))
    assert all(set(f.as_dict()) <= {"check", "outcome", "detail", "core"} for f in report.findings)
    facts = report.facts
    assert facts["timestamps"]["healthy"] and facts["timestamps"]["us_per_host_us"] == 1.0
    assert facts["cores"]["healthy"] == list(range(9))
    assert facts["latency_us"] == pytest.approx(1.0)
    assert facts["power"]["rails"] == ["io", "ram", "logic", "pixel_digital", "pixel_analog"]
    idle = np.array(facts["power"]["idle_w"]) - load_profile("speck2f").power.idle_w
    assert np.abs(idle).max() < 60e-6  # the monitor's offsets (±50 µW per rail) and noise
    assert set(facts["config_write_s"]) == {"one neuron", "a full core"}


def test_quick_stays_under_a_second_of_device_time(wall):
    report = doctor(wall, quick=True)
    assert report.passed
    assert report.device_s < 1.0
    assert doctor(wall, quick=False).device_s > report.device_s


def test_a_dead_core_3_fails_core_3_and_nothing_else(wall, truth):
    truth("dead_cores = [3]")
    report = doctor(wall)
    assert failed(report) == [("cores", 3)]
    (dead,) = report.failures
    assert "core 3 never fired: 0 outputs for 50 inputs" in dead.text
    assert "keep networks off core 3" in dead.as_dict()["detail"]
    assert report.facts["cores"]["healthy"] == [0, 1, 2, 4, 5, 6, 7, 8]


def test_the_timing_checks_move_to_a_healthy_core_when_theirs_is_dead(wall, truth):
    truth("dead_cores = [2, 3]")
    report = doctor(wall)
    assert failed(report) == [("cores", 2), ("cores", 3)]
    held = next(f for f in report.findings if f.check == "input_held")
    assert "on core 4" in held.detail


def test_a_missing_power_monitor_fails_the_power_check_only(wall, truth):
    truth("missing_power_monitor = true")
    report = doctor(wall)
    assert failed(report) == [("power", None)]
    assert "no power monitor" in report.failures[0].detail
    assert report.facts["power"] is None


def test_lost_spikes_fail_the_cores_exactly_and_the_stochastic_ones_within_tolerance(wall):
    with open_device("sim") as device:
        emulated_devices.emulated_devkit("SIM0000").inject_faults(
            FaultPlan(drop_probability=0.05, seed=2)
        )
        report = run_doctor(device, quick=False, clock=wall, sleep=wall.sleep)
    cores = {f.core: f for f in report.findings if f.check == "cores"}
    assert {c for c, f in cores.items() if f.outcome == FAIL} == set(range(2, 9))
    assert cores[0].outcome == cores[1].outcome == PASS
    assert "within ±10%" in cores[0].detail


def stamps_times(monkeypatch, factor: int) -> None:
    """The board's reply stamps are ``factor`` times the stop watch's µs."""
    reply = emulated_devkit.ChipModel._neuron_access

    def stamped(self, event):
        answer = reply(self, event)
        if answer is not None:
            answer.timestamp = answer.timestamp * factor
        return answer

    monkeypatch.setattr(emulated_devkit.ChipModel, "_neuron_access", stamped)


def test_zero_timestamps_fail_the_stop_watch_and_leave_the_held_input_unjudged(wall, monkeypatch):
    """Old firmware stamps every event 0."""
    stamps_times(monkeypatch, 0)
    report = doctor(wall)
    assert failed(report) == [("stop_watch", None)]
    assert "every timestamp is 0" in report.failures[0].detail
    assert outcomes(report)[("input_held", None)] == UNKNOWN


def test_a_stop_watch_not_in_microseconds_fails(wall, monkeypatch):
    stamps_times(monkeypatch, 1000)  # ns
    report = doctor(wall)
    assert failed(report) == [("stop_watch", None)]
    assert "1000 stop-watch units per host µs" in report.failures[0].detail


def test_inputs_released_before_they_are_due_fail_the_held_input_check(wall, monkeypatch):
    run = emulated_devkit.ChipModel._run

    def at_once(self, spikes):  # core 2's inputs, the timing checks' core
        spikes = spikes.copy()
        spikes["t"][spikes["layer"] == 2] = 0
        return run(self, spikes)

    monkeypatch.setattr(emulated_devkit.ChipModel, "_run", at_once)
    report = doctor(wall)
    assert failed(report) == [("input_held", None)]
    assert "released before they were due" in report.failures[0].detail


def test_a_reply_that_overtakes_held_inputs_fails_the_read_order(wall, monkeypatch):
    process = emulated_devkit.ChipModel.process

    def reads_first(self, events):
        if isinstance(events, list):
            reads = [e for e in events if hasattr(e, "address")]
            process(self, reads)
            events = [e for e in events if not hasattr(e, "address")]
        process(self, events)

    monkeypatch.setattr(emulated_devkit.ChipModel, "process", reads_first)
    report = doctor(wall)
    assert failed(report) == [("read_order", None)]
    assert "0 outputs before its reply, 5 after" in report.failures[0].detail


def test_a_slow_configuration_write_fails_the_config_write_check(wall, truth, monkeypatch):
    """The emulated board takes 1.5 s to write each configuration (the truth's [devkit])."""
    from hil.emulator import config_write

    monkeypatch.setattr(config_write, "sleep", wall.sleep)  # a read waits for the write
    truth("[devkit]\nconfig_write_us = 1.5e6")
    report = doctor(wall)
    assert failed(report) == [("config_write", None)]
    assert "one neuron 1.5e+03 ms (limit 1 s)" in report.failures[0].detail


def test_power_samples_stamped_zero_fail_the_power_check_only(wall, truth):
    """Old firmware stamps every power sample 0."""
    truth("zero_timestamps = true")
    report = doctor(wall)
    assert failed(report) == [("power", None)]
    assert "stamped all" in report.failures[0].detail and "samples 0" in report.failures[0].detail


def test_a_reset_that_keeps_the_states_fails_the_reset_check(wall, monkeypatch):
    """sinabs #148: a reset that left states explained a chip-vs-sim gap."""
    apply = emulated_devkit.ChipModel.apply_configuration

    def keeps_states(self, configuration):
        if self._speck is not None and configuration == self._configuration:
            return  # the same configuration again: states stay
        apply(self, configuration)

    monkeypatch.setattr(emulated_devkit.ChipModel, "apply_configuration", keeps_states)
    report = doctor(wall)
    assert failed(report) == [("reset", None)]
    assert "16 neurons not zero (0: 3" in report.failures[0].detail


def test_a_slow_clock_that_does_not_tick_fails_the_leak_check(wall, monkeypatch):
    monkeypatch.setattr(emulated_speck.Speck, "_leak_all_until", lambda self, t: None)
    report = doctor(wall)
    assert failed(report) == [("leak", None)]
    assert "no leak" in report.failures[0].detail


def test_a_board_that_disconnects_is_a_device_error(wall):
    from hil.backends import DeviceError

    with open_device("sim") as device:
        emulated_devices.emulated_devkit("SIM0000").inject_faults(
            FaultPlan(disconnect_after_events=100)
        )
        with pytest.raises(DeviceError, match="disconnected"):
            run_doctor(device, quick=True, clock=wall, sleep=wall.sleep)


def test_software_devices_have_no_board_to_test():
    with open_device("sinabs") as device, pytest.raises(DoctorError, match="no board to test"):
        run_doctor(device)


@pytest.mark.parametrize(
    ("faults", "message"),
    [
        ("dead_cores = [9]", "faults.dead_cores: no core 9"),
        ("dead_cores = 3", "faults.dead_cores must be a list"),
        ("missing_power_monitor = 1", "faults.missing_power_monitor must be true or false"),
        ("dead = [1]", "faults.dead is not a fault"),
    ],
)
def test_bad_faults_are_refused_naming_the_field(tmp_path, faults, message):
    path = tmp_path / "truth.toml"
    path.write_text(f"[faults]\n{faults}\n")
    with pytest.raises(ProfileError, match=message):
        load_profile("speck2f", override=path)


def chain_config():
    """Core 0 (monitored) feeds core 1 (monitored): one spike in gives one out of each."""
    import hil.emulator.samna as samna

    config = samna.speck2f.configuration.SpeckConfiguration()
    for index in (0, 1):
        core = config.cnn_layers[index]
        core.dimensions = {
            "input_shape": {"size": {"x": 1, "y": 1}, "feature_count": 1},
            "output_shape": {"size": {"x": 1, "y": 1}, "feature_count": 1},
            "kernel_size": 1,
        }
        core.weights, core.biases = [[[[1]]]], [0]
        core.neurons_initial_value = [[[0]]]
        core.threshold_high, core.threshold_low = 1, -1
        core.monitor_enable = True
    config.cnn_layers[0].destinations = [{"layer": 1, "enable": True}, {}]
    return config


@pytest.mark.parametrize(("dead", "cores_out"), [("", [0, 1]), ("dead_cores = [0]", [])])
def test_a_dead_core_emits_nothing_and_routes_nothing_on(truth, dead, cores_out):
    from hil.emulator.speck import Speck
    from hil.emulator.truth import emulated_profile
    from hil.events import SPIKE_DTYPE

    truth(dead)
    chip = Speck(chain_config(), emulated_profile("speck2f"))
    outputs = chip.run(np.array([(0, 0, 0, 0, 10)], dtype=SPIKE_DTYPE))
    assert sorted(outputs["layer"].tolist()) == cores_out
